package benchmark

import (
	"context"
	"database/sql"
)

// actor is the user variants N and L record.
const actor = "bench"

// naive runs o as variant N: BEGIN; SELECT the rows o touches (FOR UPDATE
// on PostgreSQL and MariaDB); the statement, with RETURNING for the new
// images (MariaDB has no UPDATE … RETURNING: the rows are read again);
// INSERT the records computed in Go; COMMIT.
func naive(ctx context.Context, db *sql.DB, d *dialect, o *op) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var before []image
	if o.lock != "" {
		rows, err := tx.QueryContext(ctx, `SELECT `+itemList+` FROM items WHERE `+o.lock+d.forUpdate, o.lockArgs...)
		if err != nil {
			return err
		}
		if before, err = scanImages(rows); err != nil {
			return err
		}
	}
	recs, err := naiveWrite(ctx, tx, d, o, before)
	if err != nil {
		return err
	}
	if err := writeRecords(ctx, tx, d, actor, o.query, recs); err != nil {
		return err
	}
	return tx.Commit()
}

// naiveWrite runs o's statement in tx and returns its records.
func naiveWrite(ctx context.Context, tx *sql.Tx, d *dialect, o *op, before []image) ([]record, error) {
	if o.kind == opDelete {
		if _, err := tx.ExecContext(ctx, o.query, o.args...); err != nil {
			return nil, err
		}
		return deleteRecords(before), nil
	}
	q, args := o.query+` RETURNING `+itemList, o.args
	if d.my && o.kind == opUpdate {
		// The predicates of the UPDATE workloads are on the key, which they
		// do not change: reading by them again finds the same rows, locked.
		if _, err := tx.ExecContext(ctx, o.query, o.args...); err != nil {
			return nil, err
		}
		q, args = `SELECT `+itemList+` FROM items WHERE `+o.lock, o.lockArgs
	}
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	after, err := scanImages(rows)
	if err != nil {
		return nil, err
	}
	return changeRecords(before, after), nil
}
