package sqlaudit

import (
	"context"
	"database/sql/driver"
	"errors"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// prepareCopy prepares a COPY … FROM STDIN through a dialect that audits it
// (lib/pq's CopyIn): into an audited table the rows go to a staging table
// and are inserted, recorded, when the COPY ends; into an excluded one the
// driver's own COPY runs. It returns nil, nil for every other statement.
func (c *conn) prepareCopy(ctx context.Context, a *sqlstmt.Analysis) (driver.Stmt, error) {
	cp, ok := c.c.sh.Dialect.(engine.CopyPreparer)
	if !ok || !a.CopyIn || !cp.CanCopy(c.s) {
		return nil, nil
	}
	t, run, err := c.decide(ctx, a, a.Text, a.Table)
	switch {
	case err != nil:
		return nil, err
	case t == nil || !run:
		raw, err := c.s.RawPrepare(ctx, a.Text) // the driver's own COPY, unaudited
		if err != nil {
			return nil, err
		}
		return &stmt{c: c, query: a.Text, raw: raw}, nil
	}
	copying, err := cp.PrepareCopy(ctx, c.s, a, t)
	if err != nil {
		return nil, err
	}
	return &copyStmt{c: c, a: a, cp: copying}, nil
}

// copyStmt is a COPY into an audited table.
type copyStmt struct {
	c    *conn
	a    *sqlstmt.Analysis // the COPY
	cp   *engine.Copy
	done bool
}

var (
	_ driver.StmtExecContext   = (*copyStmt)(nil)
	_ driver.NamedValueChecker = (*copyStmt)(nil)
)

// errCopyDone is what a row sent after the COPY ended gets.
var errCopyDone = errors.New("sqlaudit: the COPY has already been finished")

func (s *copyStmt) NumInput() int { return -1 }

func (s *copyStmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), engine.Named(args...))
}

func (s *copyStmt) Query([]driver.Value) (driver.Rows, error) {
	return nil, errors.New("sqlaudit: COPY … FROM STDIN returns no rows; use Exec")
}

// ExecContext sends one row, or with no arguments ends the COPY and
// inserts the rows, recorded.
func (s *copyStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if s.done {
		return nil, errCopyDone
	}
	if len(args) > 0 {
		return s.cp.Rows.Exec(engine.Values(args)) //nolint:staticcheck // lib/pq's copyin offers nothing else
	}
	res, err := s.finish(ctx)
	return res, s.c.public(err)
}

// finish ends the COPY into the staging table and moves the rows into the
// table with the audited INSERT, recorded as the COPY statement.
func (s *copyStmt) finish(ctx context.Context) (driver.Result, error) {
	s.done = true
	if _, err := s.cp.Rows.Exec(nil); err != nil { //nolint:staticcheck // lib/pq's copyin offers nothing else
		return nil, err
	}
	res, _, err := s.c.runWrite(ctx, s.c.c.sh.Analysis(s.cp.Insert), s.a.Text, nil, false, true)
	if err != nil {
		return nil, err
	}
	if _, err := s.c.s.RawExec(ctx, s.cp.Done, nil); err != nil {
		return nil, engine.NoRetry(err)
	}
	return res, nil
}

// Close ends a COPY that was not ended with Exec(), as lib/pq's Close does:
// its rows are inserted (and recorded).
func (s *copyStmt) Close() error {
	var err error
	if !s.done {
		_, err = s.finish(context.Background())
	}
	return errors.Join(s.c.public(err), s.cp.Rows.Close())
}

func (s *copyStmt) CheckNamedValue(nv *driver.NamedValue) error { return s.c.CheckNamedValue(nv) }
