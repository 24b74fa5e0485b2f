package sqlaudit

import (
	"errors"

	"github.com/sqlaudit/sqlaudit/internal/engine"
)

var (
	// ErrUnsupported is wrapped by the error of a statement that writes an
	// audited table but cannot be audited (policy Refuse). Nothing ran.
	ErrUnsupported = errors.New("statement cannot be audited")
	// ErrAuditTableWrite is wrapped by the error of a statement that would
	// change the audit table itself through the wrapper. Nothing ran.
	ErrAuditTableWrite = errors.New("writes to the audit table through the audit driver are refused")
	// ErrNoKey is wrapped when an audited table has no primary key (and, on
	// SQLite, no rowid) to identify its rows by. Nothing ran. It is a kind
	// of ErrUnsupported: the error matches that too, and the Warn policy
	// runs such a write unaudited.
	ErrNoKey = errors.New("table has no primary key")
	// ErrConflict is wrapped when a concurrent transaction changed a row in a
	// way that kept the wrapper from reading its old values exactly (an
	// upsert that met a row inserted or updated after its snapshot under READ
	// COMMITTED). Nothing was changed; running the statement again succeeds.
	ErrConflict = errors.New("concurrent change; retry the statement")
	// ErrRecord is wrapped when the audit machinery failed around a
	// statement (its records could not be written, or the table's columns
	// not read); nothing was changed.
	ErrRecord = errors.New("audit records could not be written; nothing was changed")
	// ErrNoActor is wrapped by the error of a write refused under
	// Options.RequireActor (audit_require_actor=true): its context carries
	// no actor (sqlaudit.WithActor). Nothing ran.
	ErrNoActor = errors.New("no actor in the context (sqlaudit.WithActor) and the actor is required")
)

// StatementError describes why the wrapper refused or failed a statement.
// errors.Is matches its sentinel (ErrUnsupported, ErrRecord …) and errors.As
// reaches the underlying driver's own error, when there is one.
type StatementError struct {
	Query    string // the statement, truncated to 200 bytes
	Table    string // the audited table, when known
	Reason   string // what went wrong, in words
	Sentinel error  // one of the sentinel errors of this package
	Err      error  // the underlying driver's error, or nil
}

func (e *StatementError) Error() string {
	msg := "sqlaudit: " + e.Reason
	if e.Table != "" {
		msg += " (table " + e.Table + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg + "; statement: " + e.Query
}

// Unwrap returns the sentinel (with ErrUnsupported for ErrNoKey) and the
// driver's error.
func (e *StatementError) Unwrap() []error {
	errs := []error{e.Sentinel}
	if e.Sentinel == ErrNoKey {
		errs = append(errs, ErrUnsupported)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// sentinels maps the engine's error codes to the exported sentinels.
var sentinels = map[engine.Code]error{
	engine.Unsupported:     ErrUnsupported,
	engine.AuditTableWrite: ErrAuditTableWrite,
	engine.NoKey:           ErrNoKey,
	engine.Conflict:        ErrConflict,
	engine.Record:          ErrRecord,
	engine.NoActor:         ErrNoActor,
}

// public turns the engine's errors into this package's exported ones; every
// error that leaves the package through a driver method passes here.
func public(err error) error {
	switch e := err.(type) {
	case *engine.Error:
		return &StatementError{Query: e.Query, Table: e.Table, Reason: e.Reason, Sentinel: sentinels[e.Code], Err: e.Err}
	case *engine.AmbiguousCommit:
		return &AmbiguousCommitError{Err: e.Err}
	}
	return err
}
