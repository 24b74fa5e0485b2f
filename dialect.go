package sqlaudit

import (
	"database/sql"
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/engine"
)

// Dialect is how one database is audited: its SQL lexing rules, catalog
// queries, audit-table DDL and the way a write and its records are run. Its
// methods are unexported; use PostgreSQL, SQLite or MySQL. Each lives in its
// own package under internal/dialect.
type Dialect interface {
	// Name is "postgres", "sqlite" or "mysql".
	Name() string
	impl() engine.Dialect
}

// dialect is a Dialect value: an engine dialect behind the public type.
type dialect struct{ engine.Dialect }

func (d dialect) impl() engine.Dialect { return d.Dialect }

// DialectOf returns the dialect of an audited database handle opened
// through this package's drivers or connectors, and false for any other.
func DialectOf(db *sql.DB) (Dialect, bool) {
	if d, ok := db.Driver().(*Driver); ok {
		return d.dialect, true
	}
	return nil, false
}

// DDL returns the SQL that creates the audit table named table for dialect
// d, for migrations that own the schema (see Options.NoCreate).
func DDL(d Dialect, table string) string {
	var s strings.Builder
	for _, stmt := range d.impl().AuditDDL(table) {
		s.WriteString(stmt + ";\n")
	}
	return s.String()
}
