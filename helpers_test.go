package sqlaudit_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/lib/pq"
	_ "github.com/mattn/go-sqlite3"

	_ "github.com/sqlaudit/sqlaudit/auditmysql"
	_ "github.com/sqlaudit/sqlaudit/auditpgx"
	_ "github.com/sqlaudit/sqlaudit/auditpq"
	_ "github.com/sqlaudit/sqlaudit/auditsqlite3"
)

// auditDrivers are the registered audit drivers every end-to-end test runs on.
var auditDrivers = []string{"audit-postgres", "audit-pgx", "audit-sqlite3", "audit-mysql"}

// plainDriver is the underlying driver of each audit driver.
var plainDriver = map[string]string{"audit-postgres": "postgres", "audit-pgx": "pgx", "audit-sqlite3": "sqlite3", "audit-mysql": "mysql"}

func isSQLite(driverName string) bool { return strings.Contains(driverName, "sqlite") }
func isMySQL(driverName string) bool  { return strings.Contains(driverName, "mysql") }

// mysqlServer is the MariaDB server the tests use (a go-sql-driver DSN
// without a database); SQLAUDIT_MYSQL_DSN overrides it.
func mysqlServer() string {
	if s := os.Getenv("SQLAUDIT_MYSQL_DSN"); s != "" {
		return s
	}
	return "root@tcp(127.0.0.1:3306)/"
}

// mustMySQLDatabase creates the test's own MariaDB database and returns
// its name and a DSN for it.
func mustMySQLDatabase(t testing.TB) (name, dsn string) {
	t.Helper()
	name = fmt.Sprintf("sqa_%d_%d", time.Now().UnixNano()%1e9, schemaSeq.Add(1))
	admin, err := sql.Open("mysql", mysqlServer())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database (is MariaDB running? SQLAUDIT_MYSQL_DSN=%s): %v", mysqlServer(), err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP DATABASE " + name)
		admin.Close()
	})
	return name, mysqlServer() + name + "?loc=UTC"
}

// pgURL is the PostgreSQL server the tests use; SQLAUDIT_PG_URL overrides it.
func pgURL() string {
	if u := os.Getenv("SQLAUDIT_PG_URL"); u != "" {
		return u
	}
	return "postgres://postgres@localhost:5432/postgres?sslmode=disable"
}

var schemaSeq atomic.Int64

// testDB is one test's own database: a fresh PostgreSQL schema (first on the
// search_path) or a fresh SQLite file.
type testDB struct {
	driver string
	name   string  // PostgreSQL: the test's schema
	dsn    string  // for the audit driver (without audit_* parameters)
	plain  *sql.DB // the same data through the plain driver
}

// mustOpen gives the test its own database and returns the audited handle
// (opened with dsnParams appended, e.g. "audit_table=x") and the testDB.
func mustOpen(t testing.TB, driverName string, dsnParams ...string) (*sql.DB, *testDB) {
	t.Helper()
	td := &testDB{driver: driverName}
	switch {
	case isSQLite(driverName):
		td.dsn = "file:" + filepath.Join(t.TempDir(), "test.db") + "?_busy_timeout=10000"
	case isMySQL(driverName):
		td.name, td.dsn = mustMySQLDatabase(t)
	default:
		schema := fmt.Sprintf("sqa_%d_%d", time.Now().UnixNano()%1e9, schemaSeq.Add(1))
		admin, err := sql.Open("postgres", pgURL())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
			t.Fatalf("create schema (is PostgreSQL running? SQLAUDIT_PG_URL=%s): %v", pgURL(), err)
		}
		t.Cleanup(func() {
			admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
			admin.Close()
		})
		td.dsn, td.name = pgURL()+"&search_path="+schema, schema
	}
	var err error
	if td.plain, err = sql.Open(plainDriver[driverName], td.dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { td.plain.Close() })
	dsn := td.dsn
	for _, p := range dsnParams {
		dsn += "&" + p
	}
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	return db, td
}

// schema is the test's own PostgreSQL schema.
func (td *testDB) schema() string { return td.name }

