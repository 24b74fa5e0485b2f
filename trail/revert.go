package trail

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/sqlaudit/sqlaudit"
)

// ErrConflict is matched (errors.Is) by a *ConflictError.
var ErrConflict = errors.New("trail: rows changed after the transaction")

// ErrRedacted is wrapped when a transaction's records hold redacted values,
// which cannot be written back.
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
}

// Statement is one SQL statement with its arguments.
type Statement struct {
	SQL  string
	Args []any
}

// RevertResult is what Revert did (or, with DryRun, would do).
type RevertResult struct {
	TxID       int64
	Statements []Statement // in execution order
	Rows       int64       // rows changed (0 for DryRun)
}

// Conflict is one row changed after the reverted transaction.
type Conflict struct {
	Table    string
	Key      Key
	RecordID int64  // the later record, 0 when only the current row differs
	Reason   string // in words
}

// ConflictError refuses a revert: rows changed after the transaction.
type ConflictError struct {
	TxID      int64
	Conflicts []Conflict
}

func (e *ConflictError) Error() string {
	parts := make([]string, len(e.Conflicts))
	for i, c := range e.Conflicts {
		parts[i] = fmt.Sprintf("%s %s: %s", c.Table, jsonText(c.Key), c.Reason)
	}
	return fmt.Sprintf("trail: cannot revert transaction %d, rows changed after it (use Force to overwrite): %s", e.TxID, strings.Join(parts, "; "))
}

// Is matches ErrConflict.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Revert applies the inverse of transaction txID's changes through db, an
// audited handle, in one transaction: inserted rows are deleted, deleted
// rows inserted, updated columns set back. The revert is itself recorded,
// with metadata {"revert_of": txID} merged over ctx's (set the actor with
// sqlaudit.WithActor). When a row changed after txID it returns a
// *ConflictError and changes nothing, unless opts.Force. With opts.DryRun
// it changes nothing and returns the statements (and any conflict).
func Revert(ctx context.Context, db *sql.DB, txID int64, opts RevertOptions, o ...Option) (*RevertResult, error) {
	c, err := configure(db, o)
	if err != nil {
		return nil, err
	}
	recs, err := Transaction(ctx, db, txID, o...)
	if err != nil {
		return nil, err
	}
	if err := checkRedacted(recs); err != nil {
		return nil, err
	}
	ctx = sqlaudit.WithMetadata(ctx, map[string]any{RevertMetadataKey: txID})
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	res := &RevertResult{TxID: txID, Statements: c.inverse(recs)}
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
	for _, s := range res.Statements {
		r, err := tx.ExecContext(ctx, s.SQL, s.Args...)
		if err != nil {
			return nil, fmt.Errorf("trail: revert of transaction %d: %w", txID, err)
		}
		n, _ := r.RowsAffected()
		if n != 1 && !opts.Force {
			return nil, &ConflictError{TxID: txID, Conflicts: []Conflict{{Reason: fmt.Sprintf("%d rows for %s", n, s.SQL)}}}
		}
		res.Rows += n
	}
	return res, tx.Commit()
}

func checkRedacted(recs []Record) error {
	for _, r := range recs {
		for col, v := range r.Old {
			if v == sqlaudit.RedactedValue {
				return fmt.Errorf("%w: record %d, column %s of %s", ErrRedacted, r.ID, col, r.Table)
			}
		}
	}
	return nil
}

// afterKey is the row's key after record r (an UPDATE may change it).
func afterKey(r Record) Key {
	k := maps.Clone(r.Key)
	for col := range k {
		if v, ok := r.New[col]; ok {
			k[col] = v
		}
	}
	return k
}

// inverse returns the statements undoing recs, newest first.
func (c *config) inverse(recs []Record) []Statement {
	var out []Statement
	for _, r := range slices.Backward(recs) {
		switch r.Action {
		case "INSERT":
			out = append(out, c.d.del(r.Table, afterKey(r)))
		case "DELETE":
			out = append(out, c.d.insert(r.Table, r.Old))
		case "UPDATE":
			out = append(out, c.d.update(r.Table, r.Old, afterKey(r)))
		}
	}
	return out
}

// conflicts finds the rows of recs changed after them: by a later record,
// or (changes the audit driver did not see) by a current row that is not
// the transaction's result.
func (c *config) conflicts(ctx context.Context, q querier, recs []Record) ([]Conflict, error) {
	last := map[string]Record{} // the last record of each row, by table and key after it
	var order []string
	for _, r := range recs {
		delete(last, r.Table+" "+jsonText(r.Key))
		id := r.Table + " " + jsonText(afterKey(r))
		if _, seen := last[id]; !seen {
			order = append(order, id)
		}
		last[id] = r
	}
	var out []Conflict
	for _, id := range order {
		r, ok := last[id]
		if !ok {
			continue
		}
		cf, err := c.rowConflict(ctx, q, r, recs[0].ID)
		if err != nil {
			return nil, err
		}
		if cf != nil {
			out = append(out, *cf)
		}
	}
	return out, nil
}

func (c *config) rowConflict(ctx context.Context, q querier, r Record, firstID int64) (*Conflict, error) {
	key := afterKey(r)
	for later, err := range c.query(ctx, q, Filter{Table: r.Table, Key: key, AfterID: firstID, notTx: r.TxID, newestOne: true}) {
		if err != nil {
			return nil, err
		}
		return &Conflict{Table: r.Table, Key: key, RecordID: later.ID,
			Reason: fmt.Sprintf("%s by %s in transaction %d (record %d)", later.Action, orNone(later.Actor), later.TxID, later.ID)}, nil
	}
	row, exists, err := c.d.currentRow(ctx, q, r.Table, key)
	if err != nil {
		return nil, err
	}
	if reason := stateDiffers(r, row, exists); reason != "" {
		return &Conflict{Table: r.Table, Key: key, Reason: reason}, nil
	}
	return nil, nil
}

// stateDiffers says how the current row is not what record r left.
func stateDiffers(r Record, row map[string]any, exists bool) string {
	if r.Action == "DELETE" {
		if exists {
			return "the deleted row exists again"
		}
		return ""
	}
	if !exists {
		return "the row no longer exists"
	}
	for col, v := range r.New {
		if v != sqlaudit.RedactedValue && jsonText(row[col]) != jsonText(v) {
			return fmt.Sprintf("column %s is %s, the transaction left %s", col, jsonText(row[col]), jsonText(v))
		}
	}
	return ""
}

func orNone(actor string) string {
	if actor == "" {
		return "(no actor)"
	}
	return actor
}
