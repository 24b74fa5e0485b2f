package sqlaudit

import (
	"context"
	"database/sql/driver"
	"fmt"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
	"io"
	"strings"
)

// myPlan is the SQL of one audited statement shape on one table; shared by
// every connection of the connector.
type myPlan struct {
	targets []myTarget // UPDATE, DELETE: the audited tables the statement changes
	stmt    string     // the caller's statement, restricted to the copied keys or returning the new keys
	hidden  int        // INSERT: key columns appended to RETURNING, dropped from the caller's rows
	autoAt  int        // INSERT: the AUTO_INCREMENT column among the hidden ones, or -1
	// autoListed: the INSERT names the AUTO_INCREMENT column (or no
	// columns), so its ids may be explicit
	autoListed bool
	insert     func(n int) string // records n inserted rows, by key
	// blocks: the UPDATE or DELETE as one compound statement, under the
	// caller's savepoint [0] or in its own transaction [1]; "" when it
	// cannot run as one (myBlockable)
	blocks [2]string
}

// myCascade is one foreign-key action the statement may fire.
type myCascade struct {
	child, action, check string
}

// noPath is a JSON path no column can have (names are at most 64
// characters): JSON_REMOVE ignores it.
var noPath = mysqlString(`$.` + strings.Repeat("z", 70))

// run executes an audited write in the caller's transaction (under a
// savepoint) or in its own, and rolls it back on any failure.
func (mysqlDialect) run(ex *execution) (driver.Result, driver.Rows, error) {
	if err := myCheckArgs(ex); err != nil {
		return nil, nil, err
	}
	if ex.a.Upsert && setsKey(ex.a, ex.t) {
		return nil, nil, stmtError(ex.query, ex.t.display, "cannot audit an upsert that changes the primary key on MySQL", ErrUnsupported)
	}
	for i, t := range ex.targets {
		if t != nil && ex.a.Kind == sqlstmt.Update && setsKey(&sqlstmt.Analysis{SetColumns: myClauses(ex.a).targets[i].set}, t) {
			return nil, nil, stmtError(ex.query, t.display, "cannot audit an UPDATE that changes the primary key on MySQL", ErrUnsupported)
		}
	}
	p := ex.c.c.plan(planKey{a: ex.a, t: ex.t, wantRows: ex.wantRows}, func() any { return myPlanFor(ex) }).(*myPlan)
	m := ex.c.dc.(*myConn)
	if p.blocks[0] != "" && !m.noBlock {
		if res, rows, ran, err := m.runBlock(ex, p); ran {
			return res, rows, err
		}
	}
	own := !m.inTransaction()
	begin, rollback := "SAVEPOINT _sqa", "ROLLBACK TO SAVEPOINT _sqa"
	if own {
		m.tx++
		begin, rollback = "START TRANSACTION", "ROLLBACK"
	}
	if _, err := ex.c.rawExec(ex.ctx, begin, nil); err != nil {
		return nil, nil, err
	}
	res, rows, err := m.runPlan(ex, p)
	if err == nil && own {
		_, err = ex.c.rawExec(ex.ctx, "COMMIT", nil)
	}
	if own {
		defer m.txEnded()
	}
	if err != nil {
		ex.c.rawExec(context.WithoutCancel(ex.ctx), rollback, nil) //nolint:errcheck // the first error is the one to report
		return nil, nil, noRetry(err)
	}
	return res, rows, nil
}

// myCheckArgs: go-sql-driver binds arguments to ? in order; the rewrite
// moves them around, so their number must match and none may be named.
func myCheckArgs(ex *execution) error {
	for _, a := range ex.args {
		if a.Name != "" {
			return stmtError(ex.query, ex.t.display, "named arguments are not supported by MySQL placeholders", ErrUnsupported)
		}
	}
	if len(ex.args) != ex.a.NumParams {
		return stmtError(ex.query, ex.t.display, fmt.Sprintf("the statement has %d placeholders but %d arguments were given", ex.a.NumParams, len(ex.args)), ErrUnsupported)
	}
	return nil
}

func (m *myConn) runPlan(ex *execution, p *myPlan) (driver.Result, driver.Rows, error) {
	switch {
	case ex.a.Upsert:
		return m.runUpsert(ex, p)
	case ex.a.Kind == sqlstmt.Insert:
		return m.runInsert(ex, p)
	}
	return m.runChange(ex, p)
}

