package engine

import (
	"context"

	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// Conn is a dialect's state of one connection. The wrapper tells it where
// transactions begin and end; what else it keeps is the dialect's own.
type Conn interface {
	// TxBegan is called when a transaction was begun through the wrapper
	// (BeginTx, or BEGIN sent as a statement).
	TxBegan()
	// TxEnded is called when a transaction on the connection ended.
	TxEnded()
}

// CatalogChecker is a Conn that can tell when a catalog entry went stale
// under it (SQLite compares the schema version): Fresh reports whether t is
// still valid on this connection.
type CatalogChecker interface {
	Fresh(ctx context.Context, t *TableInfo) bool
}

// Capturer is a Conn whose rows are captured inside the database (SQLite's
// triggers): Quiet stops the capture before a statement that runs
// unaudited, so that nothing records its rows under the previous
// statement's context.
type Capturer interface {
	Quiet(ctx context.Context) error
}

// DDLPreparer is a Conn that must act before DDL a runs through the wrapper
// (SQLite drops its triggers: it refuses DROP COLUMN of a column a trigger
// names; it refuses a VACUUM that would renumber the rowids records name).
type DDLPreparer interface {
	BeforeDDL(ctx context.Context, a *sqlstmt.Analysis) error
}

// Observer is a Conn that follows the statements the wrapper passes through
// untouched, after they ran (SQLite notes ROLLBACK TO and the end of an
// autocommit statement).
type Observer interface {
	Passed(a *sqlstmt.Analysis)
}
