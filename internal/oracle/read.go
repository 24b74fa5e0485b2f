package oracle

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
)

// Dialect is the kind of database a [DB] reads; it chooses the snapshot
// query.
type Dialect int

// The dialects of the audit drivers.
const (
	PostgreSQL Dialect = iota // audit-pgx, audit-postgres
	SQLite                    // audit-sqlite3
	MySQL                     // audit-mysql (MariaDB)
)

// Quote is name as a quoted identifier of d: backquotes on MySQL, double
// quotes otherwise, with the quote character doubled inside.
func (d Dialect) Quote(name string) string {
	q := `"`
	if d == MySQL {
		q = "`"
	}
	return q + strings.ReplaceAll(name, q, q+q) + q
}

// DB is one test's database read through the plain (unaudited) driver: the
// truth the records are checked against.
type DB struct {
	Plain   *sql.DB // the plain driver's handle
	Dialect Dialect
	// Schema is removed, with a following ".", from the front of each
	// record's table name by Since: the test's own schema stands where an
	// application's default schema would.
	Schema string
}

// MaxID is the largest id in the audit table auditTable (written into the
// query as given), 0 when it is empty: Since(t, auditTable, MaxID(...))
// reads the records written after the call.
func (d DB) MaxID(t testing.TB, auditTable string) int64 {
	t.Helper()
	var id sql.NullInt64
	if err := d.Plain.QueryRow(`SELECT max(id) FROM ` + auditTable).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id.Int64
}

// Since reads the records of the audit table auditTable (written into the
// query as given) with id > since, oldest first. It fails the test when
// the table cannot be read or a JSON column does not decode.
func (d DB) Since(t testing.TB, auditTable string, since int64) []Record {
	t.Helper()
	rows, err := d.Plain.Query(fmt.Sprintf(`SELECT id, tx_id, actor, action, table_name, row_key, old_values, new_values, metadata, query FROM %s WHERE id > %d ORDER BY id`, auditTable, since))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var r Record
		var actor, old, nw, meta sql.NullString
		var key string
		if err := rows.Scan(&r.ID, &r.TxID, &actor, &r.Action, &r.Table, &key, &old, &nw, &meta, &r.Query); err != nil {
			t.Fatal(err)
		}
		if actor.Valid {
			r.Actor = &actor.String
		}
		r.Table = strings.TrimPrefix(r.Table, d.Schema+".")
		r.RowKey = Decode(t, key)
		r.Old, r.New, r.Metadata = decodeNull(t, old), decodeNull(t, nw), decodeNull(t, meta)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func decodeNull(t testing.TB, s sql.NullString) map[string]any {
	t.Helper()
	if !s.Valid {
		return nil
	}
	return Decode(t, s.String)
}

// Snap reads every row of table, keyed by the columns key, as the database
// renders it and as the records render rows: to_jsonb on PostgreSQL;
// json_object over the table's columns on SQLite, BLOBs as hex text;
// JSON_OBJECT over the columns on MariaDB, binary strings and BLOBs as hex,
// BIT as a number, FLOAT exactly (as a DOUBLE). table is written into the
// query as given (it may be quoted or schema-qualified); the catalog lookups
// of SQLite and MariaDB use it with quotes trimmed. It fails the test when the table cannot be
// read, including when it does not exist.
func (d DB) Snap(t testing.TB, table string, key ...string) Snapshot {
	t.Helper()
	return d.snap(t, table, key, true)
}

// SnapIfExists is Snap, except that it returns nil when table does not
// exist (on PostgreSQL, when to_regclass(table) is NULL; on SQLite and
// MariaDB, when the catalog lists no column of it).
func (d DB) SnapIfExists(t testing.TB, table string, key ...string) Snapshot {
	t.Helper()
	return d.snap(t, table, key, false)
}

func (d DB) snap(t testing.TB, table string, key []string, mustExist bool) Snapshot {
	t.Helper()
	name := strings.Trim(table, "`\"")
	var q string
	switch d.Dialect {
	case MySQL:
		q = d.mysqlSnapQuery(t, name, table)
	case SQLite:
		q = d.sqliteSnapQuery(t, name, table)
	default:
		if !mustExist {
			var exists bool
			if err := d.Plain.QueryRow(`SELECT to_regclass($1) IS NOT NULL`, table).Scan(&exists); err != nil {
				t.Fatal(err)
			}
			if !exists {
				return nil
			}
		}
		q = `SELECT to_jsonb(x)::text FROM ` + table + ` x`
	}
	if q == "" {
		if mustExist {
			t.Fatalf("snapshot of %s: no such table", table)
		}
		return nil
	}
	rows, err := d.Plain.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := Snapshot{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		row := Decode(t, s)
		out[Key(row, key)] = row
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// mysqlSnapQuery renders the rows of table (name unquoted) as the MySQL
// records do: JSON_OBJECT of every column, binary strings and BLOBs as
// HEX(col), BIT as col + 0, FLOAT as the DOUBLE it holds exactly
// (JSON_OBJECT prints a FLOAT with 6 significant digits, which would hide
// changes from the truth too). It is "" when the table has no column (does
// not exist).
func (d DB) mysqlSnapQuery(t testing.TB, name, table string) string {
	t.Helper()
	rows, err := d.Plain.Query(`SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, name)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var c, typ string
		if err := rows.Scan(&c, &typ); err != nil {
			t.Fatal(err)
		}
		v := "`" + strings.ReplaceAll(c, "`", "``") + "`"
		switch typ {
		case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
			v = "HEX(" + v + ")"
		case "bit":
			v = "(" + v + " + 0)"
		case "float":
			v = "CAST(" + v + " AS DOUBLE)"
		}
		parts = append(parts, "'"+strings.ReplaceAll(c, "'", "''")+"'", v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(parts) == 0 {
		return ""
	}
	return `SELECT JSON_OBJECT(` + strings.Join(parts, ", ") + `) FROM ` + table
}

// sqliteSnapQuery renders the rows of table (name unquoted) as the SQLite
// records do: json_object of every column, BLOBs as hex text (json_object
// cannot hold a BLOB). It is "" when the table has no column (does not
// exist).
func (d DB) sqliteSnapQuery(t testing.TB, name, table string) string {
	t.Helper()
	rows, err := d.Plain.Query(`SELECT name FROM pragma_table_info(?) ORDER BY cid`, name)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		lit, id := "'"+strings.ReplaceAll(c, "'", "''")+"'", `"`+strings.ReplaceAll(c, `"`, `""`)+`"`
		parts = append(parts, lit, `CASE WHEN typeof(`+id+`) = 'blob' THEN hex(`+id+`) ELSE `+id+` END`)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(parts) == 0 {
		return ""
	}
	return `SELECT json_object(` + strings.Join(parts, ", ") + `) FROM ` + table
}
