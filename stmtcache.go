package sqlaudit

import (
	"context"
	"database/sql/driver"
)

// stmtCache keeps the rewritten statements a connection runs as prepared
// statements of the underlying driver: lib/pq then sends one round trip
// instead of two and the server plans each statement once per connection.
// It is dropped whenever the connector's DDL generation moves on.
type stmtCache struct {
	gen   uint64
	stmts map[string]driver.Stmt
}

// maxCachedStmts bounds the prepared statements kept per connection.
const maxCachedStmts = 128

// preparedQuery runs q as a cached prepared statement. A statement whose
// execution fails is dropped from the cache (its table may have changed).
func (c *conn) preparedQuery(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	if gen := c.c.ddlGen.Load(); c.sc.gen != gen {
		c.closeStmts()
		c.sc.gen = gen
	}
	st := c.sc.stmts[q]
	if st == nil {
		if len(c.sc.stmts) >= maxCachedStmts {
			c.closeStmts()
		}
		var err error
		if st, err = c.rawPrepare(ctx, q); err != nil {
			return nil, err
		}
		if c.sc.stmts == nil {
			c.sc.stmts = map[string]driver.Stmt{}
		}
		c.sc.stmts[q] = st
	}
	var rows driver.Rows
	var err error
	if sq, ok := st.(driver.StmtQueryContext); ok {
		rows, err = sq.QueryContext(ctx, args)
	} else if err = ctx.Err(); err == nil {
		rows, err = st.Query(values(args)) //nolint:staticcheck // the driver offers nothing else
	}
	if err != nil {
		delete(c.sc.stmts, q)
		st.Close()
	}
	return rows, err
}

// closeStmts closes every cached statement.
func (c *conn) closeStmts() {
	for _, st := range c.sc.stmts {
		st.Close()
	}
	c.sc.stmts = nil
}
