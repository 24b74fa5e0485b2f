package auditncruces

import (
	"context"
	"database/sql/driver"

	"github.com/ncruces/go-sqlite3"
	ncdriver "github.com/ncruces/go-sqlite3/driver"
)

// ncruces's connection says every argument is fine (CheckNamedValue
// returns nil) and converts them only in its statements, after its own
// ExecContext declined with driver.ErrSkip. The wrapper runs the caller's
// arguments through statements of its own, so its connections ask what a
// statement of ncruces's would: base wraps the driver's connections with
// that check and forwards everything else.

// base is ncruces's driver whose connections check arguments as its
// statements do.
type base struct{ d *ncdriver.SQLite }

func (b base) Open(name string) (driver.Conn, error) {
	c, err := b.d.Open(name)
	if err != nil {
		return nil, err
	}
	return newConn(c)
}

func (b base) OpenConnector(name string) (driver.Connector, error) {
	c, err := b.d.OpenConnector(name)
	if err != nil {
		return nil, err
	}
	return connector{c, b}, nil
}

type connector struct {
	c driver.Connector
	d base
}

func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
	raw, err := c.c.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return newConn(raw)
}

func (c connector) Driver() driver.Driver { return c.d }

// conn is one ncruces connection with a statement kept to check arguments.
type conn struct {
	driver.Conn
	check driver.NamedValueChecker
	st    driver.Stmt
}

func newConn(c driver.Conn) (*conn, error) {
	st, err := c.Prepare(`SELECT 1`)
	if err != nil {
		c.Close()
		return nil, err
	}
	check, _ := st.(driver.NamedValueChecker)
	return &conn{Conn: c, check: check, st: st}, nil
}

// Unwrap returns ncruces's own connection.
func (c *conn) Unwrap() driver.Conn { return c.Conn }

// Raw returns the SQLite connection (see ncruces's driver.Conn).
func (c *conn) Raw() *sqlite3.Conn { return c.Conn.(ncdriver.Conn).Raw() }

func (c *conn) CheckNamedValue(nv *driver.NamedValue) error {
	if c.check == nil {
		return driver.ErrSkip
	}
	return c.check.CheckNamedValue(nv)
}

func (c *conn) Close() error {
	c.st.Close()
	return c.Conn.Close()
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *conn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, q)
}

// ExecContext and QueryContext say driver.ErrSkip where ncruces has no
// direct path: database/sql (and the wrapper) then prepare the statement.
func (c *conn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	if e, ok := c.Conn.(driver.ExecerContext); ok {
		return e.ExecContext(ctx, q, args)
	}
	return nil, driver.ErrSkip
}

func (c *conn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	if qc, ok := c.Conn.(driver.QueryerContext); ok {
		return qc.QueryContext(ctx, q, args)
	}
	return nil, driver.ErrSkip
}

func (c *conn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *conn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *conn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}
