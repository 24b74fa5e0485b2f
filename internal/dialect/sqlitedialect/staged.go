package sqlitedialect

import (
	"context"
	"database/sql/driver"
	"fmt"

	"github.com/sqlaudit/sqlaudit/internal/engine"
)

// A staged write (mode.go decides which writes are staged):
//
//	BEGIN (outside a transaction) or SAVEPOINT _sqa_stage (inside one)
//	the context in staged mode
//	the caller's statement, as sent      — the triggers copy the rows
//	SELECT changes(), last_insert_rowid(), the rows staged, main's schema version
//	the flush: INSERT INTO audit_log SELECT … FROM temp._sqa_stage
//	two statements that leave changes() and last_insert_rowid() as the caller's statement left them
//	COMMIT or RELEASE
//
// The wrapper's transaction makes the records exactly as atomic as the
// change, as in direct mode: a failing flush rolls both back. A caller's
// statement that fails keeps in autocommit what it keeps there (OR FAIL:
// the rows before the failing one) and its staged rows with them, so those
// are flushed and committed; one that ended the transaction (OR ROLLBACK)
// took its staged rows along. Nothing reads the database before the
// caller's statement (see Run); the schema the triggers were built for is
// checked after it, under its write lock, and a changed one rolls back
// and runs the write again (engine.ErrRunAgain).

const (
	stageSavepoint = `SAVEPOINT _sqa_stage`
	stageRelease   = `RELEASE _sqa_stage`
	stageRollback  = `ROLLBACK TO _sqa_stage`
	// stageAfter reads what the caller's statement left: changes(),
	// last_insert_rowid(), the rows it staged (their rowids count from 1:
	// the table is emptied after every flush), main's schema version, and
	// the transaction id its records get (the first's own: %s is the next
	// id's expression, see liteStage.after).
	stageAfter = `SELECT changes(), last_insert_rowid(), (SELECT max(rowid) FROM temp._sqa_stage), (SELECT schema_version FROM pragma_schema_version), coalesce((SELECT tx FROM temp._sqa_ctx WHERE k = 0), %s)`
	// stageLastRowid sets last_insert_rowid() to ?1 and changes() to 1.
	stageLastRowid = `INSERT OR REPLACE INTO temp._sqa_rid (rowid) VALUES (?1)`
	// stageChanges sets changes() to ?1 ≥ 1 and last_insert_rowid() to ?2:
	// ?1 rows that each replace the one before.
	stageChanges = `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) INSERT OR REPLACE INTO temp._sqa_rid (rowid) SELECT ?2 FROM n`
	stageClear   = `DELETE FROM temp._sqa_stage`
	stageNoRows  = `DELETE FROM temp._sqa_count` // empty: changes() 0
)

// stagedRun is one staged write on its way.
type stagedRun struct {
	lc  *liteConn
	ex  *engine.Execution
	own bool // the wrapper's transaction, not the caller's
	bg  context.Context
}

// runStaged runs ex staged (see above); inTx is the connection's state
// before it, as asked.
func (lc *liteConn) runStaged(ex *engine.Execution, inTx bool) (driver.Result, error) {
	r := &stagedRun{lc: lc, ex: ex, own: !inTx, bg: context.WithoutCancel(ex.Ctx)}
	if err := r.begin(); err != nil {
		return nil, recordError(ex, err)
	}
	restore, err := lc.replaceDeletes(ex)
	if err != nil {
		r.undo()
		return nil, err
	}
	newTx := lc.newTx || r.own
	if _, err := lc.setCtx(ex, newTx, 2); err != nil {
		r.undo()
		return nil, recordError(ex, err)
	}
	res, _, err := lc.runCaller(ex)
	if restore {
		if _, rerr := exec(r.bg, ex.Session, `PRAGMA recursive_triggers = 0`, nil); err == nil && rerr != nil {
			r.undo()
			return nil, recordError(ex, rerr)
		}
	}
	if err != nil {
		if still, terr := lc.txState(r.bg); terr == nil && !still {
			lc.TxEnded() // the error ended the transaction, staged rows with it
			return nil, engine.NoRetry(err)
		}
	}
	if ferr := r.finish(); ferr != nil {
		return nil, ferr
	}
	if err != nil {
		return nil, engine.NoRetry(err)
	}
	return res, nil
}

