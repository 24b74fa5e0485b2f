package sqlaudit_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mattn/go-sqlite3"

	"github.com/sqlaudit/sqlaudit"
)

// skipDriver is go-sqlite3 behind a connection that answers every
// ExecContext and QueryContext with driver.ErrSkip, as some drivers do, so
// database/sql and the wrapper must prepare instead. It counts executions
// of UPDATE statements and can answer the next one, after running it, with
// driver.ErrBadConn. Real SQLite underneath; only the plumbing is fake.
type skipDriver struct {
	execs     atomic.Int64
	failAfter atomic.Bool
	resets    atomic.Int64
	invalid   atomic.Bool
	opens     atomic.Int64
}

func (d *skipDriver) Open(dsn string) (driver.Conn, error) {
	d.opens.Add(1)
	c, err := (&sqlite3.SQLiteDriver{}).Open(dsn)
	if err != nil {
		return nil, err
	}
	return &skipConn{SQLiteConn: c.(*sqlite3.SQLiteConn), d: d}, nil
}

type skipConn struct {
	*sqlite3.SQLiteConn
	d *skipDriver
}

func (c *skipConn) ExecContext(context.Context, string, []driver.NamedValue) (driver.Result, error) {
	return nil, driver.ErrSkip
}

func (c *skipConn) QueryContext(context.Context, string, []driver.NamedValue) (driver.Rows, error) {
	return nil, driver.ErrSkip
}

func (c *skipConn) ResetSession(context.Context) error { c.d.resets.Add(1); return nil }
func (c *skipConn) IsValid() bool                      { return !c.d.invalid.Load() }

func (c *skipConn) Prepare(q string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), q)
}

func (c *skipConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	st, err := c.SQLiteConn.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	return &skipStmt{SQLiteStmt: st.(*sqlite3.SQLiteStmt), q: q, d: c.d}, nil
}

type skipStmt struct {
	*sqlite3.SQLiteStmt
	q string
	d *skipDriver
}

func (s *skipStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if !strings.HasPrefix(s.q, "UPDATE accounts") {
		return s.SQLiteStmt.ExecContext(ctx, args)
	}
	s.d.execs.Add(1) // the caller's UPDATE, as the wrapper runs it
	res, err := s.SQLiteStmt.ExecContext(ctx, args)
	if err == nil && s.d.failAfter.CompareAndSwap(true, false) {
		return nil, driver.ErrBadConn
	}
	return res, err
}

// openSkipDB opens the accounts test table through skipDriver.
func openSkipDB(t *testing.T) (*skipDriver, *sql.DB, *testDB) {
	t.Helper()
	d := &skipDriver{}
	_, td := mustOpen(t, "audit-sqlite3")
	c, err := sqlaudit.Wrap(d, sqlaudit.SQLite, sqlaudit.Options{}).OpenConnector(td.dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	seedAccounts(t, db)
	return d, db, td
}

func TestErrSkipFallbackRunsTheStatementOnce(t *testing.T) {
	d, db, td := openSkipDB(t)
	d.execs.Store(0)
	checkChange(t, td, "accounts", []string{"id"}, func() { mustExec(t, db, `UPDATE accounts SET balance = balance + 1 WHERE id = 1`) })
	if n := d.execs.Load(); n != 1 {
		t.Fatalf("the UPDATE ran %d times", n)
	}
}

// A driver.ErrBadConn that arrives after the statement was sent (here: the
// caller's UPDATE ran, then the connection "broke") never reaches
// database/sql, which would run the statement again; the change and its
// records went together.
func TestBadConnAfterTheStatementIsNotRetried(t *testing.T) {
	d, db, td := openSkipDB(t)
	d.execs.Store(0)
	checkChange(t, td, "accounts", []string{"id"}, func() {
		d.failAfter.Store(true)
		_, err := db.Exec(`UPDATE accounts SET balance = balance + 1 WHERE id = 1`)
		if err == nil || errors.Is(err, driver.ErrBadConn) {
			t.Fatalf("want a plain error for a broken connection, got %v", err)
		}
	})
	if n := d.execs.Load(); n != 1 {
		t.Fatalf("database/sql ran the UPDATE %d times", n)
	}
}

func TestSessionResetAndValidityReachTheDriver(t *testing.T) {
	d := &skipDriver{}
	_, td := mustOpen(t, "audit-sqlite3")
	c, err := sqlaudit.Wrap(d, sqlaudit.SQLite, sqlaudit.Options{}).OpenConnector(td.dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	defer db.Close()
	db.SetMaxOpenConns(1)
	seedAccounts(t, db)
	before := d.resets.Load()
	mustExec(t, db, `UPDATE accounts SET note = 'x'`, `UPDATE accounts SET note = 'y'`)
	if d.resets.Load() <= before {
		t.Fatal("ResetSession was not passed to the driver when the connection was reused")
	}
	opens := d.opens.Load()
	d.invalid.Store(true) // database/sql must discard the connection when it comes back
	mustExec(t, db, `UPDATE accounts SET note = 'z'`)
	d.invalid.Store(false)
	mustExec(t, db, `UPDATE accounts SET note = 'w'`)
	if d.opens.Load() == opens {
		t.Fatal("an invalid connection was reused: IsValid was not passed to the driver")
	}
}
