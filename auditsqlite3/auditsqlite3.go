// Package auditsqlite3 registers the "audit-sqlite3" driver: mattn/go-sqlite3
// underneath, every write audited by sqlaudit.
//
//	import _ "github.com/sqlaudit/sqlaudit/auditsqlite3"
//
//	db, err := sql.Open("audit-sqlite3", "app.db")
//
// go-sqlite3 ignores sql.TxOptions; set the locking of db.Begin with
// _txlock=immediate in the DSN. The wrapper's own transactions (for
// statements outside one) always begin IMMEDIATE.
package auditsqlite3

import (
	"database/sql"
	"database/sql/driver"

	"github.com/mattn/go-sqlite3"
	"github.com/sqlaudit/sqlaudit"
)

// DriverName is the name this package registers with database/sql.
const DriverName = "audit-sqlite3"

func init() {
	sqlaudit.Register(DriverName, &sqlite3.SQLiteDriver{}, sqlaudit.SQLite)
}

// NewConnector returns an audited connector over a go-sqlite3 driver (for
// example one with a ConnectHook), for sql.OpenDB. The DSN's audit_*
// parameters apply over opts.
func NewConnector(d *sqlite3.SQLiteDriver, dsn string, opts sqlaudit.Options) (driver.Connector, error) {
	return sqlaudit.Wrap(d, sqlaudit.SQLite, opts).OpenConnector(dsn)
}

// Open is sql.OpenDB over NewConnector with the default go-sqlite3 driver.
func Open(dsn string, opts sqlaudit.Options) (*sql.DB, error) {
	c, err := NewConnector(&sqlite3.SQLiteDriver{}, dsn, opts)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}
