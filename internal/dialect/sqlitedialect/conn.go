package sqlitedialect

import (
	"context"
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// liteConn is the per-connection state of the SQLite dialect.
type liteConn struct {
	c       *engine.Session
	version int64 // the main schema's schema_version, as last seen
	newTx   bool  // the next record starts a new transaction id
	live    bool  // the context row may be live (a trigger would record)

	installed      map[string]bool // schemas whose audited tables have their triggers
	installGen     uint64          // the connector's DDL generation at installation
	installVersion int64           // the schema version at installation
	installedInTx  bool            // installed inside the open transaction: a rollback undoes it
}

// TxEnded: the next record starts a new transaction id; a rollback may have
// restored an older context row or dropped triggers created inside it.
func (lc *liteConn) TxEnded() {
	lc.newTx, lc.live = true, true
	if lc.installedInTx {
		lc.installed, lc.installedInTx = nil, false
	}
}

// TxBegan: a transaction begun through the wrapper starts a new
// transaction id.
func (lc *liteConn) TxBegan() { lc.newTx = true }

// Passed notes the end of a statement that ran untouched: outside a
// transaction it committed on its own; a ROLLBACK TO may restore an older
// context row or drop triggers created after its savepoint.
func (lc *liteConn) Passed(a *sqlstmt.Analysis) {
	if !a.BeginsTx && !a.EndsTx && autoCommit(lc.c) {
		lc.TxEnded()
	}
	if strings.HasPrefix(strings.ToUpper(a.Text), "ROLLBACK") {
		lc.live = true
		if lc.installedInTx {
			lc.installed = nil
		}
	}
}

// Quiet stops the triggers before a statement that runs unaudited (a
// warned unsupported statement, a write to an excluded table): they must
// not record its rows with the previous statement's context.
func (lc *liteConn) Quiet(ctx context.Context) error {
	if !lc.live {
		return nil
	}
	if _, err := lc.c.PreparedExec(ctx, liteQuietCtx, nil); err != nil {
		return err
	}
	lc.live = false
	return nil
}

// autoCommit reports whether the connection is outside a transaction;
// go-sqlite3 asks SQLite itself (sqlite3_get_autocommit).
func autoCommit(s *engine.Session) bool {
	ac, ok := s.Raw.(interface{ AutoCommit() bool })
	return ok && ac.AutoCommit()
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