// runChange: lock and copy the rows of every target, run the restricted
// statement, write the records of the copied rows that changed (UPDATE)
// or vanished (DELETE).
func (m *myConn) runChange(ex *execution, p *myPlan) (driver.Result, driver.Rows, error) {
	m.seq++
	s := m.seq
	copyArgs, stmtArgs := myChangeArgs(ex, s, len(p.targets))
	var copied int64
	for _, tg := range p.targets {
		if err := m.ensureCopy(ex, tg); err != nil {
			return nil, nil, err
		}
		res, err := ex.c.preparedExec(ex.ctx, tg.copy, named(copyArgs...))
		if err != nil {
			return nil, nil, err
		}
		n, _ := res.RowsAffected()
		copied += n
		if err := m.checkCascades(ex, tg, s); err != nil {
			return nil, nil, err
		}
	}
	res, rows, err := m.runStmt(ex, p.stmt, named(stmtArgs...))
	if err != nil {
		return nil, nil, err
	}
	for _, tg := range p.targets {
		if _, err := ex.c.preparedExec(ex.ctx, tg.records, named(m.recordArgs(ex, s)...)); err != nil {
			return nil, nil, stmtError(ex.query, tg.t.display, "writing the audit records failed", ErrRecord, err)
		}
	}
	if err := m.prune(ex, p, copied); err != nil {
		return nil, nil, err
	}
	return res, rows, nil
}

// prune empties the copy tables once they hold many rows (copied adds to
// the count): their rows are only read by the statement that copied them.
func (m *myConn) prune(ex *execution, p *myPlan, copied int64) error {
	if m.pending += copied; m.pending <= 10000 {
		return nil
	}
	for _, tg := range p.targets {
		if _, err := ex.c.rawExec(ex.ctx, `DELETE FROM `+tg.copyName, nil); err != nil {
			return err
		}
	}
	m.pending = 0
	return nil
}

// myChangeArgs deals the caller's arguments to an UPDATE's or DELETE's
// copy statement (its table references, its predicate and ORDER BY/LIMIT,
// after the statement number s) and to the restricted statement (all of
// them, with s once per target after the predicate's).
func myChangeArgs(ex *execution, s int64, targets int) (copyArgs, stmtArgs []driver.Value) {
	c, vals := myClauses(ex.a), values(ex.args)
	cut := c.beforeWhere + c.whereArgs
	copyArgs = append(append([]driver.Value{s}, vals[:c.beforeWhere-c.setArgs]...), vals[c.beforeWhere:]...)
	stmtArgs = append(make([]driver.Value, 0, len(vals)+targets), vals[:cut]...)
	for range targets {
		stmtArgs = append(stmtArgs, s)
	}
	return copyArgs, append(stmtArgs, vals[cut:]...)
}

// recordArgs are the arguments of a target's records statement.
func (m *myConn) recordArgs(ex *execution, s int64) []driver.Value {
	return []driver.Value{m.tx, m.tx, ex.actor, ex.metadata, ex.query, s}
}

// checkCascades refuses the statement when a copied (locked) row has
// children in an audited table that a foreign-key action would change.
func (m *myConn) checkCascades(ex *execution, tg myTarget, s int64) error {
	for _, fk := range tg.cascades {
		rows, err := ex.c.queryAll(ex.ctx, fk.check, named(s)...)
		if err != nil {
			return err
		}
		if len(rows) > 0 {
			return stmtError(ex.query, tg.t.display, "a foreign-key action ("+fk.action+") would change rows of the audited table "+fk.child+" unseen", ErrUnsupported)
		}
	}
	return nil
}

// runStmt runs the caller's (rewritten) statement. MariaDB's DELETE …
// RETURNING rows are read in full first: the records are written after.
// A Query without RETURNING gets no rows, as from the plain driver.
func (m *myConn) runStmt(ex *execution, q string, args []driver.NamedValue) (driver.Result, driver.Rows, error) {
	if ex.a.Returning == "" {
		res, err := ex.c.preparedExec(ex.ctx, q, args)
		if ex.wantRows && err == nil {
			return nil, &bufferedRows{}, nil
		}
		return res, nil, err
	}
	rows, err := ex.c.preparedQuery(ex.ctx, q, args)
	if err != nil {
		return nil, nil, err
	}
	cols := rows.Columns()
	buf := &bufferedRows{cols: cols}
	dest := make([]driver.Value, len(cols))
	for err = rows.Next(dest); err == nil; err = rows.Next(dest) {
		buf.data = append(buf.data, keep(dest, len(cols)))
	}
	rows.Close()
	if err != io.EOF {
		return nil, nil, err
	}
	if ex.wantRows {
		return nil, buf, nil
	}
	return result{hasLast: true}, nil, nil // Exec of a statement with a result set: go-sql-driver reports 0, 0
}

