package sqlaudit

import (
	"context"
	"database/sql/driver"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// stmt is a prepared statement. A read or other pass-through statement
// wraps the underlying prepared statement; an audited write has none and
// runs through its connection's capture path at execution time.
type stmt struct {
	c     *conn
	query string
	a     *sqlstmt.Analysis // nil for plain reads
	raw   driver.Stmt       // nil for audited writes
}

var (
	_ driver.Stmt              = (*stmt)(nil)
	_ driver.StmtExecContext   = (*stmt)(nil)
	_ driver.StmtQueryContext  = (*stmt)(nil)
	_ driver.NamedValueChecker = (*stmt)(nil)
)

// Close closes the underlying prepared statement, if any.
func (s *stmt) Close() error {
	if s.raw != nil {
		return s.raw.Close()
	}
	return nil
}

// NumInput is the underlying statement's, or -1 (unknown: the database
// checks the argument count) for audited writes.
func (s *stmt) NumInput() int {
	if s.raw != nil {
		return s.raw.NumInput()
	}
	return -1
}

// Exec is the legacy form of ExecContext.
func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), engine.Named(args...))
}

// Query is the legacy form of QueryContext.
func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), engine.Named(args...))
}

// ExecContext runs the statement; never returns driver.ErrSkip.
func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if s.raw == nil {
		res, _, err := s.c.run(ctx, s.query, args, false, true)
		return res, s.c.public(err)
	}
	var res driver.Result
	var err error
	if se, ok := s.raw.(driver.StmtExecContext); ok {
		res, err = se.ExecContext(ctx, args)
	} else if err = ctx.Err(); err == nil {
		res, err = s.raw.Exec(engine.Values(args)) //nolint:staticcheck // the driver offers nothing else
	}
	s.c.after(s.a)
	return res, err
}

// QueryContext runs the statement; never returns driver.ErrSkip.
func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if s.raw == nil {
		_, rows, err := s.c.run(ctx, s.query, args, true, true)
		return rows, s.c.public(err)
	}
	var rows driver.Rows
	var err error
	if sq, ok := s.raw.(driver.StmtQueryContext); ok {
		rows, err = sq.QueryContext(ctx, args)
	} else if err = ctx.Err(); err == nil {
		rows, err = s.raw.Query(engine.Values(args)) //nolint:staticcheck // the driver offers nothing else
	}
	s.c.after(s.a)
	return rows, err
}

// CheckNamedValue defers to the underlying statement, then to the
// connection, so driver-specific argument types keep working.
func (s *stmt) CheckNamedValue(nv *driver.NamedValue) error {
	if nc, ok := s.raw.(driver.NamedValueChecker); ok {
		return nc.CheckNamedValue(nv)
	}
	return s.c.CheckNamedValue(nv)
}
