// Package auditmodernc registers the "audit-sqlite" driver: modernc.org/sqlite
// (pure Go, no cgo; its own driver name is "sqlite") underneath, every write
// audited by sqlaudit with the same guarantees as audit-sqlite3.
//
//	import _ "github.com/sqlaudit/sqlaudit/auditmodernc"
//
//	db, err := sql.Open("audit-sqlite", "file:app.db?_pragma=busy_timeout(10000)")
//
// The DSN is modernc's: PRAGMAs as _pragma=name(value), _txlock=immediate
// for db.Begin, _time_format=sqlite for how time.Time arguments are
// written (by default Go's time.Time.String form, "2006-01-02 15:04:05.999999999
// -0700 MST"; mattn/go-sqlite3 writes "2006-01-02 15:04:05.999999999-07:00").
// Errors are *sqlite.Error (errors.As; Code() is the extended result code).
// LastInsertId and RowsAffected are sqlite3_last_insert_rowid() and
// sqlite3_changes() after the statement, as the plain driver reports them.
//
// modernc.org/sqlite tells no transaction state: the wrapper asks SQLite (a
// BEGIN that fails inside a transaction and, outside one, is rolled back at
// once), which costs two statements per audited write outside a
// transaction. Do not link this package together with
// github.com/glebarez/go-sqlite (GORM's github.com/glebarez/sqlite): both
// register the driver name "sqlite"; wrap glebarez's driver with
// sqlaudit.Wrap instead (see the README).
package auditmodernc

import (
	"database/sql"
	"database/sql/driver"

	"github.com/sqlaudit/sqlaudit"
	"modernc.org/sqlite"
)

// DriverName is the name this package registers with database/sql.
const DriverName = "audit-sqlite"

func init() {
	sqlaudit.Register(DriverName, &sqlite.Driver{}, sqlaudit.SQLite)
}

// NewConnector returns an audited connector over a modernc driver (for
// example one with its own functions or connection hooks registered), for
// sql.OpenDB. The DSN's audit_* parameters apply over opts.
func NewConnector(d *sqlite.Driver, dsn string, opts sqlaudit.Options) (driver.Connector, error) {
	return sqlaudit.Wrap(d, sqlaudit.SQLite, opts).OpenConnector(dsn)
}

// Open is sql.OpenDB over NewConnector with a new modernc driver.
func Open(dsn string, opts sqlaudit.Options) (*sql.DB, error) {
	c, err := NewConnector(&sqlite.Driver{}, dsn, opts)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}
