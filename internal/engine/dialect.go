package engine

import (
	"context"
	"database/sql/driver"
	"time"

	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// Dialect is how one database is audited: how its statements are read, how
// its catalog is queried, how the audit table is made and sealed, and how a
// write runs together with its records. Each implementation lives in its own
// package under internal/dialect; the root package holds one value of each.
//
// Abilities only some dialects have are named: Features for the ones that
// are a yes or no, the DropChecker and CopyPreparer interfaces for the ones
// with behaviour, and the optional interfaces of Conn for per-connection
// ones. The wrapper never asks a dialect anything else.
type Dialect interface {
	// Name is "postgres", "sqlite" or "mysql".
	Name() string
	// Features are the yes-or-no abilities of the dialect.
	Features() Features
	// Analyse reads one statement text; the result is cached by text and
	// shared by every connection.
	Analyse(q string) *sqlstmt.Analysis
	// Ident quotes an identifier.
	Ident(s string) string
	// AuditDDL returns the statements that create the audit table (quoted).
	AuditDDL(table string) []string
	// Sealing is the dialect's SQL for sealing, verifying and pruning.
	Sealing(audit, seal sqlstmt.TableRef) SealSQL
	// Open sets up a new connection and returns the dialect's state for it.
	Open(ctx context.Context, s *Session) (Conn, error)
	// LoadTable reads a table's columns and key from the catalog; a nil
	// table with a nil error means the table does not exist. The filter's
	// fields (Audited, Redact, IsAudit) are filled in by the Session.
	LoadTable(ctx context.Context, s *Session, ref sqlstmt.TableRef) (*TableInfo, error)
	// CommitAmbiguous reports a COMMIT error that leaves the outcome unknown.
	CommitAmbiguous(err error) bool
	// Run executes an audited write and writes its records in the same
	// transaction. It returns rows when ex.WantRows, else a result; errors
	// are the driver's own, an *Error, an *AmbiguousCommit, or ErrRunAgain.
	Run(ex *Execution) (driver.Result, driver.Rows, error)
}

// Features are the yes-or-no abilities of a Dialect.
type Features uint8

const (
	// KeywordDSN: DSNs may be libpq keyword/value strings (host=x dbname=y).
	KeywordDSN Features = 1 << iota
	// OneByOne: the driver runs a multi-statement string one statement at a
	// time, each with its share of the arguments, so the wrapper can run
	// and audit them the same way.
	OneByOne
	// RecordsCascades: the rows foreign-key actions change are recorded,
	// so a write to an excluded table that may cascade into audited ones
	// runs audited.
	RecordsCascades
	// FollowsCascades: the dialect follows foreign-key actions through
	// excluded tables itself, so any action of an excluded table counts.
	FollowsCascades
)

// Has reports whether every ability of x is in f.
func (f Features) Has(x Features) bool { return f&x == x }

// DropChecker is a Dialect whose DROP TABLE changes rows (SQLite deletes them
// first, firing foreign-key actions): BeforeDrop refuses dropping t when
// that would change rows of audited tables unseen.
type DropChecker interface {
	BeforeDrop(ctx context.Context, s *Session, t *TableInfo) error
}

// CopyPreparer is a Dialect that audits COPY … FROM STDIN prepared through
// its driver (lib/pq's CopyIn).
type CopyPreparer interface {
	// CanCopy reports whether the connection's driver streams COPY rows
	// through a prepared statement.
	CanCopy(s *Session) bool
	// PrepareCopy starts the COPY a into a staging table for the audited
	// table t.
	PrepareCopy(ctx context.Context, s *Session, a *sqlstmt.Analysis, t *TableInfo) (*Copy, error)
}

// Copy is a COPY … FROM STDIN on its way: the rows go to a staging table
// through Rows, then Insert, an ordinary INSERT … SELECT the wrapper audits,
// moves them into the table, and Done empties the staging table.
type Copy struct {
	Rows   driver.Stmt // Exec(values…) sends a row; Exec() ends the COPY
	Insert string
	Done   string
}

// AuditLocator is a Dialect whose unqualified table names resolve per
// session (PostgreSQL's search_path, MariaDB's USE): LocateAudit returns the
// schema the audit table resolves to on s, a new connection ("" when it
// does not exist), so that every connection writes its records to that one
// table, whatever its own search_path or current database later is.
type AuditLocator interface {
	LocateAudit(ctx context.Context, s *Session) (string, error)
}

// SealSQL is a dialect's part of sealing: DDL, lock, horizon, canonical
// record text. Records below the horizon can no longer change in number:
// every transaction that could write one has ended.
type SealSQL struct {
	DDL []string
	// Indexed, if set, counts the indexes of DDL's CREATE INDEX statements
	// that exist already: a reader (Final) that finds them all skips the
	// CREATE INDEX, which would lock the audit table behind every open
	// writing transaction (and the writers behind it) even when the index
	// is there
	Indexed string
	Begin   []string // begin the sealing transaction and serialise sealers
	Horizon string   // the new horizon, on HorizExpr's scale
	// HorizExpr is what horizons compare with, of record a (a.tx_id, a.id,
	// a time)
	HorizExpr string
	// TxOnScale: tx_id is on the horizon's scale, so a record of a
	// transaction below the horizon is inside the sealed range too
	TxOnScale bool
	// Canonical is the record (alias a) as one text, the same in Seal and
	// Verify
	Canonical string
	Before    string              // a condition: record a was written before the time $1 / ?1
	TimeArg   func(time.Time) any // that time as the driver takes it
}
