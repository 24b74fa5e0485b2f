package sqlaudit

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// Dialect is how one database is audited: its SQL lexing rules, catalog
// queries, audit-table DDL and the way a write and its records are run. Its
// methods are unexported; use PostgreSQL, SQLite or MySQL. Nothing outside a
// dialect's own file switches on the database.
type Dialect interface {
	// Name is "postgres", "sqlite" or "mysql".
	Name() string
	lexStyle() sqlstmt.Style
	// analyse reads one statement text (see analysis).
	analyse(q string) *sqlstmt.Analysis
	// ident quotes an identifier.
	ident(s string) string
	// keywordDSN reports whether DSNs may be libpq keyword/value strings.
	keywordDSN() bool
	// auditDDL returns the statements that create the audit table.
	auditDDL(table string) []string
	// connState returns the per-connection state the dialect needs, set up
	// on a new connection.
	connState(ctx context.Context, c *conn) (dialectConn, error)
	// loadTable reads a table's columns and key from the catalog; a nil
	// table with a nil error means the table does not exist.
	loadTable(ctx context.Context, c *conn, ref sqlstmt.TableRef) (*tableInfo, error)
	// sealing is the dialect's SQL for Seal and Verify.
	sealing(audit, seal sqlstmt.TableRef) sealSQL
	// beforeDrop refuses dropping t when that would change rows of audited
	// tables unseen (SQLite deletes the rows first, firing foreign-key
	// actions).
	beforeDrop(ctx context.Context, c *conn, t *tableInfo) error
	// oneByOne reports that the driver runs a multi-statement string one
	// statement at a time, each with its share of the arguments, so the
	// wrapper can run and audit them the same way.
	oneByOne() bool
	// commitAmbiguous reports a COMMIT error that leaves the outcome unknown.
	commitAmbiguous(err error) bool
	// run executes an audited write and writes its records in the same
	// transaction. It returns rows when ex.wantRows, else a result.
	run(ex *execution) (driver.Result, driver.Rows, error)
}

// dialectConn is a dialect's per-connection state.
type dialectConn interface {
	// fresh reports whether a catalog entry is still valid on this
	// connection (SQLite compares the schema version).
	fresh(ctx context.Context, t *tableInfo) bool
	// txEnded is called when a transaction on the connection ended.
	txEnded()
	// txBegan is called when a transaction was begun through the wrapper
	// (BeginTx, or BEGIN sent as a statement).
	txBegan()
}

// execution is one audited statement on its way through a dialect.
type execution struct {
	ctx context.Context
	c   *conn
	a   *sqlstmt.Analysis
	t   *tableInfo
	// targets are the tables a statement writes, in a.tables order when it
	// writes several (MySQL's multi-table UPDATE and DELETE), nil for those
	// not audited; else just t
	targets  []*tableInfo
	query    string // the statement text as the caller sent it
	args     []driver.NamedValue
	actor    any // string or nil
	metadata any // JSON string or nil
	wantRows bool
	fromStmt bool // run from a prepared statement: never return driver.ErrSkip

	// PostgreSQL: the foreign-key actions the statement fires, performed by
	// the statement itself (nil when none), or why they cannot be.
	cascade        *pgCascade
	cascadeRefused string
	cascadeChecks  []*childFK // actions checked at run time instead: refused if they would fire
}

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
	var s string
	for _, stmt := range d.auditDDL(table) {
		s += stmt + ";\n"
	}
	return s
}

// result is the driver.Result of an audited statement.
type result struct {
	rows     int64
	lastID   int64
	hasLast  bool
	lastNote string
}

func (r result) RowsAffected() (int64, error) { return r.rows, nil }

func (r result) LastInsertId() (int64, error) {
	if !r.hasLast {
		return 0, driverError(r.lastNote)
	}
	return r.lastID, nil
}

type driverError string

func (e driverError) Error() string { return string(e) }
