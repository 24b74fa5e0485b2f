package sqlitedialect

import (
	"context"
	"fmt"
	"time"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// Dialect audits SQLite (mattn/go-sqlite3): per-connection TEMP triggers
// record every changed row inside the statement itself (see the package
// doc).
type Dialect struct{}

func (Dialect) Name() string { return "sqlite" }

// Features: go-sqlite3 runs each statement of a string on its own (each in
// autocommit outside a transaction), with its share of the arguments; the
// audited tables' triggers record the rows foreign-key actions change.
func (Dialect) Features() engine.Features { return engine.OneByOne | engine.RecordsCascades }

// CommitAmbiguous: SQLite commits in-process; an error means it did not.
func (Dialect) CommitAmbiguous(error) bool { return false }

func (Dialect) Analyse(q string) *sqlstmt.Analysis {
	a := sqlstmt.Analyse(q, rules)
	if isVacuumText(a.Text) {
		a.Kind, a.Reason = sqlstmt.DDL, "" // checked before it runs: BeforeDDL
	}
	switch a.Kind {
	case sqlstmt.Insert, sqlstmt.Update, sqlstmt.Delete:
		a.Ext = newHint(a) // which capture mode its runs take (mode.go)
	}
	return a
}
func (Dialect) Ident(s string) string { return sqlstmt.QuoteIdent(s) }

// AuditDDL creates the audit table with the indexes the reading side uses
// (see readingIndexes); each statement is idempotent.
func (Dialect) AuditDDL(table string) []string {
	return append([]string{`CREATE TABLE IF NOT EXISTS ` + table + ` (
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
)`}, readingIndexes(table)...)
}

func (Dialect) Sealing(audit, seal sqlstmt.TableRef) engine.SealSQL {
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

func (Dialect) Open(ctx context.Context, c *engine.Session) (engine.Conn, error) {
	for _, q := range liteCtxDDL {
		if _, err := exec(ctx, c, q, nil); err != nil {
			return nil, fmt.Errorf("sqlaudit: setting up the connection: %w", err)
		}
	}
	lc := &liteConn{c: c, newTx: true, live: false, txState: txStateOf(c)}
	// Install the triggers now, outside any transaction: a first write
	// inside a deferred transaction must not read the catalog before its
	// statement (see Run). Best effort: a missing audit table (NoCreate)
	// fails the first write instead, with its own error.
	prev := c.State
	c.State = lc
	if err := lc.ensure(ctx, nil); err != nil {
		lc.installed = nil
	}
	c.State = prev
	return lc, nil
}
