package trail

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/sqlaudit/sqlaudit"
)

// ErrConflict is matched (errors.Is) by a *ConflictError.
var ErrConflict = errors.New("trail: rows changed after the transaction")

// ErrRedacted is wrapped when a revert would need or expose redacted
// values: a deleted row or an old value recorded as "[redacted]" cannot be
// written back, and a column redacted in the trail that the trail's
// settings do not list would be recorded in clear by the revert.
var ErrRedacted = errors.New("trail: redacted values cannot be reverted")

// RevertMetadataKey is the metadata key naming the reverted transaction in
// the records a revert writes.
const RevertMetadataKey = "revert_of"

// RevertOptions configure Revert.
type RevertOptions struct {
	// Force reverts even when rows changed after the transaction: their
	// changed columns are overwritten, vanished rows are skipped.
	Force bool
	// DryRun computes and returns the statements but changes nothing.
	DryRun bool
	// SkipRedacted reverts an UPDATE of a redacted column for its other
	// columns, leaving the redacted one as it is (its old value is not in
	// the trail); each such column is listed in RevertResult.Skipped. A
	// deleted row with a redacted value still cannot be restored.
	SkipRedacted bool
	// Progress, when set, is called after each statement of the revert with
	// the rows changed so far and the rows to change in all.
	Progress func(done, total int64)
}

// Statement is one SQL statement with its arguments.
type Statement struct {
	SQL  string `json:"sql"`
	Args []any  `json:"args"`
	Rows int    `json:"rows"` // the rows it changes: one, or a batch (given as one JSON argument on PostgreSQL and SQLite)
}

// RevertResult is what Revert did (or, with DryRun, would do).
type RevertResult struct {
	TxID       int64
	Statements []Statement // in execution order
	Rows       int64       // rows changed (0 for DryRun)
	// Skipped lists the redacted columns left as they are (SkipRedacted),
	// as "table {key}: column".
	Skipped []string
}

// Conflict is one row changed after the reverted transaction.
type Conflict struct {
	Table    string `json:"table"`
	Key      Key    `json:"key"`
	RecordID int64  `json:"record_id,omitempty"` // the later record, 0 when only the current row differs
	Reason   string `json:"reason"`              // in words
}

// ConflictError refuses a revert: rows changed after the transaction.
type ConflictError struct {
	TxID      int64
	Conflicts []Conflict // every conflicting row, in the transaction's order
}

// conflictsInMessage is how many conflicts Error names.
const conflictsInMessage = 10

// Error names the first conflicts and counts the rest.
func (e *ConflictError) Error() string {
	n := min(len(e.Conflicts), conflictsInMessage)
	parts := make([]string, n)
	for i, c := range e.Conflicts[:n] {
		parts[i] = fmt.Sprintf("%s %s: %s", c.Table, jsonText(c.Key), c.Reason)
	}
	more := ""
	if len(e.Conflicts) > n {
		more = fmt.Sprintf("; and %d more", len(e.Conflicts)-n)
	}
	return fmt.Sprintf("trail: cannot revert transaction %d, %d rows changed after it (use Force to overwrite): %s%s",
		e.TxID, len(e.Conflicts), strings.Join(parts, "; "), more)
}

// Is matches ErrConflict.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Revert applies the inverse of transaction txID's changes through db, an
// audited handle, in one transaction: inserted rows are deleted, deleted
// rows inserted, updated columns set back — set-based, a statement per
// batch of rows of one table and kind. The revert is itself recorded, with
// metadata {"revert_of": txID} merged over ctx's (set the actor with
// sqlaudit.WithActor). When a row changed after txID — a later record, or
// a current value other than the one txID left, checked with one query per
// table — it returns a *ConflictError and changes nothing, unless
// opts.Force. With opts.DryRun it changes nothing and returns the
// statements (and any conflict). A transaction with redacted values is
// refused with ErrRedacted unless opts.SkipRedacted (see there).
func Revert(ctx context.Context, db *sql.DB, txID int64, opts RevertOptions, o ...Option) (*RevertResult, error) {
	c, err := configure(db, o)
	if err != nil {
		return nil, err
	}
	recs, err := c.revertRecords(ctx, db, txID)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%w for transaction %d", ErrNoRecords, txID)
	}
	res := &RevertResult{TxID: txID}
	if err := c.checkRedactions(ctx, db, recs, opts, res); err != nil {
		return nil, err
	}
	ctx = sqlaudit.WithMetadata(ctx, map[string]any{RevertMetadataKey: txID})
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	res.Statements = c.statements(c.inverse(recs, opts.SkipRedacted))
	conflicts, err := c.conflicts(ctx, tx, recs)
	if err != nil {
		return nil, err
	}
	var cerr error
	if len(conflicts) > 0 && !opts.Force {
		cerr = &ConflictError{TxID: txID, Conflicts: conflicts}
	}
	if opts.DryRun || cerr != nil {
		return res, cerr
	}
	if err := c.apply(ctx, tx, res, opts); err != nil {
		return nil, err
	}
	return res, tx.Commit()
}

// apply runs the statements, checking that each changed the rows it names.
func (c *config) apply(ctx context.Context, tx *sql.Tx, res *RevertResult, opts RevertOptions) error {
	var total int64
	for _, s := range res.Statements {
		total += int64(s.Rows)
	}
	for _, s := range res.Statements {
		r, err := tx.ExecContext(ctx, s.SQL, s.Args...)
		if err != nil {
			return fmt.Errorf("trail: revert of transaction %d: %w", res.TxID, err)
		}
		n, _ := r.RowsAffected()
		if n != int64(s.Rows) && !opts.Force {
			return &ConflictError{TxID: res.TxID, Conflicts: []Conflict{{Reason: fmt.Sprintf("%d rows changed, %d expected, by %.200s", n, s.Rows, s.SQL)}}}
		}
		res.Rows += n
		if opts.Progress != nil {
			opts.Progress(min(res.Rows, total), total)
		}
	}
	return nil
}

func orNone(actor string) string {
	if actor == "" {
		return "(no actor)"
	}
	return actor
}
