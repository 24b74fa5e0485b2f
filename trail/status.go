package trail

import (
	"context"
	"database/sql"
	"time"
)

// Counts are the numbers of records and transactions a filter selects.
type Counts struct {
	Records      int64 `json:"records"`
	Transactions int64 `json:"transactions"`
}

// Count counts the records f selects and their transactions. The paging
// fields (AfterID, BeforeID, Limit) are ignored. It reads every selected
// record: on a large trail it costs what an unpaged query costs.
func Count(ctx context.Context, db *sql.DB, f Filter, opts ...Option) (Counts, error) {
	c, err := configure(db, opts)
	if err != nil {
		return Counts{}, err
	}
	if err := c.prepare(ctx, db, &f); err != nil {
		return Counts{}, err
	}
	a := &argList{d: c.d}
	q := "SELECT count(*), count(DISTINCT tx_id) FROM " + c.d.table(c.table) + where(c.conds(f, a))
	var n Counts
	if err := db.QueryRowContext(ctx, q, a.vals...).Scan(&n.Records, &n.Transactions); err != nil {
		return Counts{}, c.wrap(err)
	}
	return n, nil
}

// SealStatus is the state of a trail's seal chain (see sqlaudit.Seal), as
// the seal table says without verifying it (sqlaudit.Verify does that).
type SealStatus struct {
	Sealed   bool      `json:"sealed"`    // the chain has a seal
	Seq      int64     `json:"seq"`       // the last seal's number: records sealed so far, pruned ones included
	Hash     string    `json:"hash"`      // the last seal's hash: the head to keep elsewhere
	RecordID int64     `json:"record_id"` // the newest sealed record (0 when none is left)
	RecordAt time.Time `json:"record_at"` // when it was written
	// Newer counts the records above RecordID: written after the newest
	// sealed record, so not sealed yet. (A record that committed late,
	// below it, is sealed by the next Seal; Verify counts those too.)
	Newer int64 `json:"newer"`
}

// Seals reads the seal status of the trail: the audit table's seal table
// (its name + "_seal"). A trail never sealed has Sealed false.
func Seals(ctx context.Context, db *sql.DB, opts ...Option) (SealStatus, error) {
	c, err := configure(db, opts)
	if err != nil {
		return SealStatus{}, err
	}
	audit := c.d.table(c.table)
	var st SealStatus
	var last sql.NullInt64
	err = db.QueryRowContext(ctx, "SELECT max(record_id) FROM "+c.d.table(sealTableOf(c.table))).Scan(&last)
	switch {
	case err != nil && c.d.missingTable(err):
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+audit).Scan(&st.Newer); err != nil {
			return SealStatus{}, c.wrap(err)
		}
		return st, nil
	case err != nil:
		return SealStatus{}, err
	}
	row := db.QueryRowContext(ctx, "SELECT seq, hash FROM "+c.d.table(sealTableOf(c.table))+" ORDER BY seq DESC LIMIT 1")
	if err := row.Scan(&st.Seq, &st.Hash); err != nil && err != sql.ErrNoRows {
		return SealStatus{}, err
	}
	st.Sealed = st.Seq > 0
	if last.Int64 > 0 {
		st.RecordID = last.Int64
		recs, err := c.collect(ctx, db, Filter{AfterID: last.Int64 - 1, Limit: 1})
		if err != nil {
			return SealStatus{}, err
		}
		if len(recs) == 1 && recs[0].ID == last.Int64 {
			st.RecordAt = recs[0].OccurredAt
		}
	}
	a := &argList{d: c.d}
	q := "SELECT count(*) FROM " + audit + " WHERE id > " + a.add(max(last.Int64, 0))
	if err := db.QueryRowContext(ctx, q, a.vals...).Scan(&st.Newer); err != nil {
		return SealStatus{}, c.wrap(err)
	}
	return st, nil
}

// collect runs query on q and gathers the records.
func (c *config) collect(ctx context.Context, q querier, f Filter) ([]Record, error) {
	var out []Record
	for r, err := range c.query(ctx, q, f) {
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// sealTableOf names the seal table of an audit table, "schema.table_seal"
// beside "schema.table".
func sealTableOf(audit string) string {
	return audit + "_seal"
}
