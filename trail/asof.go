package trail

import (
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
	row, exists, err := c.d.currentRow(ctx, tx, table, key)
	if err != nil {
		return nil, false, err
	}
	var later []Record
	for r, err := range c.query(ctx, tx, Filter{Table: table, Key: key, after: at}) {
		if err != nil {
			return nil, false, err
		}
		later = append(later, r)
	}
	row, exists = undo(row, exists, later)
	return row, exists, tx.Commit()
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
	recs, err := c.collect(ctx, tx, Filter{Table: table, Key: key, AfterID: recordID - 1})
	if err != nil {
		return nil, false, c.wrap(err)
	}
	if len(recs) == 0 || recs[0].ID != recordID {
		return nil, false, fmt.Errorf("%w: record %d is not a record of %s %s", ErrNoRecords, recordID, table, jsonText(key))
	}
	row, exists, err := c.d.currentRow(ctx, tx, table, key)
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