// mustExec runs statements through db and fails the test on error.
func mustExec(t testing.TB, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// record is one audit_log row as the tests read it back.
type record struct {
	ID       int64
	TxID     int64
	Actor    *string
	Action   string
	Table    string
	RowKey   map[string]any
	Old, New map[string]any
	Metadata map[string]any
	Query    string
}

// trail reads the audit table through the plain driver, oldest first,
// records with id > since only.
func (td *testDB) trail(t testing.TB, table string, since int64) []record {
	t.Helper()
	rows, err := td.plain.Query(fmt.Sprintf(`SELECT id, tx_id, actor, action, table_name, row_key, old_values, new_values, metadata, query FROM %s WHERE id > %d ORDER BY id`, table, since))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []record
	for rows.Next() {
		var r record
		var actor sql.NullString
		var key string
		var old, new, meta sql.NullString
		if err := rows.Scan(&r.ID, &r.TxID, &actor, &r.Action, &r.Table, &key, &old, &new, &meta, &r.Query); err != nil {
			t.Fatal(err)
		}
		if actor.Valid {
			r.Actor = &actor.String
		}
		// The test's own schema stands where an application's public schema
		// would: its tables are read back unqualified.
		r.Table = strings.TrimPrefix(r.Table, td.name+".")
		r.RowKey = decodeJSON(t, key)
		r.Old, r.New, r.Metadata = decodeNull(t, old), decodeNull(t, new), decodeNull(t, meta)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func (td *testDB) maxID(t testing.TB, table string) int64 {
	t.Helper()
	var id sql.NullInt64
	if err := td.plain.QueryRow(`SELECT max(id) FROM ` + table).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id.Int64
}

func decodeJSON(t testing.TB, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader([]byte(s)))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("bad JSON %q: %v", s, err)
	}
	return m
}

func decodeNull(t testing.TB, s sql.NullString) map[string]any {
	if !s.Valid {
		return nil
	}
	return decodeJSON(t, s.String)
}

// snapshot is a table's rows as the database renders them to JSON
// (to_jsonb on PostgreSQL, json_object on SQLite), by row key.
type snapshot map[string]map[string]any

// snap reads table through the plain driver; key names its key columns.
func (td *testDB) snap(t testing.TB, table string, key ...string) snapshot {
	t.Helper()
	q := `SELECT to_jsonb(x)::text FROM ` + table + ` x`
	if isMySQL(td.driver) {
		q = td.mysqlSnapQuery(t, table)
	}
	if isSQLite(td.driver) {
		cols := td.sqliteColumns(t, table)
		parts := make([]string, 0, 2*len(cols))
		for _, c := range cols {
			// The record's rendering: json_object cannot hold a BLOB, so blobs are hex text.
			lit, id := "'"+strings.ReplaceAll(c, "'", "''")+"'", `"`+strings.ReplaceAll(c, `"`, `""`)+`"`
			parts = append(parts, lit, `CASE WHEN typeof(`+id+`) = 'blob' THEN hex(`+id+`) ELSE `+id+` END`)
		}
		q = `SELECT json_object(` + strings.Join(parts, ", ") + `) FROM ` + table
	}
	rows, err := td.plain.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := snapshot{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		row := decodeJSON(t, s)
		out[keyOf(row, key)] = row
	}
	return out
}

// mysqlSnapQuery renders rows as the MySQL records do: JSON_OBJECT, with
// binary strings as hex and BIT as a number.
func (td *testDB) mysqlSnapQuery(t testing.TB, table string) string {
	rows, err := td.plain.Query(`SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, strings.Trim(table, "`\""))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var c, typ string
		rows.Scan(&c, &typ)
		v := "`" + strings.ReplaceAll(c, "`", "``") + "`"
		switch typ {
		case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
			v = "HEX(" + v + ")"
		case "bit":
			v = "(" + v + " + 0)"
		}
		parts = append(parts, "'"+strings.ReplaceAll(c, "'", "''")+"'", v)
	}
	return `SELECT JSON_OBJECT(` + strings.Join(parts, ", ") + `) FROM ` + table
}

func (td *testDB) sqliteColumns(t testing.TB, table string) []string {
	rows, err := td.plain.Query(`SELECT name FROM pragma_table_info(?) ORDER BY cid`, strings.Trim(table, `"`))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		rows.Scan(&c)
		cols = append(cols, c)
	}
	return cols
}

