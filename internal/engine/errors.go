package engine

import (
	"database/sql/driver"
	"errors"
	"fmt"
)

// Code says which of the wrapper's sentinel errors an Error stands for; the
// root package maps each to its exported sentinel (ErrUnsupported …).
type Code uint8

const (
	// Unsupported: the write cannot be audited; nothing ran.
	Unsupported Code = iota + 1
	// AuditTableWrite: the write would change the audit (or seal) table.
	AuditTableWrite
	// NoKey: the audited table has no key to identify its rows by.
	NoKey
	// Conflict: a concurrent change kept the records from being exact;
	// nothing changed, running the statement again succeeds.
	Conflict
	// Record: the audit machinery failed around the statement; nothing
	// changed.
	Record
	// NoActor: the options require an actor and the context has none.
	NoActor
)

// Error is why the wrapper refused or failed a statement. Dialects return it
// as it is, never wrapped, so that the root package can turn it into the
// exported StatementError at its boundary.
type Error struct {
	Query  string // the statement, truncated
	Table  string // the table concerned, when known
	Reason string // what went wrong, in words
	Code   Code
	Err    error // the underlying driver's error, or nil
	// Refused: the write was refused before anything ran (Refuse,
	// KeyMissing), so that under the warn policy the wrapper may run it
	// unaudited instead.
	Refused bool
}

func (e *Error) Error() string {
	msg := "sqlaudit: " + e.Reason
	if e.Table != "" {
		msg += " (table " + e.Table + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg + "; statement: " + e.Query
}

func (e *Error) Unwrap() error { return e.Err }

// Fail returns the Error of a statement; errs are the driver's errors that
// caused it, if any.
func Fail(query, table, reason string, code Code, errs ...error) error {
	return &Error{Query: Truncate(query), Table: table, Reason: reason, Code: code, Err: errors.Join(errs...)}
}

// Refuse returns the Error of a write that cannot be audited, decided before
// anything was sent: under the warn policy the wrapper runs the statement
// unaudited, with a warning, instead.
func Refuse(query, table, reason string) error {
	return &Error{Query: Truncate(query), Table: table, Reason: reason, Code: Unsupported, Refused: true}
}

// The failures several parts of the wrapper report, each in one wording.

// CatalogFailed: the table's columns could not be read.
func CatalogFailed(query, table string, err error) error {
	return Fail(query, table, "reading the table's columns from the catalog failed", Record, err)
}

// AuditTableRefused: a write to the audit or seal table.
func AuditTableRefused(query, table string) error {
	return Fail(query, table, "refused a write to the audit table", AuditTableWrite)
}

// KeyMissing: an audited table without a primary key.
func KeyMissing(query, table string) error {
	return &Error{Query: Truncate(query), Table: table, Reason: "cannot identify rows: add a primary key or exclude the table", Code: NoKey, Refused: true}
}

// ActorMissing: a write without an actor under RequireActor. It is not
// Refused: the warn policy must not run it unaudited either.
func ActorMissing(query, table string) error {
	return Fail(query, table, "refused a write without an actor: the options require one (sqlaudit.WithActor)", NoActor)
}

// RecordsFailed: the records could not be written.
func RecordsFailed(query, table string, err error) error {
	return Fail(query, table, "writing the audit records failed", Record, err)
}

// AuditTableMissing: the audit table named audit does not exist where the
// records go (dropped while the application ran, or never created): the
// write fails and changes nothing, saying so rather than with the
// database's bare "does not exist".
func AuditTableMissing(query, table, audit string, err error) error {
	return Fail(query, table, "the audit table "+audit+
		" does not exist (dropped, or never created: create it with sqlaudit.DDL or `sqlaudit migrate`); nothing was changed", Record, err)
}

// ArgsMismatch: the rewrite moves arguments around, so their number must be
// the statement's.
func ArgsMismatch(query, table string, placeholders, args int) error {
	return Refuse(query, table, fmt.Sprintf("the statement has %d placeholders but %d arguments were given", placeholders, args))
}

// Also adds a later error (a failed ROLLBACK) to err, keeping an *Error on
// top so that it still reaches the caller as a StatementError.
func Also(err, later error) error {
	if later == nil {
		return err
	}
	if e, ok := err.(*Error); ok {
		c := *e
		c.Err = errors.Join(e.Err, later)
		return &c
	}
	return errors.Join(err, later)
}

// AmbiguousCommit is a COMMIT whose outcome the client cannot know; the root
// package reports it as AmbiguousCommitError.
type AmbiguousCommit struct{ Err error }

func (e *AmbiguousCommit) Error() string {
	return "sqlaudit: commit outcome unknown: the connection broke after COMMIT was sent: " + e.Err.Error()
}

func (e *AmbiguousCommit) Unwrap() error { return e.Err }

// ErrRunAgain is returned by Dialect.Run when the schema changed under the
// statement before anything ran: the wrapper reads the catalog again and
// runs the statement once more (a bounded number of times).
var ErrRunAgain = errors.New("sqlaudit: the schema changed while the statement was prepared; run it again")

// NoRetry keeps database/sql from running a statement again: an ErrBadConn
// that arrives after the statement was sent must not reach it as
// ErrBadConn.
func NoRetry(err error) error {
	if errors.Is(err, driver.ErrBadConn) {
		return errors.New("sqlaudit: the connection broke after the statement was sent; its outcome is unknown (driver: bad connection)")
	}
	return err
}

// Truncate shortens a statement for an error message.
func Truncate(q string) string {
	if len(q) > 200 {
		return q[:200] + "…"
	}
	return q
}