// begin opens the wrapper's transaction or, inside the caller's, a
// savepoint. A driver that tells no transaction state had its BEGIN tried
// already by txState (probeTx): a BEGIN that fails here says the same.
func (r *stagedRun) begin() error {
	if !r.own {
		_, err := exec(r.ex.Ctx, r.ex.Session, stageSavepoint, nil)
		return err
	}
	_, err := exec(r.ex.Ctx, r.ex.Session, `BEGIN`, nil)
	return err
}

// undo rolls back what the write did (best effort: the error reported is
// the one that made it undo).
func (r *stagedRun) undo() {
	s := r.ex.Session
	if r.own {
		exec(r.bg, s, `ROLLBACK`, nil) //nolint:errcheck // see above
		r.lc.TxEnded()
		return
	}
	if _, err := exec(r.bg, s, stageRollback, nil); err == nil {
		exec(r.bg, s, stageRelease, nil) //nolint:errcheck // see above
	}
}

// finish checks the schema, writes the records, restores changes() and
// last_insert_rowid(), and commits or releases.
func (r *stagedRun) finish() error {
	lc, ex, s := r.lc, r.ex, r.ex.Session
	rows, err := s.QueryAll(r.bg, lc.stage.after)
	if err != nil {
		r.undo()
		return recordError(ex, err)
	}
	changes, last, staged := engine.AsInt(rows[0][0]), engine.AsInt(rows[0][1]), engine.AsInt(rows[0][2])
	if stale, err := lc.stagedStale(r.bg, engine.AsInt(rows[0][3])); err != nil || stale {
		r.undo()
		if err != nil {
			return recordError(ex, err)
		}
		lc.forget()
		return engine.ErrRunAgain
	}
	if staged > 0 {
		if err := r.flush(rows[0][4]); err != nil {
			r.undo()
			return recordError(ex, err)
		}
		if err := r.restore(changes, last, staged); err != nil {
			r.undo()
			return recordError(ex, err)
		}
	}
	learn(ex.Stmt, staged)
	end := stageRelease
	if r.own {
		end = `COMMIT`
	}
	if _, err := exec(r.bg, s, end, nil); err != nil {
		r.undo()
		return recordError(ex, err)
	}
	if r.own {
		lc.TxEnded()
	}
	return nil
}

// stagedStale reports a schema changed since its triggers were built:
// main by its version (read with the statement's results), the others by
// theirs. TEMP changes only through this connection.
func (lc *liteConn) stagedStale(ctx context.Context, mainVersion int64) (bool, error) {
	for schema, v := range lc.installed {
		switch schema {
		case "temp":
			continue
		case "main":
			if v != mainVersion {
				return true, nil
			}
			continue
		}
		now, err := lc.schemaVersion(ctx, schema)
		if err != nil || now != v {
			return err == nil, err
		}
	}
	return false, nil
}

// flush writes the staged rows' records as of transaction tx. Inside the
// caller's transaction that id is kept for its later writes.
func (r *stagedRun) flush(tx driver.Value) error {
	lc, ex, s := r.lc, r.ex, r.ex.Session
	if !r.own {
		if _, err := exec(r.bg, s, `UPDATE temp._sqa_ctx SET tx = ?1 WHERE k = 0`, engine.Named(tx)); err != nil {
			return err
		}
	}
	first := 0
	if st := lc.stage.tables[stageKey(ex.Table)]; st != nil {
		first = st.code
	}
	_, err := exec(r.bg, s, lc.stage.flushSQL(first), engine.Named(ex.Actor, ex.Metadata, ex.Query, tx))
	return err
}

// restore leaves changes() and last_insert_rowid() as the caller's
// statement left them (the flush moved both): with as many rows staged as
// it changed (the usual case), clearing the staging table counts them.
func (r *stagedRun) restore(changes, last, staged int64) error {
	s := r.ex.Session
	var steps []string
	var args [][]driver.NamedValue
	switch {
	case staged == changes:
		steps, args = []string{stageLastRowid, stageClear}, [][]driver.NamedValue{engine.Named(last), nil}
	case changes > 0:
		steps, args = []string{stageClear, stageChanges}, [][]driver.NamedValue{nil, engine.Named(changes, last)}
	default:
		steps, args = []string{stageClear, stageLastRowid, stageNoRows}, [][]driver.NamedValue{nil, engine.Named(last), nil}
	}
	for i, q := range steps {
		if _, err := exec(r.bg, s, q, args[i]); err != nil {
			return fmt.Errorf("restoring changes(): %w", err)
		}
	}
	return nil
}
