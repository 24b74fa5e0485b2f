// Package auditpgx registers the "audit-pgx" driver: jackc/pgx/v5/stdlib
// underneath, every write audited by sqlaudit.
//
//	import _ "github.com/sqlaudit/sqlaudit/auditpgx"
//
//	db, err := sql.Open("audit-pgx", "postgres://localhost/app")
//
// Applications that open pgx pools use OpenDBFromPool instead of
// stdlib.OpenDBFromPool.
package auditpgx

import (
	"database/sql"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/sqlaudit/sqlaudit"
)

// DriverName is the name this package registers with database/sql.
const DriverName = "audit-pgx"

func init() {
	sqlaudit.Register(DriverName, stdlib.GetDefaultDriver(), sqlaudit.PostgreSQL)
}

// OpenDB is stdlib.OpenDB with every write audited.
func OpenDB(config pgx.ConnConfig, opts sqlaudit.Options, pgxOpts ...stdlib.OptionOpenDB) (*sql.DB, error) {
	c, err := sqlaudit.WrapConnector(stdlib.GetConnector(config, pgxOpts...), sqlaudit.PostgreSQL, opts)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

// OpenDBFromPool is stdlib.OpenDBFromPool with every write audited.
func OpenDBFromPool(pool *pgxpool.Pool, opts sqlaudit.Options, pgxOpts ...stdlib.OptionOpenDB) (*sql.DB, error) {
	c, err := sqlaudit.WrapConnector(stdlib.GetPoolConnector(pool, pgxOpts...), sqlaudit.PostgreSQL, opts)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}
