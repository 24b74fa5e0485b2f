package sqlaudit

import (
	"context"
	"database/sql/driver"
	"fmt"

	"strings"
	"time"
)

// SQLite audits SQLite through mattn/go-sqlite3. SQLite runs one writer at a
// time, so reading the old rows, running the statement and writing the
// records inside one transaction (the caller's, under a savepoint, or the
// wrapper's own BEGIN IMMEDIATE) is exact. Old rows are copied into a
// per-connection TEMP table, set-based. The connection's last_insert_rowid()
// and changes() are left as the caller's statement set them: INSERT records
// go through a TEMP view whose INSTEAD OF trigger writes the audit table
// (inserts inside a trigger do not count), UPDATE and DELETE records are
// inserted set-based and last_insert_rowid() is set back by inserting that
// rowid into a TEMP table; the last statement deletes as many rows from a
// WITHOUT ROWID TEMP table as the caller's statement changed, which leaves
// changes() at that number.
var SQLite Dialect = sqliteDialect{}

type sqliteDialect struct{}

func (sqliteDialect) Name() string { return "sqlite" }

// oneByOne: go-sqlite3 runs each statement of a string on its own (each in
// autocommit outside a transaction), with its share of the arguments.
func (sqliteDialect) oneByOne() bool { return true }

// commitAmbiguous: SQLite commits in-process; an error means it did not.
func (sqliteDialect) commitAmbiguous(error) bool { return false }

func (sqliteDialect) lexStyle() lexStyle         { return styleSQLite }
func (sqliteDialect) analyse(q string) *analysis { return analyse(q, styleSQLite) }
func (sqliteDialect) ident(s string) string      { return quoteIdent(s) }
func (sqliteDialect) keywordDSN() bool           { return false }

func (sqliteDialect) auditDDL(table string) []string {
	return []string{`CREATE TABLE IF NOT EXISTS ` + table + ` (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tx_id       INTEGER NOT NULL,
    occurred_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    actor       TEXT,
    action      TEXT    NOT NULL CHECK (action IN ('INSERT', 'UPDATE', 'DELETE')),
    table_name  TEXT    NOT NULL,
    row_key     TEXT    NOT NULL,
    old_values  TEXT,
    new_values  TEXT,
    metadata    TEXT,
    query       TEXT    NOT NULL
)`}
}

func (sqliteDialect) sealing(audit, seal tableRef) sealSQL {
	return sealSQL{
		ddl:       []string{`CREATE TABLE IF NOT EXISTS ` + seal.spelled() + ` (seq INTEGER PRIMARY KEY, record_id INTEGER NOT NULL UNIQUE, hash TEXT NOT NULL, horizon INTEGER NOT NULL)`},
		begin:     []string{"BEGIN IMMEDIATE"},
		horizon:   `SELECT coalesce(max(id), 0) + 1 FROM ` + audit.spelled(),
		horizExpr: "a.id", txOnScale: true,
		before:    "a.occurred_at < ?1",
		timeArg:   func(t time.Time) any { return t.UTC().Format("2006-01-02T15:04:05.000Z") },
		canonical: `json_array(a.id, a.tx_id, a.occurred_at, a.actor, a.action, a.table_name, a.row_key, a.old_values, a.new_values, a.metadata, a.query)`,
	}
}

const recordColumns = "tx_id, actor, action, table_name, row_key, old_values, new_values, metadata, query"

// liteConn is the per-connection state: the transaction id of the records
// written in the current transaction.
type liteConn struct {
	c    *conn
	txID int64
}

func (sqliteDialect) connState(ctx context.Context, c *conn) (dialectConn, error) {
	stmts := []string{
		`CREATE TEMP VIEW IF NOT EXISTS _sqa_sink AS SELECT ` +
			strings.ReplaceAll("NULL AS "+recordColumns, ", ", ", NULL AS "),
		`CREATE TEMP TRIGGER IF NOT EXISTS _sqa_sink_insert INSTEAD OF INSERT ON _sqa_sink BEGIN INSERT INTO ` +
			c.c.audit + ` (` + recordColumns + `) VALUES (` +
			"NEW." + strings.ReplaceAll(recordColumns, ", ", ", NEW.") + `); END`,
		`CREATE TEMP TABLE IF NOT EXISTS _sqa_rowid (x)`,
		`CREATE TEMP TABLE IF NOT EXISTS _sqa_count (x PRIMARY KEY) WITHOUT ROWID`,
	}
	for _, s := range stmts {
		if _, err := c.rawExec(ctx, s, nil); err != nil {
			return nil, fmt.Errorf("sqlaudit: setting up the connection: %w", err)
		}
	}
	return &liteConn{c: c}, nil
}

