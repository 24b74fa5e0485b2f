package mysqldialect

import (
	"context"
	"database/sql/driver"
	"io"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// Run executes an audited write in the caller's transaction (under a
// savepoint) or in its own, and rolls it back on any failure.
func (Dialect) Run(ex *engine.Execution) (driver.Result, driver.Rows, error) {
	if err := myCheckArgs(ex); err != nil {
		return nil, nil, err
	}
	p := ex.Session.Shared.Plan(engine.PlanKey{Stmt: ex.Stmt, Table: ex.Table, WantRows: ex.WantRows}, func() any { return myPlanFor(ex) }).(*myPlan)
	if p.refused != "" {
		return nil, nil, engine.Fail(ex.Query, ex.Table.Display, "cannot audit this statement: "+p.refused, engine.Unsupported)
	}
	m := ex.Session.State.(*myConn)
	if p.blocks[0] != "" && !m.noBlock {
		if res, rows, ran, err := m.runBlock(ex, p); ran {
			return res, rows, err
		}
	}
	own := !m.inTransaction()
	begin, rollback := "SAVEPOINT "+savepoint, "ROLLBACK TO SAVEPOINT "+savepoint
	if own {
		m.tx++
		begin, rollback = "START TRANSACTION", "ROLLBACK"
	}
	if _, err := ex.Session.RawExec(ex.Ctx, begin, nil); err != nil {
		return nil, nil, err
	}
	res, rows, err := m.runPlan(ex, p)
	if err == nil && own {
		_, err = ex.Session.RawExec(ex.Ctx, ownCommit, nil)
	}
	if own {
		defer m.TxEnded()
	}
	if err != nil {
		ex.Session.RawExec(context.WithoutCancel(ex.Ctx), rollback, nil) //nolint:errcheck // the first error is the one to report
		return nil, nil, engine.NoRetry(err)
	}
	return res, rows, nil
}

// myCheckArgs: go-sql-driver binds arguments to ? in order; the rewrite
// moves them around, so their number must match and none may be named.
func myCheckArgs(ex *engine.Execution) error {
	for _, a := range ex.Args {
		if a.Name != "" {
			return engine.Fail(ex.Query, ex.Table.Display, "named arguments are not supported by MySQL placeholders", engine.Unsupported)
		}
	}
	if len(ex.Args) != ex.Stmt.NumParams {
		return engine.ArgsMismatch(ex.Query, ex.Table.Display, ex.Stmt.NumParams, len(ex.Args))
	}
	return nil
}

func (m *myConn) runPlan(ex *engine.Execution, p *myPlan) (driver.Result, driver.Rows, error) {
	switch {
	case ex.Stmt.Upsert:
		return m.runUpsert(ex, p)
	case ex.Stmt.Kind == sqlstmt.Insert:
		return m.runInsert(ex, p)
	}
	return m.runChange(ex, p)
}

// runChange: lock and copy the rows of every target, run the restricted
// statement, write the records of the copied rows that changed (UPDATE)
// or vanished (DELETE).
func (m *myConn) runChange(ex *engine.Execution, p *myPlan) (driver.Result, driver.Rows, error) {
	m.seq++
	s := m.seq
	copyArgs, stmtArgs := myChangeArgs(ex, p, s)
	var copied int64
	for _, tg := range p.targets {
		if err := m.ensureCopy(ex, tg); err != nil {
			return nil, nil, err
		}
		res, err := ex.Session.PreparedExec(ex.Ctx, tg.copy, engine.Named(copyArgs...))
		if err != nil {
			return nil, nil, m.staleOr(ex, err)
		}
		n, _ := res.RowsAffected()
		copied += n
		if err := m.checkCascades(ex, tg, s); err != nil {
			return nil, nil, err
		}
	}
	res, rows, err := m.runStmt(ex, p.stmt, engine.Named(stmtArgs...))
	if err != nil {
		return nil, nil, err
	}
	for _, tg := range p.targets {
		if tg.keyMoved == "" {
			continue
		}
		moved, err := ex.Session.QueryAll(ex.Ctx, `SELECT `+tg.keyMoved, engine.Named(s, s)...)
		if err != nil {
			return nil, nil, err
		}
		if engine.AsInt(moved[0][0]) != 0 {
			return nil, nil, errKeyMoved(ex, tg.t)
		}
	}
	for _, tg := range p.targets {
		if tg.records == "" {
			continue // another alias of a table already recorded
		}
		if _, err := ex.Session.PreparedExec(ex.Ctx, tg.records, engine.Named(m.recordArgs(ex, s)...)); err != nil {
			return nil, nil, m.recordsFailed(ex, tg.t, err)
		}
	}
	if err := m.prune(ex, p, copied); err != nil {
		return nil, nil, err
	}
	return res, rows, nil
}

// recordsFailed is the error of a failed records statement: ErrRecord, or
// engine.ErrRunAgain when another client changed the table (see schema.go).
func (m *myConn) recordsFailed(ex *engine.Execution, t *engine.TableInfo, err error) error {
	if e := m.staleOr(ex, err); e == engine.ErrRunAgain {
		return e
	}
	return engine.RecordsFailed(ex.Query, t.Display, err)
}

// prune empties the copy tables once they hold many rows (copied adds to
// the count): their rows are only read by the statement that copied them.
func (m *myConn) prune(ex *engine.Execution, p *myPlan, copied int64) error {
	if m.pending += copied; m.pending <= 10000 {
		return nil
	}
	for _, tg := range p.targets {
		if tg.records == "" {
			continue // the copy table of a table already emptied
		}
		if _, err := ex.Session.RawExec(ex.Ctx, `DELETE FROM `+tg.copyName, nil); err != nil {
			return err
		}
	}
	m.pending = 0
	return nil
}

// myChangeArgs deals the caller's arguments to an UPDATE's or DELETE's
// copy statement (its table references, its predicate and ORDER BY/LIMIT,
// after the statement number s) and to the restricted statement (as the
// plan's slots say).
func myChangeArgs(ex *engine.Execution, p *myPlan, s int64) (copyArgs, stmtArgs []driver.Value) {
	c, vals := myClauses(ex.Stmt), engine.Values(ex.Args)
	copyArgs = append(append([]driver.Value{s}, vals[:c.beforeWhere-c.setArgs]...), vals[c.beforeWhere:]...)
	return copyArgs, dealArgs(vals, p.stmtArgs, s)
}

// recordArgs are the arguments of a target's records statement.
func (m *myConn) recordArgs(ex *engine.Execution, s int64) []driver.Value {
	return []driver.Value{m.tx, m.tx, ex.Actor, ex.Metadata, ex.Query, s}
}

// checkCascades refuses the statement when a copied (locked) row has
// children in an audited table that a foreign-key action would change.
func (m *myConn) checkCascades(ex *engine.Execution, tg myTarget, s int64) error {
	for _, fk := range tg.cascades {
		rows, err := ex.Session.QueryAll(ex.Ctx, fk.check, engine.Named(s)...)
		if err != nil {
			return err
		}
		if len(rows) > 0 {
			return engine.Fail(ex.Query, tg.t.Display, "a foreign-key action ("+fk.action+") would change rows of the audited table "+fk.child+" unseen", engine.Unsupported)
		}
	}
	return nil
}

// runStmt runs the caller's (rewritten) statement. MariaDB's DELETE …
// RETURNING rows are read in full first: the records are written after.
// A Query without RETURNING gets no rows, as from the plain driver.
func (m *myConn) runStmt(ex *engine.Execution, q string, args []driver.NamedValue) (driver.Result, driver.Rows, error) {
	if ex.Stmt.Returning == "" {
		res, err := ex.Session.PreparedExec(ex.Ctx, q, args)
		if ex.WantRows && err == nil {
			return nil, &engine.BufferedRows{}, nil
		}
		return res, nil, err
	}
	rows, err := ex.Session.PreparedQuery(ex.Ctx, q, args)
	if err != nil {
		return nil, nil, err
	}
	cols := rows.Columns()
	buf := &engine.BufferedRows{Cols: cols}
	dest := make([]driver.Value, len(cols))
	for err = rows.Next(dest); err == nil; err = rows.Next(dest) {
		buf.Data = append(buf.Data, engine.Keep(dest, len(cols)))
	}
	rows.Close()
	if err != io.EOF {
		return nil, nil, err
	}
	if ex.WantRows {
		return nil, buf, nil
	}
	return engine.Result{HasLast: true}, nil, nil // Exec of a statement with a result set: go-sql-driver reports 0, 0
}

// ensureCopy creates a target's copy table on this connection, again after
// the table's definition changed (a new catalog entry) or DDL ran through
// the wrapper (the entry may be equal, the column types not).
func (m *myConn) ensureCopy(ex *engine.Execution, tg myTarget) error {
	made := myCopy{t: tg.t, gen: ex.Session.Shared.Generation()}
	if m.copies[tg.copyName] == made {
		return nil
	}
	for _, q := range []string{`DROP TEMPORARY TABLE IF EXISTS ` + tg.copyName, tg.copyDDL} {
		if _, err := ex.Session.RawExec(ex.Ctx, q, nil); err != nil {
			return engine.Fail(ex.Query, tg.t.Display, "creating the TEMPORARY copy table failed (the role needs CREATE TEMPORARY TABLES)", engine.Record, err)
		}
	}
	m.copies[tg.copyName] = made
	return nil
}

// myCopy is what a copy table was made for.
type myCopy struct {
	t   *engine.TableInfo
	gen uint64 // the DDL generation at the time
}

// assignsKey reports an assignment to a primary-key column.
func assignsKey(cols []string, t *engine.TableInfo) bool {
	for _, c := range cols {
		if t.IsKey(c) {
			return true
		}
	}
	return false
}
