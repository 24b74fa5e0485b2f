package sqlitedialect

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// Run executes an audited write: one statement makes the context live, the
// triggers are installed if a schema is new to them, and the caller's
// statement runs exactly as sent. Nothing reads the database before the
// caller's statement: inside a deferred transaction a read would take a
// read lock that SQLite then never lets wait for the write lock (the second
// of two writers would fail at once with "database is locked" instead of
// waiting out the busy timeout). The triggers check the schema themselves,
// under the statement's own write lock; when another connection changed it,
// the statement is aborted, the catalog read again and the statement run
// once more (engine.ErrRunAgain).
func (Dialect) Run(ex *engine.Execution) (driver.Result, driver.Rows, error) {
	lc := ex.Session.State.(*liteConn)
	if ex.Stmt.Kind == sqlstmt.Update && ex.Table.Audited && isRowidAlias(ex.Table) && setsRowid(ex.Table, ex.Stmt) {
		return nil, nil, engine.Refuse(ex.Query, ex.Table.Display, "cannot audit an UPDATE that assigns the rowid of a table without a primary key (the rowid is its row key)")
	}
	inTx, err := lc.txState(ex.Ctx)
	if err != nil {
		return nil, nil, recordError(ex, err)
	}
	lc.inTx = inTx
	if err := lc.ensure(ex.Ctx, ex.Table); err != nil {
		return nil, nil, recordError(ex, err)
	}
	if lc.stagedMode(ex) {
		res, err := lc.runStaged(ex, inTx)
		return res, nil, err
	}
	restore, err := lc.replaceDeletes(ex)
	if err != nil {
		return nil, nil, err
	}
	prev, err := lc.setCtx(ex, lc.newTx || !inTx, 1)
	if err != nil {
		return nil, nil, recordError(ex, err)
	}
	if ex.Stmt.Returning != "" && !ex.WantRows {
		// go-sqlite3's Exec of a statement with RETURNING reports the
		// changes() the previous statement left: give it the caller's.
		if err := setChanges(ex, prev); err != nil {
			return nil, nil, recordError(ex, err)
		}
	}
	res, rows, err := lc.runCaller(ex)
	if restore {
		if _, rerr := exec(context.WithoutCancel(ex.Ctx), ex.Session, `PRAGMA recursive_triggers = 0`, nil); err == nil && rerr != nil {
			err = recordError(ex, rerr)
		}
	}
	if err != nil && strings.Contains(err.Error(), schemaChanged) {
		lc.forget()
		return nil, nil, engine.ErrRunAgain
	}
	if err == nil {
		if res != nil {
			if n, rerr := res.RowsAffected(); rerr == nil {
				learn(ex.Stmt, n)
			}
		}
	}
	if err != nil && inTx { // OR ROLLBACK, RAISE(ROLLBACK) and some I/O errors end the transaction
		if still, terr := lc.txState(context.WithoutCancel(ex.Ctx)); terr == nil && !still {
			inTx = false
		}
	}
	if !inTx {
		lc.TxEnded() // committed, or the error rolled the whole transaction back
	}
	if err != nil && auditTableGone(err, ex.Session.Shared.AuditRef.Name) {
		return nil, nil, engine.AuditTableMissing(ex.Query, ex.Table.Display, ex.Session.Shared.AuditName, err)
	}
	if err != nil {
		return nil, nil, engine.NoRetry(err)
	}
	return res, rows, nil
}

// auditTableGone reports SQLite's "no such table" for the audit table,
// which the triggers write into: it was dropped while they stayed.
func auditTableGone(err error, name string) bool {
	msg := err.Error()
	i := strings.Index(msg, "no such table: ")
	if i < 0 {
		return false
	}
	t, _, _ := strings.Cut(msg[i+len("no such table: "):], " ")
	t = strings.TrimSuffix(t, ",")
	return t == name || strings.HasSuffix(t, "."+name)
}

// setCtx makes the context row live in mode (1 direct, 2 staged) with
// this statement's actor, metadata and text (newTx: as the first of a
// transaction), and returns the changes() the caller's previous statement
// left (read before the upsert moves it, only when a RETURNING statement
// run by Exec needs it).
func (lc *liteConn) setCtx(ex *engine.Execution, newTx bool, mode int) (changes int64, err error) {
	c := lc.c
	if ex.Stmt.Returning != "" && !ex.WantRows {
		rows, err := c.QueryAll(ex.Ctx, `SELECT changes()`)
		if err != nil {
			return 0, err
		}
		changes, _ = rows[0][0].(int64)
	}
	args := engine.Named(ex.Actor, ex.Metadata, ex.Query, newTx, int64(mode))
	if _, err := exec(ex.Ctx, c, liteSetCtx, args); err != nil {
		// The table is gone (dropped by the application): make it again.
		for _, q := range liteCtxDDL[1:] {
			if _, derr := exec(ex.Ctx, c, q, nil); derr != nil {
				return 0, err
			}
		}
		if _, err := exec(ex.Ctx, c, liteSetCtx, args); err != nil {
			return 0, err
		}
	}
	lc.live, lc.newTx = true, false
	return changes, nil
}

