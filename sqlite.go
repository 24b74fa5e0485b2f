package sqlaudit

import (
	"context"
	"database/sql/driver"
	"fmt"

	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
	"strings"
	"time"
)

// SQLite audits SQLite through mattn/go-sqlite3. Rows are captured by
// per-connection TEMP triggers (sqlite_triggers.go) that write each record
// in the same statement as its change; the wrapper only sets the
// statement's context before running it unchanged (sqlite_run.go).
var SQLite Dialect = sqliteDialect{}

type sqliteDialect struct{}

func (sqliteDialect) Name() string { return "sqlite" }

// oneByOne: go-sqlite3 runs each statement of a string on its own (each in
// autocommit outside a transaction), with its share of the arguments.
func (sqliteDialect) oneByOne() bool { return true }

// commitAmbiguous: SQLite commits in-process; an error means it did not.
func (sqliteDialect) commitAmbiguous(error) bool { return false }

// recordsCascades: the audited tables' triggers record the rows foreign-key
// actions change.
func (sqliteDialect) recordsCascades() bool { return true }

func (sqliteDialect) lexStyle() sqlstmt.Style { return sqlstmt.StyleSQLite }
func (sqliteDialect) analyse(q string) *sqlstmt.Analysis {
	return sqlstmt.Analyse(q, sqlstmt.StyleSQLite)
}
func (sqliteDialect) ident(s string) string { return sqlstmt.QuoteIdent(s) }
func (sqliteDialect) keywordDSN() bool      { return false }

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

func (sqliteDialect) sealing(audit, seal sqlstmt.TableRef) sealSQL {
	return sealSQL{
		ddl:       []string{`CREATE TABLE IF NOT EXISTS ` + seal.Spelled() + ` (seq INTEGER PRIMARY KEY, record_id INTEGER NOT NULL UNIQUE, hash TEXT NOT NULL, horizon INTEGER NOT NULL)`},
		begin:     []string{"BEGIN IMMEDIATE"},
		horizon:   `SELECT coalesce(max(id), 0) + 1 FROM ` + audit.Spelled(),
		horizExpr: "a.id", txOnScale: true,
		before:    "a.occurred_at < ?1",
		timeArg:   func(t time.Time) any { return t.UTC().Format("2006-01-02T15:04:05.000Z") },
		canonical: `json_array(a.id, a.tx_id, a.occurred_at, a.actor, a.action, a.table_name, a.row_key, a.old_values, a.new_values, a.metadata, a.query)`,
	}
}

const recordColumns = "tx_id, actor, action, table_name, row_key, old_values, new_values, metadata, query"

func (sqliteDialect) connState(ctx context.Context, c *conn) (dialectConn, error) {
	for _, q := range liteCtxDDL {
		if _, err := c.rawExec(ctx, q, nil); err != nil {
			return nil, fmt.Errorf("sqlaudit: setting up the connection: %w", err)
		}
	}
	return &liteConn{c: c, newTx: true}, nil
}

// fresh compares the schema version the entry was read at with the one
// last seen: every audited write reads it with its context (setCtx) and
// reads the catalog again when another connection changed the schema.
func (lc *liteConn) fresh(_ context.Context, t *tableInfo) bool {
	return t.version == lc.version
}

func (lc *liteConn) schemaVersion(ctx context.Context) (int64, error) {
	rows, err := lc.c.queryAll(ctx, liteSchemaVersion)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	v, _ := rows[0][0].(int64)
	lc.version = v
	return v, nil
}

// loadTable resolves a name as SQLite does (temp, then main, then attached
// schemas) and reads its columns, declared types and key.
func (sqliteDialect) loadTable(ctx context.Context, c *conn, ref sqlstmt.TableRef) (*tableInfo, error) {
	q := `SELECT schema, name, type, wr FROM pragma_table_list WHERE name = ?1 COLLATE NOCASE`
	vals := []driver.Value{ref.Name}
	if ref.Schema != "" {
		q += ` AND schema = ?2 COLLATE NOCASE`
		vals = append(vals, ref.Schema)
	}
	q += ` ORDER BY CASE schema WHEN 'temp' THEN 0 WHEN 'main' THEN 1 ELSE 2 END LIMIT 1`
	rows, err := c.queryAll(ctx, q, named(vals...)...)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	t := &tableInfo{schema: asString(rows[0][0]), name: asString(rows[0][1])}
	t.quoted = sqlstmt.QuoteIdent(t.schema) + "." + sqlstmt.QuoteIdent(t.name)
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
	rows, err := c.queryAll(ctx, `SELECT sql FROM `+sqlstmt.QuoteIdent(t.schema)+`.sqlite_schema WHERE type = 'table' AND name = ?1`, named(t.name)...)
	if err != nil || len(rows) == 0 {
		return err
	}
	ddl := asString(rows[0][0])
	toks := sqlstmt.Lex(ddl, sqlstmt.StyleSQLite)
	for i := 0; i+2 < len(toks); i++ {
		if toks[i].Is(ddl, "ON") && toks[i+1].Is(ddl, "CONFLICT") && toks[i+2].Is(ddl, "REPLACE") {
			t.replaces = true
		}
	}
	return nil
}

// setsKey reports an UPDATE that assigns a key column or the rowid (under
// any of its names; it may alias an INTEGER PRIMARY KEY).
func setsKey(a *sqlstmt.Analysis, t *tableInfo) bool {
	for _, s := range a.SetColumns {
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

// jsonValue renders a column for json_object, which refuses BLOBs: those are
// recorded as hex text. A redacted column renders as RedactedValue, except
// in a row key, which identifies the row.
func jsonValue(t *tableInfo, alias, col string, redact bool) string {
	for _, r := range t.redact {
		if r == col && redact {
			return sqlstmt.QuoteLiteral(RedactedValue, false)
		}
	}
	v := sqlstmt.QuoteIdent(col)
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
		parts = append(parts, sqlstmt.QuoteLiteral(c, false), jsonValue(t, alias, c, redact))
	}
	return "json_object(" + strings.Join(parts, ", ") + ")"
}
