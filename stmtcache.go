package sqlaudit

import (
	"context"
	"database/sql/driver"
)

// stmtCache keeps the statements the wrapper itself runs on a connection as
// prepared statements of the underlying driver: lib/pq then sends one round
// trip instead of two and PostgreSQL plans each statement once per
// connection; go-sqlite3 (whose own cache is off by default) compiles each
// once. It is dropped whenever the connector's DDL generation moves on.
type stmtCache struct {
	gen   uint64
	stmts map[string]driver.Stmt
}

// maxCachedStmts bounds the prepared statements kept per connection.
const maxCachedStmts = 128

// prepared returns the cached prepared statement for q, preparing it on a
// miss.
func (c *conn) prepared(ctx context.Context, q string) (driver.Stmt, error) {
	if gen := c.c.ddlGen.Load(); c.sc.gen != gen {
		c.closeStmts()
		c.sc.gen = gen
	}
	if st := c.sc.stmts[q]; st != nil {
		return st, nil
	}
	if len(c.sc.stmts) >= maxCachedStmts {
		c.closeStmts()
	}
	st, err := c.rawPrepare(ctx, q)
	if err != nil {
		return nil, err
	}
	if c.sc.stmts == nil {
		c.sc.stmts = map[string]driver.Stmt{}
	}
	c.sc.stmts[q] = st
	return st, nil
}

// fit drops the arguments a statement has no placeholder for: the SQLite
// copy of old rows uses only its predicate's ?NNN, not the SET clause's.
func fit(st driver.Stmt, args []driver.NamedValue) []driver.NamedValue {
	n := st.NumInput()
	if n < 0 || n >= len(args) {
		return args
	}
	out := make([]driver.NamedValue, 0, n)
	for _, a := range args {
		if a.Ordinal <= n {
			out = append(out, a)
		}
	}
	return out
}

// forgetStmt drops a statement whose execution failed (its table may have
// changed under it).
func (c *conn) forgetStmt(q string, st driver.Stmt) {
	delete(c.sc.stmts, q)
	st.Close()
}

// preparedQuery runs q as a cached prepared statement.
func (c *conn) preparedQuery(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	st, err := c.prepared(ctx, q)
	if err != nil {
		return nil, err
	}
	args = fit(st, args)
	var rows driver.Rows
	if sq, ok := st.(driver.StmtQueryContext); ok {
		rows, err = sq.QueryContext(ctx, args)
	} else if err = ctx.Err(); err == nil {
		rows, err = st.Query(values(args)) //nolint:staticcheck // the driver offers nothing else
	}
	if err != nil {
		c.forgetStmt(q, st)
	}
	return rows, err
}

// preparedExec is preparedQuery for statements without rows.
func (c *conn) preparedExec(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	st, err := c.prepared(ctx, q)
	if err != nil {
		return nil, err
	}
	args = fit(st, args)
	var res driver.Result
	if se, ok := st.(driver.StmtExecContext); ok {
		res, err = se.ExecContext(ctx, args)
	} else if err = ctx.Err(); err == nil {
		res, err = st.Exec(values(args)) //nolint:staticcheck // the driver offers nothing else
	}
	if err != nil {
		c.forgetStmt(q, st)
	}
	return res, err
}

// closeStmts closes every cached statement.
func (c *conn) closeStmts() {
	for _, st := range c.sc.stmts {
		st.Close()
	}
	c.sc.stmts = nil
}
