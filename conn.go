package sqlaudit

import (
	"context"
	"database/sql/driver"
	"errors"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// conn is one audited connection. Plain reads go straight to the underlying
// connection; everything else takes the path in write.go.
type conn struct {
	s *engine.Session // the connection as the dialect sees it
	c *connector
}

var (
	_ driver.Conn               = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
)

// Unwrap returns the underlying driver connection, for code that reaches it
// through sql.Conn.Raw (for pgx: raw.(interface{ Unwrap() driver.Conn })).
// On SQLite the row capture is stopped first: what runs on the driver's own
// connection is not audited, and must not be recorded under the context of
// the last audited statement.
func (c *conn) Unwrap() driver.Conn {
	if err := c.unaudited(context.Background()); err != nil {
		c.s.Raw.Close() //nolint:errcheck // the connection is unusable either way
	}
	return c.s.Raw
}

// ExecContext runs q; a write to an audited table also writes its records.
func (c *conn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	if sqlstmt.IsPlainRead(q) {
		if ex, ok := c.s.Raw.(driver.ExecerContext); ok {
			return ex.ExecContext(ctx, q, args)
		}
		return nil, driver.ErrSkip
	}
	res, _, err := c.run(ctx, q, args, false, false)
	return res, public(err)
}

// QueryContext runs q; a write with RETURNING returns exactly the rows the
// underlying driver would, after its records were written.
func (c *conn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	if sqlstmt.IsPlainRead(q) {
		if qc, ok := c.s.Raw.(driver.QueryerContext); ok {
			return qc.QueryContext(ctx, q, args)
		}
		return nil, driver.ErrSkip
	}
	_, rows, err := c.run(ctx, q, args, true, false)
	return rows, public(err)
}

// Prepare is the legacy form of PrepareContext.
func (c *conn) Prepare(q string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), q)
}

// PrepareContext prepares q on the underlying connection, except for writes
// the wrapper audits: those are analysed now and run at execution time, so
// that a statement prepared outside a transaction and used inside one
// (Tx.Stmt) is audited in that transaction.
func (c *conn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	var a *sqlstmt.Analysis
	if !sqlstmt.IsPlainRead(q) {
		a = c.c.sh.Analysis(q)
		if st, err := c.prepareCopy(ctx, a); st != nil || err != nil {
			return st, public(err)
		}
		if err := c.serverReads(ctx, a); err != nil {
			return nil, err // a mistake fails at Prepare, as without the wrapper
		}
		switch a.Kind {
		case sqlstmt.Insert, sqlstmt.Update, sqlstmt.Delete, sqlstmt.Merge, sqlstmt.Unsupported:
			return &stmt{c: c, query: q, a: a}, nil
		}
	}
	raw, err := c.s.RawPrepare(ctx, q)
	if err != nil {
		return nil, err
	}
	return &stmt{c: c, query: q, a: a, raw: raw}, nil
}

// Begin is the legacy form of BeginTx.
func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// BeginTx starts a transaction on the underlying connection, passing the
// isolation level and read-only flag through.
func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	var raw driver.Tx
	var err error
	if bt, ok := c.s.Raw.(driver.ConnBeginTx); ok {
		raw, err = bt.BeginTx(ctx, opts)
	} else if opts.Isolation != 0 || opts.ReadOnly {
		return nil, errors.New("sqlaudit: the underlying driver does not support isolation levels or read-only transactions")
	} else {
		raw, err = c.s.Raw.Begin() //nolint:staticcheck // the driver offers nothing else
	}
	if err != nil {
		return nil, err
	}
	c.s.State.TxBegan()
	return &tx{c: c, raw: raw}, nil
}

// Close closes the cached statements and the underlying connection.
func (c *conn) Close() error { return c.s.Close() }

// CheckNamedValue defers to the underlying connection, so that pq.Array,
// pgtype values and other driver-specific argument types keep working;
// without a checker there, database/sql's default conversion applies.
func (c *conn) CheckNamedValue(nv *driver.NamedValue) error {
	if nc, ok := c.s.Raw.(driver.NamedValueChecker); ok {
		return nc.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// ResetSession defers to the underlying connection.
func (c *conn) ResetSession(ctx context.Context) error {
	if sr, ok := c.s.Raw.(driver.SessionResetter); ok {
		return sr.ResetSession(ctx)
	}
	return nil
}

// IsValid defers to the underlying connection.
func (c *conn) IsValid() bool {
	if v, ok := c.s.Raw.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// Ping defers to the underlying connection.
func (c *conn) Ping(ctx context.Context) error {
	if p, ok := c.s.Raw.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}