// fresh compares the schema version the entry was read at with the
// database's: SQLite bumps it on every schema change, by any process.
func (lc *liteConn) fresh(ctx context.Context, t *tableInfo) bool {
	v, err := lc.schemaVersion(ctx)
	return err == nil && v == t.version
}

func (lc *liteConn) schemaVersion(ctx context.Context) (int64, error) {
	rows, err := lc.c.queryAll(ctx, `PRAGMA schema_version`)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	v, _ := rows[0][0].(int64)
	return v, nil
}

func (lc *liteConn) txEnded() { lc.txID = 0 }
func (lc *liteConn) txBegan() { lc.txID = 0 }

// loadTable resolves a name as SQLite does (temp, then main, then attached
// schemas) and reads its columns, declared types and key.
func (sqliteDialect) loadTable(ctx context.Context, c *conn, ref tableRef) (*tableInfo, error) {
	q := `SELECT schema, name, type, wr FROM pragma_table_list WHERE name = ?1 COLLATE NOCASE`
	vals := []driver.Value{ref.name}
	if ref.schema != "" {
		q += ` AND schema = ?2 COLLATE NOCASE`
		vals = append(vals, ref.schema)
	}
	q += ` ORDER BY CASE schema WHEN 'temp' THEN 0 WHEN 'main' THEN 1 ELSE 2 END LIMIT 1`
	rows, err := c.queryAll(ctx, q, named(vals...)...)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	t := &tableInfo{schema: asString(rows[0][0]), name: asString(rows[0][1])}
	t.quoted = quoteIdent(t.schema) + "." + quoteIdent(t.name)
	t.display = t.name
	if t.schema != "main" {
		t.display = t.schema + "." + t.name
	}
	if asString(rows[0][2]) != "table" {
		return t, nil // a view or virtual table: no key, refused as such
	}
	if t.version, err = c.dc.(*liteConn).schemaVersion(ctx); err != nil {
		return nil, err
	}
	if err := liteColumns(ctx, c, t, rows[0][3] == int64(1)); err != nil {
		return nil, err
	}
	if err := liteConflictClauses(ctx, c, t); err != nil {
		return nil, err
	}
	return t, liteChildren(ctx, c, t)
}

// liteColumns reads the columns (generated ones included), their declared
// types and the primary key; a rowid table without one is keyed by rowid.
func liteColumns(ctx context.Context, c *conn, t *tableInfo, withoutRowid bool) error {
	cols, err := c.queryAll(ctx, `SELECT name, type, pk FROM pragma_table_xinfo(?1, ?2) WHERE hidden <> 1 ORDER BY cid`, named(t.name, t.schema)...)
	if err != nil {
		return err
	}
	pk := map[int64]string{}
	for _, r := range cols {
		t.columns = append(t.columns, asString(r[0]))
		t.types = append(t.types, asString(r[1]))
		if n, _ := r[2].(int64); n > 0 {
			pk[n] = asString(r[0])
		}
	}
	for i := int64(1); i <= int64(len(pk)); i++ {
		t.key = append(t.key, pk[i])
	}
	if len(t.key) == 0 && !withoutRowid {
		t.key = []string{"rowid"} // documented fallback: the implicit rowid
	}
	return nil
}

// liteConflictClauses notes a table that declares ON CONFLICT REPLACE: its
// INSERTs and UPDATEs may delete other rows inside SQLite, unseen.
func liteConflictClauses(ctx context.Context, c *conn, t *tableInfo) error {
	rows, err := c.queryAll(ctx, `SELECT sql FROM `+quoteIdent(t.schema)+`.sqlite_schema WHERE type = 'table' AND name = ?1`, named(t.name)...)
	if err != nil || len(rows) == 0 {
		return err
	}
	ddl := asString(rows[0][0])
	toks := lex(ddl, styleSQLite)
	for i := 0; i+2 < len(toks); i++ {
		if toks[i].is(ddl, "ON") && toks[i+1].is(ddl, "CONFLICT") && toks[i+2].is(ddl, "REPLACE") {
			t.replaces = true
		}
	}
	return nil
}

