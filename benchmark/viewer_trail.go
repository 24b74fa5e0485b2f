package benchmark

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The viewer benchmark's trail: n synthetic records written straight into
// an audit table made by sqlaudit.DDL (writing a million records through
// the audit driver would measure the writes, not the reading). Record i
// (from 1) belongs to transaction k = (i-1)/10, ten records each; its
// tx_id is the id of its first record, as on SQLite. Actors user0…user49
// take turns by transaction (2% each) except every 10,000th, which is
// "auditor" (0.01%); tables orders, order_lines, customers, products and
// payments take turns by record; six in ten records are UPDATEs, two
// INSERTs, two DELETEs; row keys cycle through 100,000 ids; metadata holds
// request_id "req-k"; occurred_at advances 1 ms a record.

// Viewer trail facts the measurements use.
const (
	viewerTxSize    = 10
	viewerRareActor = "auditor"
)

// viewerTrail is one database holding the generated trail.
type viewerTrail struct {
	d   *dialect
	dsn string // for the audit drivers (SQLite: see dsnFor)
	// sqliteFile and sqliteParams make a SQLite trail's DSN for each
	// SQLite driver, in its own parameter form (dsnFor)
	sqliteFile, sqliteParams string
	plain                    *sql.DB // writes the trail and the indexes
	admin                    *sql.DB // PostgreSQL, MariaDB: owns the schema or database
	name                     string  // the schema, database or file
	cleanup                  func()
	// withIndexes: the reading indexes have been created
	withIndexes bool
	// shipped: the audit table has sqlaudit's DDL as shipped, its reading
	// indexes included (the reading benchmark); else the primary key alone
	// (the viewer benchmark adds its own indexes)
	shipped bool
	// txBase is added to the generated tx_ids, clear of the transaction
	// ids a PostgreSQL server hands out to real writes (the reading
	// benchmark writes some)
	txBase int64
}

// makeViewerTrail creates the schema, database or file of d and fills its
// audit table with n records.
func makeViewerTrail(ctx context.Context, cfg Config, spec *driverSpec, n int) (*viewerTrail, error) {
	return makeTrail(ctx, cfg, spec, n, &viewerTrail{d: spec.d, name: fmt.Sprintf("sqab_viewer_%d_%s", os.Getpid(), spec.name)})
}

// makeTrail makes v's database and fills its trail (see makeViewerTrail).
func makeTrail(ctx context.Context, cfg Config, spec *driverSpec, n int, v *viewerTrail) (*viewerTrail, error) {
	var err error
	switch {
	case spec.d.pg || spec.d.my:
		if v.admin, err = openPool(spec.plain, map[bool]string{true: cfg.MySQLDSN, false: cfg.PGURL}[spec.d.my]); err != nil {
			return nil, err
		}
		if _, err := v.admin.ExecContext(ctx, dropStmt(spec.d, v.name)); err != nil {
			return nil, fmt.Errorf("%s server: %w", spec.name, err)
		}
		create := map[bool]string{true: "CREATE DATABASE ", false: "CREATE SCHEMA "}[spec.d.my] + v.name
		if _, err := v.admin.ExecContext(ctx, create); err != nil {
			return nil, err
		}
		v.cleanup = func() { v.admin.Exec(dropStmt(spec.d, v.name)); v.admin.Close() }
		if spec.d.my {
			v.dsn, err = mysqlDSN(cfg.MySQLDSN, v.name)
		} else {
			v.dsn = withParam(cfg.PGURL, "search_path", v.name)
		}
	default:
		dir := cfg.Dir
		if dir == "" {
			if dir, err = os.MkdirTemp("", "sqlaudit-viewer-"); err != nil {
				return nil, err
			}
			v.cleanup = func() { os.RemoveAll(dir) }
		} else {
			path := filepath.Join(dir, v.name+".db")
			v.cleanup = func() {
				for _, s := range []string{"", "-wal", "-shm"} {
					os.Remove(path + s)
				}
			}
		}
		v.sqliteFile, v.sqliteParams = filepath.Join(dir, v.name+".db"), cfg.SQLiteParams
		v.dsn = v.dsnFor(spec)
	}
	if err != nil {
		v.close()
		return nil, err
	}
	if v.plain, err = openPool(spec.plain, v.dsn); err != nil {
		v.close()
		return nil, err
	}
	if err := v.fill(ctx, n); err != nil {
		v.close()
		return nil, fmt.Errorf("generating the trail: %w", err)
	}
	return v, nil
}

// dsnFor is the trail's DSN for driver d, for SQLite in d's own form of the
// DSN parameters (the pure-Go drivers read _pragma=name(value), see pragmaParams).
func (v *viewerTrail) dsnFor(d *driverSpec) string {
	if v.sqliteFile == "" {
		return v.dsn
	}
	return "file:" + v.sqliteFile + "?" + d.dsnParams(v.sqliteParams)
}

func (v *viewerTrail) close() {
	if v.plain != nil {
		v.plain.Close()
	}
	if v.cleanup != nil {
		v.cleanup()
	}
}

// fill writes the audit table and n records in chunks of 100,000.
func (v *viewerTrail) fill(ctx context.Context, n int) error {
	ddl := bareAuditDDL(v.d, "audit_log")
	if v.shipped {
		ddl = auditDDL(v.d, "audit_log")
	}
	for _, s := range ddl {
		if _, err := v.plain.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%.60s: %w", s, err)
		}
	}
	const chunk = 100000
	for lo := 1; lo <= n; lo += chunk {
		hi := min(lo+chunk-1, n)
		if _, err := v.plain.ExecContext(ctx, v.insert(lo, hi)); err != nil {
			return err
		}
	}
	switch {
	case v.d.pg:
		_, err := v.plain.ExecContext(ctx, "ANALYZE audit_log")
		return err
	case v.d.my: // the ids were given: the audit driver's sequence starts after them
		_, err := v.plain.ExecContext(ctx, fmt.Sprintf("SELECT SETVAL(audit_log_seq, %d)", n+1))
		if err == nil {
			_, err = v.plain.ExecContext(ctx, "ANALYZE TABLE audit_log")
		}
		return err
	}
	_, err := v.plain.ExecContext(ctx, "ANALYZE")
	return err
}