// setChanges leaves the connection's changes() at n: deleting n rows from a
// WITHOUT ROWID table touches neither last_insert_rowid() nor anything else.
func setChanges(ex *engine.Execution, n int64) error {
	if _, err := exec(ex.Ctx, ex.Session, `WITH RECURSIVE c(i) AS (SELECT 1 WHERE ?1 > 0 UNION ALL SELECT i + 1 FROM c WHERE i < ?1) INSERT INTO temp._sqa_count SELECT i FROM c`, engine.Named(n)); err != nil {
		return err
	}
	_, err := exec(ex.Ctx, ex.Session, `DELETE FROM temp._sqa_count`, nil)
	return err
}

func recordError(ex *engine.Execution, err error) error {
	return engine.Fail(ex.Query, ex.Table.Display, "preparing the audit records failed; nothing was changed", engine.Record, err)
}

// runCaller runs the caller's statement as sent: an Exec through a prepared
// statement cached on the connection (compiling a statement also compiles
// the triggers it fires), a Query with its first row read before it
// returns, so that every change (SQLite makes them all at the first step)
// is recorded under this statement's context.
func (lc *liteConn) runCaller(ex *engine.Execution) (driver.Result, driver.Rows, error) {
	c := ex.Session
	if ex.WantRows {
		rows, err := c.RawQuery(ex.Ctx, ex.Query, ex.Args)
		if err != nil {
			return nil, nil, err
		}
		p := &primedRows{Rows: rows, first: make([]driver.Value, len(rows.Columns()))}
		if p.err = rows.Next(p.first); p.err != nil && !errors.Is(p.err, io.EOF) {
			rows.Close()
			return nil, nil, p.err
		}
		return nil, p, nil
	}
	// Not with RETURNING: go-sqlite3 leaves such a statement unfinished
	// until it is used again, and changes() must move on now, as after
	// the plain driver's Exec.
	if ex.Stmt.Returning != "" {
		res, err := c.RawExec(ex.Ctx, ex.Query, ex.Args)
		return res, nil, err
	}
	// modernc's statements report NumInput -1 (they may hold a script,
	// which their Exec runs as its conn's Exec does): cached too, or every
	// run compiles the statement and the TEMP triggers it fires again
	// (measured: ~130 µs of a ~340 µs single-row DELETE).
	if st, err := c.Prepared(ex.Ctx, ex.Query); err == nil && (st.NumInput() == len(ex.Args) || st.NumInput() < 0) {
		res, err := c.PreparedExec(ex.Ctx, ex.Query, ex.Args)
		return res, nil, err
	}
	res, err := c.RawExec(ex.Ctx, ex.Query, ex.Args)
	return res, nil, err
}

// primedRows hands out a first row read ahead, then the rest.
type primedRows struct {
	driver.Rows
	first  []driver.Value
	err    error // the first Next's result
	handed bool
}

func (r *primedRows) Next(dest []driver.Value) error {
	if r.handed {
		return r.Rows.Next(dest)
	}
	r.handed = true
	if r.err != nil {
		return r.err
	}
	copy(dest, r.first)
	return nil
}

// replaceDeletes makes the rows that REPLACE conflict resolution deletes
// fire the DELETE triggers: SQLite only fires them with recursive_triggers
// on. The wrapper turns it on for this statement, unless the application's
// own triggers would then fire differently (refused), and reports whether
// it must turn it off again.
func (lc *liteConn) replaceDeletes(ex *engine.Execution) (bool, error) {
	if !ex.Stmt.OrReplace && !(ex.Table.Replaces && ex.Stmt.Kind != sqlstmt.Delete) {
		return false, nil
	}
	c := ex.Session
	// PRAGMA recursive_triggers reads the connection's flag, not the
	// database: no lock is taken before the caller's statement.
	rows, err := c.QueryAll(ex.Ctx, `PRAGMA recursive_triggers`)
	if err != nil {
		return false, recordError(ex, err)
	}
	e, _ := ex.Table.Ext.(liteTable)
	switch {
	case len(rows) > 0 && rows[0][0] == int64(1):
		return false, nil
	case e.Triggers != 0:
		return false, engine.Refuse(ex.Query, ex.Table.Display, "recording the rows REPLACE deletes needs PRAGMA recursive_triggers = ON, which would change how the database's own triggers fire; turn it on for the connection yourself to allow this")
	}
	if _, err := exec(ex.Ctx, c, `PRAGMA recursive_triggers = 1`, nil); err != nil {
		return false, recordError(ex, err)
	}
	return true, nil
}

// setsRowid reports an UPDATE that assigns t's rowid under one of its
// names (a column of that name is a column, not the rowid).
func setsRowid(t *engine.TableInfo, a *sqlstmt.Analysis) bool {
	for _, s := range a.SetColumns {
		if isRowidName(t, s) {
			return true
		}
	}
	return false
}