func keyOf(row map[string]any, key []string) string {
	k := map[string]any{}
	for _, c := range key {
		k[c] = row[c]
	}
	b, _ := json.Marshal(k)
	return string(b)
}

// expected computes the trail a change from before to after must produce:
// the differential oracle.
func expected(table string, before, after snapshot) []record {
	var out []record
	for k, old := range before {
		nw, ok := after[k]
		switch {
		case !ok:
			out = append(out, record{Action: "DELETE", Table: table, Old: old})
		case !reflect.DeepEqual(old, nw):
			o, n := map[string]any{}, map[string]any{}
			for c, v := range old {
				if !reflect.DeepEqual(v, nw[c]) {
					o[c], n[c] = v, nw[c]
				}
			}
			out = append(out, record{Action: "UPDATE", Table: table, Old: o, New: n})
		}
	}
	for k, nw := range after {
		if _, ok := before[k]; !ok {
			out = append(out, record{Action: "INSERT", Table: table, New: nw})
		}
	}
	return out
}

// assertTrail checks that got holds exactly the records of want (in any
// order), comparing action, table and values, and that every record's key
// matches its row.
func assertTrail(t testing.TB, got, want []record) {
	t.Helper()
	canon := func(rs []record) []string {
		var out []string
		for _, r := range rs {
			b, _ := json.Marshal([]any{r.Action, r.Table, r.Old, r.New})
			out = append(out, string(b))
		}
		sort.Strings(out)
		return out
	}
	g, w := canon(got), canon(want)
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("trail differs from the true difference\n got: %s\nwant: %s", strings.Join(g, "\n      "), strings.Join(w, "\n      "))
	}
}

// replay applies records to before, in order, and returns the result; it
// fails the test when an UPDATE or DELETE record's old values differ from
// the replayed row.
func replay(t testing.TB, before snapshot, recs []record, key ...string) snapshot {
	t.Helper()
	state := snapshot{}
	for k, v := range before {
		state[k] = v
	}
	for _, r := range recs {
		k := keyOf(r.RowKey, key)
		switch r.Action {
		case "INSERT":
			state[keyOf(r.New, key)] = r.New
		case "DELETE":
			if !reflect.DeepEqual(state[k], r.Old) {
				t.Fatalf("record %d: DELETE old values %v, replayed row %v", r.ID, r.Old, state[k])
			}
			delete(state, k)
		case "UPDATE":
			row := map[string]any{}
			for c, v := range state[k] {
				row[c] = v
			}
			for c, v := range r.Old {
				if !reflect.DeepEqual(row[c], v) {
					t.Fatalf("record %d: UPDATE old %s=%v, replayed row has %v", r.ID, c, v, row[c])
				}
				row[c] = r.New[c]
			}
			delete(state, k)
			state[keyOf(row, key)] = row
		}
	}
	return state
}

// checkChange runs change and proves the trail it wrote on table exact:
// equal to the true difference of snapshots, and replaying to the final state.
func checkChange(t testing.TB, td *testDB, table string, key []string, change func()) []record {
	t.Helper()
	return checkChangeKeyed(t, td, "audit_log", table, key, change)
}

// checkChangeIn is checkChange for an audit table other than audit_log, on a
// table keyed by id.
func checkChangeIn(t testing.TB, td *testDB, auditTable, table string, change func()) []record {
	t.Helper()
	return checkChangeKeyed(t, td, auditTable, table, []string{"id"}, change)
}

func checkChangeKeyed(t testing.TB, td *testDB, auditTable, table string, key []string, change func()) []record {
	t.Helper()
	since := td.maxID(t, auditTable)
	before := td.snap(t, table, key...)
	change()
	after := td.snap(t, table, key...)
	got := td.trail(t, auditTable, since)
	assertTrail(t, got, expected(strings.Trim(table, "\"`"), before, after))
	if final := replay(t, before, got, key...); !reflect.DeepEqual(final, after) {
		t.Fatalf("replaying the trail gives\n%v\nwant\n%v", final, after)
	}
	return got
}
