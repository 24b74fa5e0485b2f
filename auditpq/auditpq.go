// Package auditpq registers the "audit-postgres" driver: lib/pq underneath,
// every write audited by sqlaudit.
//
//	import _ "github.com/sqlaudit/sqlaudit/auditpq"
//
//	db, err := sql.Open("audit-postgres", "postgres://localhost/app?sslmode=disable")
package auditpq

import (
	"database/sql"
	"database/sql/driver"

	"github.com/lib/pq"
	"github.com/sqlaudit/sqlaudit"
)

// DriverName is the name this package registers with database/sql.
const DriverName = "audit-postgres"

func init() {
	sqlaudit.Register(DriverName, &pq.Driver{}, sqlaudit.PostgreSQL)
}

// NewConnector returns an audited connector over pq.NewConnector(dsn), for
// sql.OpenDB. The DSN's audit_* parameters apply over opts.
func NewConnector(dsn string, opts sqlaudit.Options) (driver.Connector, error) {
	return sqlaudit.Wrap(&pq.Driver{}, sqlaudit.PostgreSQL, opts).OpenConnector(dsn)
}

// Open is sql.OpenDB over NewConnector.
func Open(dsn string, opts sqlaudit.Options) (*sql.DB, error) {
	c, err := NewConnector(dsn, opts)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}
