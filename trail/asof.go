package trail

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"time"
)

// AsOf returns the row of table with key as it was at time at, and whether
// it existed then. It reads the row as it is now and walks the records
// written after at backwards, undoing each, in one consistent read. Values
// are as the audit driver renders them (JSON numbers are json.Number). A
// primary-key change is not followed: the row is the one with this key.
//
// The key is typed as the trail records the table's keys (Key{"id": "3"}
// finds an integer key 3). A row that exists but has no record at all has
// an unknown past — it was written without the audit driver, or the key is
// not the one the trail records — and AsOf returns an error wrapping
// ErrNoRecords rather than the current row.
func AsOf(ctx context.Context, db *sql.DB, table string, key Key, at time.Time, opts ...Option) (map[string]any, bool, error) {
	c, err := configure(db, opts)
	if err != nil {
		return nil, false, err
	}
	tx, err := db.BeginTx(ctx, c.d.readTx())
	if err != nil {
		return nil, false, err
	}
	defer tx.Rollback()
	f := Filter{Table: table, Key: key, after: at}
	if err := c.prepare(ctx, tx, &f); err != nil {
		return nil, false, err
	}
	later, err := c.collect(ctx, tx, f)
	if err != nil {
		return nil, false, err
	}
	row, exists, err := c.d.currentRow(ctx, tx, table, f.Key)
	if err != nil {
		return nil, false, err
	}
	if len(later) == 0 && exists {
		f.after, f.newestOne = time.Time{}, true
		if any, err := c.collect(ctx, tx, f); err != nil || len(any) == 0 {
			return nil, false, cmp.Or(err, c.unknownPast(table, f))
		}
	}
	row, exists = undo(row, exists, later)
	return row, exists, tx.Commit()
}

// unknownPast is the error of a row that exists without records.
func (c *config) unknownPast(table string, f Filter) error {
	hint := "the table has no records at all"
	if f.shape != nil {
		hint = "the trail keys " + table + " by " + f.shape.describe()
	}
	return fmt.Errorf("%w of %s %s: the row exists, but the trail has no record of it, so its past is unknown (%s; or the row was written without the audit driver)",
		ErrNoRecords, table, jsonText(f.Key), hint)
}

// AsOfRecord returns the row of table with key as record recordID, one of
// the row's records, left it, and whether it existed then: the current row
// with every later record of the row undone. It returns an error wrapping
// ErrNoRecords when recordID is not a record of that row.
func AsOfRecord(ctx context.Context, db *sql.DB, table string, key Key, recordID int64, opts ...Option) (map[string]any, bool, error) {
	c, err := configure(db, opts)
	if err != nil {
		return nil, false, err
	}
	tx, err := db.BeginTx(ctx, c.d.readTx())
	if err != nil {
		return nil, false, err
	}
	defer tx.Rollback()
	f := Filter{Table: table, Key: key, AfterID: recordID - 1}
	if err := c.prepare(ctx, tx, &f); err != nil {
		return nil, false, err
	}
	recs, err := c.collect(ctx, tx, f)
	if err != nil {
		return nil, false, c.wrap(err)
	}
	if len(recs) == 0 || recs[0].ID != recordID {
		return nil, false, fmt.Errorf("%w: record %d is not a record of %s %s", ErrNoRecords, recordID, table, jsonText(f.Key))
	}
	row, exists, err := c.d.currentRow(ctx, tx, table, f.Key)
	if err != nil {
		return nil, false, err
	}
	row, exists = undo(row, exists, recs[1:])
	return row, exists, tx.Commit()
}

// undo applies the inverse of recs, newest first, to a row image.
func undo(row map[string]any, exists bool, recs []Record) (map[string]any, bool) {
	for _, r := range slices.Backward(recs) {
		switch r.Action {
		case "INSERT":
			row, exists = nil, false
		case "DELETE":
			row, exists = maps.Clone(r.Old), true
		case "UPDATE":
			if row == nil {
				row = map[string]any{}
			}
			row = maps.Clone(row)
			maps.Copy(row, r.Old)
			exists = true
		}
	}
	return row, exists
}
