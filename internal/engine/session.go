package engine

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
)

// Session is one audited connection as dialects see it: the underlying
// driver connection, the database's shared state, the dialect's own state,
// the connection's catalog and its cache of prepared statements. Internal
// statements run here; the caller's statements reach it only through the
// wrapper's decisions (the root package).
type Session struct {
	Raw    driver.Conn
	Shared *Shared
	State  Conn // the dialect's state, set by Open

	fresh CatalogChecker // State, when it checks catalog entries
	cat   catalog
	sc    stmtCache
}

// NewSession wraps a new underlying connection.
func NewSession(raw driver.Conn, sh *Shared) *Session {
	return &Session{Raw: raw, Shared: sh}
}

// Open lets the dialect set up the connection.
func (s *Session) Open(ctx context.Context) error {
	st, err := s.Shared.Dialect.Open(ctx, s)
	if err != nil {
		return err
	}
	s.State = st
	s.fresh, _ = st.(CatalogChecker)
	return nil
}

// Close closes the cached statements and the underlying connection.
func (s *Session) Close() error {
	s.CloseStmts()
	return s.Raw.Close()
}

// PassThrough runs q on the underlying connection untouched. Unless
// fallback is set (a prepared statement runs, which must not return
// driver.ErrSkip), a driver without the direct path gets database/sql's own
// fallback through driver.ErrSkip, as without the wrapper.
func (s *Session) PassThrough(ctx context.Context, q string, args []driver.NamedValue, wantRows, fallback bool) (driver.Result, driver.Rows, error) {
	if wantRows {
		if qc, ok := s.Raw.(driver.QueryerContext); ok && !fallback {
			rows, err := qc.QueryContext(ctx, q, args)
			return nil, rows, err
		}
		if !fallback {
			return nil, nil, driver.ErrSkip
		}
		rows, err := s.RawQuery(ctx, q, args)
		return nil, rows, err
	}
	if ex, ok := s.Raw.(driver.ExecerContext); ok && !fallback {
		res, err := ex.ExecContext(ctx, q, args)
		return res, nil, err
	}
	if !fallback {
		return nil, nil, driver.ErrSkip
	}
	res, err := s.RawExec(ctx, q, args)
	return res, nil, err
}

// RawExec runs q on the underlying connection, preparing it when the driver
// asks to (driver.ErrSkip), so the statement runs exactly once either way.
func (s *Session) RawExec(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	if ex, ok := s.Raw.(driver.ExecerContext); ok {
		res, err := ex.ExecContext(ctx, q, args)
		if !errors.Is(err, driver.ErrSkip) {
			return res, err
		}
	}
	st, err := s.RawPrepare(ctx, q)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return stmtExec(ctx, st, args)
}

// RawQuery is RawExec for statements that return rows. A prepared fallback
// statement is closed when its rows are. Columns is asked first, as
// database/sql does (ncruces's rows read their column names there).
func (s *Session) RawQuery(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	rows, err := s.rawQuery(ctx, q, args)
	if err == nil {
		rows.Columns()
	}
	return rows, err
}

func (s *Session) rawQuery(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	if qc, ok := s.Raw.(driver.QueryerContext); ok {
		rows, err := qc.QueryContext(ctx, q, args)
		if !errors.Is(err, driver.ErrSkip) {
			return rows, err
		}
	}
	st, err := s.RawPrepare(ctx, q)
	if err != nil {
		return nil, err
	}
	rows, err := stmtQuery(ctx, st, args)
	if err != nil {
		st.Close()
		return nil, err
	}
	return stmtRows{Rows: rows, st: st}, nil
}

// RawPrepare prepares q on the underlying connection.
func (s *Session) RawPrepare(ctx context.Context, q string) (driver.Stmt, error) {
	if pc, ok := s.Raw.(driver.ConnPrepareContext); ok {
		return pc.PrepareContext(ctx, q)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.Raw.Prepare(q)
}

// QueryAll runs an internal query (prepared once per connection) and
// returns every row, closing the rows before it returns: lib/pq and pgx
// cannot run a second statement while a result set is open. Text values
// come back as strings (the driver may reuse its buffers).
func (s *Session) QueryAll(ctx context.Context, q string, args ...driver.NamedValue) ([][]driver.Value, error) {
	rows, err := s.PreparedQuery(ctx, q, args)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]driver.Value
	for {
		row := make([]driver.Value, len(rows.Columns()))
		if err := rows.Next(row); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		for i, v := range row {
			if b, ok := v.([]byte); ok {
				row[i] = string(b)
			}
		}
		out = append(out, row)
	}
}

// stmtRows closes the statement behind the rows with them.
type stmtRows struct {
	driver.Rows
	st driver.Stmt
}

func (r stmtRows) Close() error {
	err := r.Rows.Close()
	if cerr := r.st.Close(); err == nil {
		err = cerr
	}
	return err
}

// stmtExec runs a prepared statement by its context method when it has one.
func stmtExec(ctx context.Context, st driver.Stmt, args []driver.NamedValue) (driver.Result, error) {
	if se, ok := st.(driver.StmtExecContext); ok {
		return se.ExecContext(ctx, args)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return st.Exec(Values(args)) //nolint:staticcheck // the driver offers nothing else
}

// stmtQuery is stmtExec for rows.
func stmtQuery(ctx context.Context, st driver.Stmt, args []driver.NamedValue) (driver.Rows, error) {
	if sq, ok := st.(driver.StmtQueryContext); ok {
		return sq.QueryContext(ctx, args)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return st.Query(Values(args)) //nolint:staticcheck // the driver offers nothing else
}
