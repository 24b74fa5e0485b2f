package sqlaudit

import (
	"database/sql/driver"
	"errors"
)

// ErrAmbiguousCommit is wrapped by the error of a Commit whose outcome is
// unknown: the transaction, and with it its records, may or may not have
// been committed. Check the data before retrying.
var ErrAmbiguousCommit = errors.New("commit outcome unknown: the connection broke after COMMIT was sent")

// AmbiguousCommitError is returned by a Commit whose outcome is unknown; it
// unwraps to ErrAmbiguousCommit and to the driver's error.
type AmbiguousCommitError struct{ Err error }

func (e *AmbiguousCommitError) Error() string {
	return "sqlaudit: " + ErrAmbiguousCommit.Error() + ": " + e.Err.Error()
}

// Unwrap returns the sentinel and the driver's error.
func (e *AmbiguousCommitError) Unwrap() []error { return []error{ErrAmbiguousCommit, e.Err} }

// tx is a transaction begun through the wrapper. Statements inside it run on
// the conn (database/sql sends them there); the tx only marks the end.
type tx struct {
	c   *conn
	raw driver.Tx
}

var _ driver.Tx = (*tx)(nil)

// Commit commits the underlying transaction, and with it the records. A
// COMMIT whose outcome the client cannot know (the connection broke after it
// was sent) is reported as ErrAmbiguousCommit, wrapping the driver's error.
func (t *tx) Commit() error {
	defer t.c.s.State.TxEnded()
	err := t.raw.Commit()
	if err != nil && t.c.c.sh.Dialect.CommitAmbiguous(err) {
		return &AmbiguousCommitError{Err: err}
	}
	return err
}

// Rollback rolls back the underlying transaction, and with it the records.
func (t *tx) Rollback() error {
	defer t.c.s.State.TxEnded()
	return t.raw.Rollback()
}