// run executes an audited write in the caller's transaction (under a
// savepoint) or in its own, and rolls everything back on any failure.
func (sqliteDialect) run(ex *execution) (driver.Result, driver.Rows, error) {
	lc := ex.c.dc.(*liteConn)
	if ex.a.upsert {
		return nil, nil, stmtError(ex.query, ex.t.display, "cannot audit an upsert (ON CONFLICT DO UPDATE) on SQLite yet", ErrUnsupported)
	}
	if ex.a.kind == kindUpdate && setsKey(ex.a, ex.t) {
		return nil, nil, stmtError(ex.query, ex.t.display, "cannot audit an UPDATE that changes the primary key on SQLite", ErrUnsupported)
	}
	if ex.t.replaces && ex.a.kind != kindDelete {
		return nil, nil, stmtError(ex.query, ex.t.display, "the table declares ON CONFLICT REPLACE: its writes may delete rows unseen", ErrUnsupported)
	}
	p := ex.c.c.plan(planKey{a: ex.a, t: ex.t, wantRows: ex.wantRows}, func() any { return litePlanFor(ex) }).(*litePlan)
	ex.args = sqliteArgs(ex.a, ex.args)
	own := ex.c.autoCommit()
	begin, commit, rollback := "SAVEPOINT _sqa", "RELEASE _sqa", "ROLLBACK TO _sqa; RELEASE _sqa"
	if own {
		lc.txID = 0
		begin, commit, rollback = "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"
	}
	if _, err := ex.c.rawExec(ex.ctx, begin, nil); err != nil {
		return nil, nil, err
	}
	res, rows, err := p.run(ex, lc)
	if err == nil {
		_, err = ex.c.rawExec(ex.ctx, commit, nil)
	}
	if err != nil {
		ex.c.rawExec(context.WithoutCancel(ex.ctx), rollback, nil)
		if own {
			lc.txEnded()
		}
		return nil, nil, noRetry(err)
	}
	if own {
		lc.txEnded()
	}
	return res, rows, nil
}

// autoCommit reports whether the connection is outside a transaction;
// go-sqlite3 asks SQLite itself (sqlite3_get_autocommit).
func (c *conn) autoCommit() bool {
	if ac, ok := c.raw.(interface{ AutoCommit() bool }); ok {
		return ac.AutoCommit()
	}
	return false
}

// setsKey reports an UPDATE that assigns a key column or the rowid (under
// any of its names; it may alias an INTEGER PRIMARY KEY).
func setsKey(a *analysis, t *tableInfo) bool {
	for _, s := range a.setColumns {
		switch strings.ToLower(s) {
		case "rowid", "oid", "_rowid_":
			return true
		}
		for _, k := range t.key {
			if strings.EqualFold(s, k) {
				return true
			}
		}
	}
	return false
}

// sqliteArgs binds the caller's arguments to the ?NNN numbers the analysis
// gave every placeholder: a named argument (sql.Named) goes to the number of
// its :name, @name or $name, a positional one to its ordinal.
func sqliteArgs(a *analysis, args []driver.NamedValue) []driver.NamedValue {
	hasNamed := false
	for _, arg := range args {
		hasNamed = hasNamed || arg.Name != ""
	}
	if !hasNamed {
		return args
	}
	byName := map[string]driver.Value{}
	for _, arg := range args {
		if arg.Name != "" {
			byName[arg.Name] = arg.Value
		}
	}
	out := make([]driver.NamedValue, 0, len(a.paramNames))
	for i, name := range a.paramNames {
		v, ok := byName[name]
		if !ok && i < len(args) && args[i].Name == "" {
			v = args[i].Value
		}
		out = append(out, driver.NamedValue{Ordinal: i + 1, Value: v})
	}
	return out
}

// jsonValue renders a column for json_object, which refuses BLOBs: those are
// recorded as hex text. A redacted column renders as RedactedValue, except
// in a row key, which identifies the row.
func jsonValue(t *tableInfo, alias, col string, redact bool) string {
	for _, r := range t.redact {
		if r == col && redact {
			return quoteLiteral(RedactedValue, false)
		}
	}
	v := quoteIdent(col)
	if alias != "" {
		v = alias + "." + v
	}
	return "CASE WHEN typeof(" + v + ") = 'blob' THEN hex(" + v + ") ELSE " + v + " END"
}

// jsonObject renders the columns cols of a row; a row key (redact false)
// is never masked.
func jsonObject(t *tableInfo, alias string, cols []string, redact bool) string {
	parts := make([]string, 0, 2*len(cols))
	for _, c := range cols {
		parts = append(parts, quoteLiteral(c, false), jsonValue(t, alias, c, redact))
	}
	return "json_object(" + strings.Join(parts, ", ") + ")"
}

func jsonPath(col string) string {
	return quoteLiteral(`$."`+strings.ReplaceAll(col, `"`, `\"`)+`"`, false)
}
