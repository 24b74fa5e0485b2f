package sqlaudit

import (
	"database/sql"
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/dialect/mysqldialect"
	"github.com/sqlaudit/sqlaudit/internal/dialect/pgdialect"
	"github.com/sqlaudit/sqlaudit/internal/dialect/sqlitedialect"
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

// PostgreSQL audits PostgreSQL through lib/pq or pgx. Each write becomes one
// statement and one round trip: a data-modifying WITH query that locks the
// rows the original predicate selects (an UPDATE), applies the original
// change joined to them, inserts one record per changed row computed from
// the before and after images the database itself returns, and returns
// exactly what the original statement would. Because the before image comes
// from the locked row, a statement that waited on a concurrent writer
// records the value it actually overwrote.
var PostgreSQL Dialect = dialect{pgdialect.Dialect{}}

// SQLite audits SQLite through mattn/go-sqlite3. Rows are captured by
// per-connection TEMP triggers (internal/dialect/sqlitedialect) that write each record
// in the same statement as its change; the wrapper only sets the
// statement's context before running it unchanged.
var SQLite Dialect = dialect{sqlitedialect.Dialect{}}

// MySQL audits MariaDB (10.5 or newer) through go-sql-driver/mysql. A write
// runs inside the caller's transaction (under a savepoint) or its own: the
// rows an UPDATE or DELETE will change are locked and copied (key and JSON
// image) into a per-connection TEMPORARY table, the statement runs restricted
// to the copied keys, and the records are written set-based by comparing the
// copies with the rows as they are now. An INSERT returns its keys
// (MariaDB's INSERT … RETURNING) and the records are read back by key.
// Oracle MySQL lacks INSERT … RETURNING and sequences: connecting to it fails
// with a clear error.
var MySQL Dialect = dialect{mysqldialect.Dialect{}}

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
// d, with its indexes and its settings table (table + "_settings", where
// the redacted columns are kept for every writer), for migrations that own
// the schema (see Options.NoCreate). Each statement ends with ";\n" and is
// idempotent.
func DDL(d Dialect, table string) string {
	var s strings.Builder
	for _, stmt := range append(d.impl().AuditDDL(table), settingsDDL(settingsName(table))) {
		s.WriteString(stmt + ";\n")
	}
	return s.String()
}