// ensureCopy creates a target's copy table on this connection, again after
// the table's definition changed (a new catalog entry, a new plan).
func (m *myConn) ensureCopy(ex *execution, tg myTarget) error {
	if m.copies[tg.copyName] == tg.t {
		return nil
	}
	for _, q := range []string{`DROP TEMPORARY TABLE IF EXISTS ` + tg.copyName, tg.copyDDL} {
		if _, err := ex.c.rawExec(ex.ctx, q, nil); err != nil {
			return stmtError(ex.query, tg.t.display, "creating the TEMPORARY copy table failed (the role needs CREATE TEMPORARY TABLES)", ErrRecord, err)
		}
	}
	m.copies[tg.copyName] = tg.t
	return nil
}

// runInsert runs the INSERT returning the new rows' keys (after the
// caller's RETURNING columns), then records the rows read back by key.
func (m *myConn) runInsert(ex *execution, p *myPlan) (driver.Result, driver.Rows, error) {
	rows, err := ex.c.preparedQuery(ex.ctx, p.stmt, ex.args)
	if err != nil {
		return nil, nil, err
	}
	cols := rows.Columns()
	user := len(cols) - p.hidden
	var kept [][]driver.Value
	var keys [][]driver.Value
	dest := make([]driver.Value, len(cols))
	for {
		if err = rows.Next(dest); err != nil {
			break
		}
		if ex.wantRows {
			kept = append(kept, keep(dest, user))
		}
		keys = append(keys, keep(dest[user:], p.hidden))
	}
	rows.Close()
	if err != io.EOF {
		return nil, nil, err
	}
	n := len(keys)
	lastID, err := m.lastInsertID(ex, p, keys)
	if err != nil {
		return nil, nil, err
	}
	if ex.a.Returning != "" { // Exec of a statement with a result set: go-sql-driver reports 0, 0
		n, lastID = 0, 0
	}
	for len(keys) > 0 {
		batch := keys[:min(len(keys), 512)]
		keys = keys[len(batch):]
		if err := m.insertRecords(ex, p, batch); err != nil {
			return nil, nil, stmtError(ex.query, ex.t.display, "writing the audit records failed", ErrRecord, err)
		}
	}
	switch {
	case ex.wantRows && ex.a.Returning == "":
		return nil, &bufferedRows{}, nil
	case ex.wantRows:
		return nil, &bufferedRows{cols: cols[:user], data: kept}, nil
	}
	return result{rows: int64(n), lastID: lastID, hasLast: true}, nil, nil
}

// lastInsertID is what the server's OK packet would have said: the first
// id the statement generated, else the last row's AUTO_INCREMENT value, else
// 0. Only when the statement names the AUTO_INCREMENT column may it mix
// generated and explicit ids; LAST_INSERT_ID() then tells which.
func (m *myConn) lastInsertID(ex *execution, p *myPlan, keys [][]driver.Value) (int64, error) {
	if p.autoAt < 0 || len(keys) == 0 {
		return 0, nil
	}
	if !p.autoListed {
		return asInt(keys[0][p.autoAt]), nil
	}
	rows, err := ex.c.queryAll(ex.ctx, `SELECT LAST_INSERT_ID()`)
	if err != nil {
		return 0, err
	}
	lii := asInt(rows[0][0])
	for _, k := range keys {
		if asInt(k[p.autoAt]) == lii {
			return lii, nil
		}
	}
	return asInt(keys[len(keys)-1][p.autoAt]), nil
}

// insertRecords records the inserted rows with the given keys, read back
// in one statement; the key list is padded (repeating its last key) to a
// few sizes so that the statements stay prepared.
func (m *myConn) insertRecords(ex *execution, p *myPlan, keys [][]driver.Value) error {
	size := 1
	for size < len(keys) {
		size *= 8
	}
	size = min(size, 512)
	args := []driver.Value{m.tx, m.tx, ex.actor, ex.metadata, ex.query}
	nk := len(ex.t.key)
	for i := 0; i < size; i++ {
		args = append(args, keys[min(i, len(keys)-1)][:nk]...)
	}
	_, err := ex.c.preparedExec(ex.ctx, p.insert(size), named(args...))
	return err
}
