package sqlaudit

import (
	"errors"
	"fmt"
)

var (
	// ErrUnsupported is wrapped by the error of a statement that writes an
	// audited table but cannot be audited (policy Refuse). Nothing ran.
	ErrUnsupported = errors.New("statement cannot be audited")
	// ErrAuditTableWrite is wrapped by the error of a statement that would
	// change the audit table itself through the wrapper. Nothing ran.
	ErrAuditTableWrite = errors.New("writes to the audit table through the audit driver are refused")
	// ErrNoKey is wrapped when an audited table has no primary key (and, on
	// SQLite, no rowid) to identify its rows by. Nothing ran.
	ErrNoKey = errors.New("table has no primary key")
	// ErrRecord is wrapped when the statement ran but its records could not
	// be written; the statement's changes were rolled back.
	ErrRecord = errors.New("writing the audit records failed; the statement was rolled back")
	// ErrAmbiguousCommit is wrapped when the wrapper's own COMMIT of an
	// autocommit statement failed in a way that leaves its outcome unknown.
	ErrAmbiguousCommit = errors.New("commit outcome unknown")
)

// StatementError describes why the wrapper refused or failed a statement. It
// unwraps to one of the sentinel errors above and, where there is one, to the
// underlying driver's own error.
type StatementError struct {
	Query  string // the statement, truncated to 200 bytes
	Table  string // the audited table, when known
	Reason string // what went wrong, in words
	Err    error  // a sentinel error, possibly joined with the driver's error
}

func (e *StatementError) Error() string {
	msg := "sqlaudit: " + e.Reason
	if e.Table != "" {
		msg += " (table " + e.Table + ")"
	}
	return fmt.Sprintf("%s: %s", msg, e.Query)
}

func (e *StatementError) Unwrap() error { return e.Err }

func stmtError(query, table, reason string, err ...error) error {
	if len(query) > 200 {
		query = query[:200] + "…"
	}
	return &StatementError{Query: query, Table: table, Reason: reason, Err: errors.Join(err...)}
}
