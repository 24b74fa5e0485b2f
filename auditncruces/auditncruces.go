// Package auditncruces registers the "audit-ncruces" driver:
// github.com/ncruces/go-sqlite3 (SQLite compiled to Go through Wasm, no
// cgo) underneath, every write audited by sqlaudit with the same guarantees
// as audit-sqlite3.
//
//	import _ "github.com/sqlaudit/sqlaudit/auditncruces"
//
//	db, err := sql.Open("audit-ncruces", "file:app.db?_pragma=busy_timeout(10000)")
//
// The DSN is ncruces's: PRAGMAs as _pragma=name(value) (without any, a busy
// timeout of one minute), _txlock=deferred|immediate|exclusive for db.Begin
// (default immediate), _timefmt for how time.Time arguments are written
// (default RFC 3339 with nanoseconds, "2006-01-02T15:04:05.999999999Z07:00").
// Errors are *sqlite3.Error of github.com/ncruces/go-sqlite3 (errors.As;
// ExtendedCode()). LastInsertId and RowsAffected are the plain driver's.
//
// ncruces's driver package registers itself as "sqlite3", the name
// mattn/go-sqlite3 registers too: a program that links both panics at start
// unless one is renamed at link time, for ncruces with
// -ldflags=-X=github.com/ncruces/go-sqlite3/driver.driverName=<name or empty>.
// This package needs no registered name: it wraps the driver value itself.
// Its connections check arguments as ncruces's statements do (ncruces's
// connection accepts any and converts them only in its statements).
package auditncruces

import (
	"database/sql"
	"database/sql/driver"

	ncdriver "github.com/ncruces/go-sqlite3/driver"
	"github.com/sqlaudit/sqlaudit"
)

// DriverName is the name this package registers with database/sql.
const DriverName = "audit-ncruces"

func init() {
	sqlaudit.Register(DriverName, base{&ncdriver.SQLite{}}, sqlaudit.SQLite)
}

// NewConnector returns an audited connector for sql.OpenDB over ncruces's
// driver. The DSN's audit_* parameters apply over opts.
func NewConnector(dsn string, opts sqlaudit.Options) (driver.Connector, error) {
	return sqlaudit.Wrap(base{&ncdriver.SQLite{}}, sqlaudit.SQLite, opts).OpenConnector(dsn)
}

// Open is sql.OpenDB over NewConnector.
func Open(dsn string, opts sqlaudit.Options) (*sql.DB, error) {
	c, err := NewConnector(dsn, opts)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}
