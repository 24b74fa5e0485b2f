// Package auditmysql registers the "audit-mysql" driver: go-sql-driver/mysql
// with every row change recorded in an audit table (MariaDB 10.5 or newer).
//
//	db, err := sql.Open("audit-mysql", "app@tcp(127.0.0.1:3306)/shop?audit_exclude=sessions")
//	ctx = sqlaudit.WithActor(ctx, "alice")
//	_, err = db.ExecContext(ctx, "UPDATE accounts SET balance = balance - ? WHERE id = ?", 5, 1)
package auditmysql

import (
	"database/sql"
	"database/sql/driver"

	"github.com/go-sql-driver/mysql"

	"github.com/sqlaudit/sqlaudit"
)

// DriverName is the name the driver registers under.
const DriverName = "audit-mysql"

func init() {
	sqlaudit.Register(DriverName, &mysql.MySQLDriver{}, sqlaudit.MySQL)
}

// NewConnector returns an audit connector for a go-sql-driver/mysql DSN;
// audit_* parameters in the DSN override opts.
func NewConnector(dsn string, opts sqlaudit.Options) (driver.Connector, error) {
	return sqlaudit.Wrap(&mysql.MySQLDriver{}, sqlaudit.MySQL, opts).OpenConnector(dsn)
}

// Open is sql.OpenDB over NewConnector.
func Open(dsn string, opts sqlaudit.Options) (*sql.DB, error) {
	c, err := NewConnector(dsn, opts)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}
