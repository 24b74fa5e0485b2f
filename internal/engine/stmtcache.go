package engine

import (
	"context"
	"database/sql/driver"
)

// stmtCache keeps the statements the wrapper itself runs on a connection as
// prepared statements of the underlying driver: lib/pq then sends one round
// trip instead of two and PostgreSQL plans each statement once per
// connection; go-sqlite3 (whose own cache is off by default) compiles each
// once. It is dropped whenever the shared DDL generation moves on.
type stmtCache struct {
	gen   uint64
	stmts map[string]driver.Stmt
}

// maxCachedStmts bounds the prepared statements kept per connection.
const maxCachedStmts = 128

// Prepared returns the cached prepared statement for q, preparing it on a
// miss.
func (s *Session) Prepared(ctx context.Context, q string) (driver.Stmt, error) {
	if gen := s.Shared.Generation(); s.sc.gen != gen {
		s.CloseStmts()
		s.sc.gen = gen
	}
	if st := s.sc.stmts[q]; st != nil {
		return st, nil
	}
	if len(s.sc.stmts) >= maxCachedStmts {
		s.CloseStmts()
	}
	st, err := s.RawPrepare(ctx, q)
	if err != nil {
		return nil, err
	}
	if s.sc.stmts == nil {
		s.sc.stmts = map[string]driver.Stmt{}
	}
	s.sc.stmts[q] = st
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

// forget drops a statement whose execution failed (its table may have
// changed under it).
func (s *Session) forget(q string, st driver.Stmt) {
	delete(s.sc.stmts, q)
	st.Close()
}

// PreparedQuery runs q as a cached prepared statement.
func (s *Session) PreparedQuery(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	st, err := s.Prepared(ctx, q)
	if err != nil {
		return nil, err
	}
	rows, err := stmtQuery(ctx, st, fit(st, args))
	if err != nil {
		s.forget(q, st)
	}
	return rows, err
}

// PreparedExec is PreparedQuery for statements without rows.
func (s *Session) PreparedExec(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	st, err := s.Prepared(ctx, q)
	if err != nil {
		return nil, err
	}
	res, err := stmtExec(ctx, st, fit(st, args))
	if err != nil {
		s.forget(q, st)
	}
	return res, err
}

// CloseStmts closes every cached statement (SQLite: statements compiled
// before its triggers changed must not run again).
func (s *Session) CloseStmts() {
	for _, st := range s.sc.stmts {
		st.Close()
	}
	s.sc.stmts = nil
}
