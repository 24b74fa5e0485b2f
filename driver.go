package sqlaudit

import (
	"context"
	"database/sql"
	"database/sql/driver"

	"github.com/sqlaudit/sqlaudit/internal/engine"
)

// Driver wraps a database/sql driver so that every INSERT, UPDATE and DELETE
// through it is recorded in the audit table, in the same transaction.
// The audit_* parameters of a DSN are removed before the underlying driver
// sees it and override the Options the Driver was made with.
type Driver struct {
	parent  driver.Driver
	dialect Dialect
	opts    Options
}

var (
	_ driver.Driver        = (*Driver)(nil)
	_ driver.DriverContext = (*Driver)(nil)
)

// Wrap returns an audit driver over parent, which must speak dialect.
func Wrap(parent driver.Driver, dialect Dialect, opts Options) *Driver {
	return &Driver{parent: parent, dialect: dialect, opts: opts}
}

// Register wraps parent and registers it with database/sql under name. Like
// sql.Register it panics when name is taken; call it from an init function.
func Register(name string, parent driver.Driver, dialect Dialect) {
	sql.Register(name, Wrap(parent, dialect, Options{}))
}

// Open opens one audited connection. database/sql prefers OpenConnector,
// which shares the statement and catalog caches across connections.
func (d *Driver) Open(dsn string) (driver.Conn, error) {
	c, err := d.OpenConnector(dsn)
	if err != nil {
		return nil, err
	}
	return c.Connect(context.Background())
}

// OpenConnector parses the wrapper's DSN parameters and returns a connector
// over the underlying driver's own connector (or its Open when it has none).
func (d *Driver) OpenConnector(dsn string) (driver.Connector, error) {
	stripped, opts, err := parseDSN(dsn, d.opts, d.dialect.impl().Features().Has(engine.KeywordDSN))
	if err != nil {
		return nil, err
	}
	var base driver.Connector = dsnConnector{parent: d.parent, dsn: stripped}
	if dc, ok := d.parent.(driver.DriverContext); ok {
		if base, err = dc.OpenConnector(stripped); err != nil {
			return nil, err
		}
	}
	return newConnector(base, d, d.dialect, opts)
}

// dsnConnector is the connector of a driver without DriverContext.
type dsnConnector struct {
	parent driver.Driver
	dsn    string
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.parent.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.parent }
