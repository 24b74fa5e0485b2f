package sqlaudit

import (
	"context"
	"database/sql/driver"
	"fmt"

	"strings"
	"time"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// SQLite audits SQLite through mattn/go-sqlite3. Rows are captured by
// per-connection TEMP triggers (sqlite_triggers.go) that write each record
// in the same statement as its change; the wrapper only sets the
// statement's context before running it unchanged (sqlite_run.go).
var SQLite Dialect = dialect{sqliteDialect{}}

type sqliteDialect struct{}

func (sqliteDialect) Name() string { return "sqlite" }

// Features: go-sqlite3 runs each statement of a string on its own (each in
// autocommit outside a transaction), with its share of the arguments; the
// audited tables' triggers record the rows foreign-key actions change.
func (sqliteDialect) Features() engine.Features { return engine.OneByOne | engine.RecordsCascades }

// CommitAmbiguous: SQLite commits in-process; an error means it did not.
func (sqliteDialect) CommitAmbiguous(error) bool { return false }

func (sqliteDialect) Analyse(q string) *sqlstmt.Analysis {
	return sqlstmt.Analyse(q, sqlstmt.StyleSQLite)
}
func (sqliteDialect) Ident(s string) string { return sqlstmt.QuoteIdent(s) }

func (sqliteDialect) AuditDDL(table string) []string {
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

func (sqliteDialect) Sealing(audit, seal sqlstmt.TableRef) engine.SealSQL {
	return engine.SealSQL{
		DDL:       []string{`CREATE TABLE IF NOT EXISTS ` + seal.Spelled() + ` (seq INTEGER PRIMARY KEY, record_id INTEGER NOT NULL UNIQUE, hash TEXT NOT NULL, horizon INTEGER NOT NULL)`},
		Begin:     []string{"BEGIN IMMEDIATE"},
		Horizon:   `SELECT coalesce(max(id), 0) + 1 FROM ` + audit.Spelled(),
		HorizExpr: "a.id", TxOnScale: true,
		Before:    "a.occurred_at < ?1",
		TimeArg:   func(t time.Time) any { return t.UTC().Format("2006-01-02T15:04:05.000Z") },
		Canonical: `json_array(a.id, a.tx_id, a.occurred_at, a.actor, a.action, a.table_name, a.row_key, a.old_values, a.new_values, a.metadata, a.query)`,
	}
}

func (sqliteDialect) Open(ctx context.Context, c *engine.Session) (engine.Conn, error) {
	for _, q := range liteCtxDDL {
		if _, err := c.RawExec(ctx, q, nil); err != nil {
			return nil, fmt.Errorf("sqlaudit: setting up the connection: %w", err)
		}
	}
	return &liteConn{c: c, newTx: true}, nil
}

// liteTable is what the SQLite dialect keeps of a table beside the
// generic entry (TableInfo.Ext).
type liteTable struct {
	Version int64 // the schema version the entry was read at
}

// liteVersion is the schema version t was read at (0 for views).
func liteVersion(t *engine.TableInfo) int64 {
	e, _ := t.Ext.(liteTable)
	return e.Version
}

// Fresh compares the schema version the entry was read at with the one
// last seen: every audited write reads it with its context (setCtx) and
// reads the catalog again when another connection changed the schema.
func (lc *liteConn) Fresh(_ context.Context, t *engine.TableInfo) bool {
	return liteVersion(t) == lc.version
}

func (lc *liteConn) schemaVersion(ctx context.Context) (int64, error) {
	rows, err := lc.c.QueryAll(ctx, liteSchemaVersion)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	v, _ := rows[0][0].(int64)
	lc.version = v
	return v, nil
}

// loadTable resolves a name as SQLite does (temp, then main, then attached
// schemas) and reads its columns and key.
func (sqliteDialect) LoadTable(ctx context.Context, c *engine.Session, ref sqlstmt.TableRef) (*engine.TableInfo, error) {
	q := `SELECT schema, name, type, wr FROM pragma_table_list WHERE name = ?1 COLLATE NOCASE`
	vals := []driver.Value{ref.Name}
	if ref.Schema != "" {
		q += ` AND schema = ?2 COLLATE NOCASE`
		vals = append(vals, ref.Schema)
	}
	q += ` ORDER BY CASE schema WHEN 'temp' THEN 0 WHEN 'main' THEN 1 ELSE 2 END LIMIT 1`
	rows, err := c.QueryAll(ctx, q, engine.Named(vals...)...)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	t := &engine.TableInfo{Schema: engine.AsString(rows[0][0]), Name: engine.AsString(rows[0][1])}
	t.Quoted = sqlstmt.QuoteIdent(t.Schema) + "." + sqlstmt.QuoteIdent(t.Name)
	t.Display = t.Name
	if t.Schema != "main" {
		t.Display = t.Schema + "." + t.Name
	}
	if engine.AsString(rows[0][2]) != "table" {
		return t, nil // a view or virtual table: no key, refused as such
	}
	v, err := c.State.(*liteConn).schemaVersion(ctx)
	if err != nil {
		return nil, err
	}
	t.Ext = liteTable{Version: v}
	if err := liteColumns(ctx, c, t, rows[0][3] == int64(1)); err != nil {
		return nil, err
	}
	if err := liteConflictClauses(ctx, c, t); err != nil {
		return nil, err
	}
	return t, liteChildren(ctx, c, t)
}

// liteColumns reads the columns (generated ones included) and the primary
// key; a rowid table without one is keyed by rowid.
func liteColumns(ctx context.Context, c *engine.Session, t *engine.TableInfo, withoutRowid bool) error {
	cols, err := c.QueryAll(ctx, `SELECT name, pk FROM pragma_table_xinfo(?1, ?2) WHERE hidden <> 1 ORDER BY cid`, engine.Named(t.Name, t.Schema)...)
	if err != nil {
		return err
	}
	pk := map[int64]string{}
	for _, r := range cols {
		t.Columns = append(t.Columns, engine.AsString(r[0]))
		if n, _ := r[1].(int64); n > 0 {
			pk[n] = engine.AsString(r[0])
		}
	}
	for i := int64(1); i <= int64(len(pk)); i++ {
		t.Key = append(t.Key, pk[i])
	}
	if len(t.Key) == 0 && !withoutRowid {
		t.Key = []string{"rowid"} // documented fallback: the implicit rowid
	}
	return nil
}

// liteConflictClauses notes a table that declares ON CONFLICT REPLACE: its
// INSERTs and UPDATEs may delete other rows inside SQLite, unseen.
func liteConflictClauses(ctx context.Context, c *engine.Session, t *engine.TableInfo) error {
	rows, err := c.QueryAll(ctx, `SELECT sql FROM `+sqlstmt.QuoteIdent(t.Schema)+`.sqlite_schema WHERE type = 'table' AND name = ?1`, engine.Named(t.Name)...)
	if err != nil || len(rows) == 0 {
		return err
	}
	ddl := engine.AsString(rows[0][0])
	toks := sqlstmt.Lex(ddl, sqlstmt.StyleSQLite)
	for i := 0; i+2 < len(toks); i++ {
		if toks[i].Is(ddl, "ON") && toks[i+1].Is(ddl, "CONFLICT") && toks[i+2].Is(ddl, "REPLACE") {
			t.Replaces = true
		}
	}
	return nil
}

// setsKey reports an UPDATE that assigns a key column or the rowid (under
// any of its names; it may alias an INTEGER PRIMARY KEY).
func setsKey(a *sqlstmt.Analysis, t *engine.TableInfo) bool {
	for _, s := range a.SetColumns {
		switch strings.ToLower(s) {
		case "rowid", "oid", "_rowid_":
			return true
		}
		for _, k := range t.Key {
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
func jsonValue(t *engine.TableInfo, alias, col string, redact bool) string {
	for _, r := range t.Redact {
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
func jsonObject(t *engine.TableInfo, alias string, cols []string, redact bool) string {
	parts := make([]string, 0, 2*len(cols))
	for _, c := range cols {
		parts = append(parts, sqlstmt.QuoteLiteral(c, false), jsonValue(t, alias, c, redact))
	}
	return "json_object(" + strings.Join(parts, ", ") + ")"
}