// insert writes records lo … hi; i is the record number, k its transaction.
func (v *viewerTrail) insert(lo, hi int) string {
	k := "((i - 1) / 10)"
	if v.d.my {
		k = "((i - 1) DIV 10)"
	}
	cat := func(parts ...string) string { // string concatenation
		if v.d.my {
			return "CONCAT(" + strings.Join(parts, ", ") + ")"
		}
		return strings.Join(parts, " || ")
	}
	str := func(e string) string { // an integer expression as text
		if v.d.pg {
			return "(" + e + ")::text"
		}
		return "CAST(" + e + " AS CHAR)"
	}
	if v.d.name == "sqlite" {
		str = func(e string) string { return "CAST(" + e + " AS TEXT)" }
	}
	table := "CASE i % 5 WHEN 0 THEN 'orders' WHEN 1 THEN 'order_lines' WHEN 2 THEN 'customers' WHEN 3 THEN 'products' ELSE 'payments' END"
	action := "CASE WHEN i % 10 < 6 THEN 'UPDATE' WHEN i % 10 < 8 THEN 'INSERT' ELSE 'DELETE' END"
	actor := "CASE WHEN " + k + " % 10000 = 0 THEN '" + viewerRareActor + "' ELSE " + cat("'user'", str(k+" % 50")) + " END"
	key := cat(`'{"id":'`, str("i % 100000"), `'}'`)
	row := cat(`'{"id":'`, str("i % 100000"), `',"price":'`, str("i % 1000"), `',"qty":'`, str("i % 7"), `',"note":"item '`, str("i"), `'"}'`)
	old := "CASE WHEN i % 10 < 6 THEN " + cat(`'{"price":'`, str("i % 1000"), `'}'`) + " WHEN i % 10 >= 8 THEN " + row + " END"
	new := "CASE WHEN i % 10 < 6 THEN " + cat(`'{"price":'`, str("i % 1000 + 1"), `'}'`) + " WHEN i % 10 < 8 THEN " + row + " END"
	meta := cat(`'{"request_id":"req-'`, str(k), `'"}'`)
	query := cat("'UPDATE '", table, "' SET price = price + 1 WHERE id = ?'")
	txID := fmt.Sprintf("%d + %s * 10 + 1", v.txBase, k)
	cols := "tx_id, occurred_at, actor, action, table_name, row_key, old_values, new_values, metadata, query"
	switch {
	case v.d.pg:
		j := func(e string) string { return "(" + e + ")::jsonb" }
		return fmt.Sprintf(`INSERT INTO audit_log (%s) SELECT %s, timestamptz '2026-01-01 00:00:00+00' + i * interval '1 millisecond', %s, %s, %s, %s, %s, %s, %s, %s
			FROM generate_series(%d, %d) AS g(i) ORDER BY i`, cols, txID, actor, action, table, j(key), j(old), j(new), j(meta), query, lo, hi)
	case v.d.my:
		return fmt.Sprintf(`INSERT INTO audit_log (id, %s) SELECT i, %s, TIMESTAMP'2026-01-01 00:00:00' + INTERVAL i * 1000 MICROSECOND, %s, %s, %s, %s, %s, %s, %s, %s
			FROM (SELECT seq AS i FROM seq_%d_to_%d) AS g`, cols, txID, actor, action, table, key, old, new, meta, query, lo, hi)
	}
	return fmt.Sprintf(`WITH RECURSIVE g(i) AS (SELECT %d UNION ALL SELECT i + 1 FROM g WHERE i < %d)
		INSERT INTO audit_log (id, %s) SELECT i, %s, strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', '2026-01-01', '+' || (i / 1000.0) || ' seconds'), %s, %s, %s, %s, %s, %s, %s, %s FROM g`,
		lo, hi, cols, txID, actor, action, table, key, old, new, meta, query)
}

// readingIndexes are the indexes the viewer's queries would use, created by
// the benchmark for its second pass (the audit table's DDL has only the
// primary key, and on MariaDB an index on tx_id). MariaDB indexes a prefix
// of TEXT columns, and its row_key is JSON text that the key filter reads
// with JSON_VALUE, which no plain index serves.
func readingIndexes(d *dialect) []string {
	switch {
	case d.my:
		return []string{
			"CREATE INDEX audit_log_actor_id ON audit_log (actor(100), id)",
			"CREATE INDEX audit_log_table_id ON audit_log (table_name, id)",
			"CREATE INDEX audit_log_occurred ON audit_log (occurred_at)",
		}
	}
	out := []string{
		"CREATE INDEX audit_log_tx ON audit_log (tx_id)",
		"CREATE INDEX audit_log_actor_id ON audit_log (actor, id)",
		"CREATE INDEX audit_log_table_id ON audit_log (table_name, id)",
		"CREATE INDEX audit_log_occurred ON audit_log (occurred_at)",
	}
	if d.pg {
		return append(out, "CREATE INDEX audit_log_row ON audit_log (table_name, row_key)", "ANALYZE audit_log")
	}
	return append(out, "CREATE INDEX audit_log_row ON audit_log (table_name, json_extract(row_key, '$.\"id\"'))", "ANALYZE")
}
