package sqlaudit

import (
	"context"
	"database/sql"
	"strconv"
	"time"

	"github.com/sqlaudit/sqlaudit/internal/engine"
)

// Prune deletes the sealed records written before cutoff, oldest first, and
// keeps Verify working for what remains: the last pruned seal stays as a
// checkpoint (record_id -1) that the chain continues from. Only a prefix of
// the chain is pruned, and never an unsealed record: run Seal first. It
// returns the number of records deleted. Like Seal it needs the right to
// write the audit and seal tables.
func Prune(ctx context.Context, db *sql.DB, cutoff time.Time) (int64, error) {
	var n int64
	err := withRawConn(ctx, db, func(c *conn) error {
		var err error
		n, err = c.prune(ctx, cutoff)
		return err
	})
	return n, err
}

func (c *conn) prune(ctx context.Context, cutoff time.Time) (int64, error) {
	seal := c.c.sh.Seal
	s := c.c.sh.Dialect.Sealing(c.c.sh.AuditRef, c.c.sh.SealRef)
	var n int64
	err := c.sealerTx(ctx, s, func() (err error) {
		n, err = c.pruneWithin(ctx, s, seal, cutoff)
		return err
	})
	return n, err
}

// pruneWithin finds the longest prefix of the chain whose records are all
// older than cutoff, deletes those records and seals, and turns the last
// seal of the prefix into the checkpoint.
func (c *conn) pruneWithin(ctx context.Context, s engine.SealSQL, seal string, cutoff time.Time) (int64, error) {
	rows, err := c.s.QueryAll(ctx, `SELECT coalesce(min(s.seq), 0) FROM `+seal+` s JOIN `+c.c.sh.Audit+` a ON a.id = s.record_id
		WHERE s.seq > 0 AND NOT (`+s.Before+`)`, engine.Named(s.TimeArg(cutoff))...)
	if err != nil {
		return 0, err
	}
	last := engine.AsInt(rows[0][0]) - 1 // the seal before the first young record
	if engine.AsInt(rows[0][0]) == 0 {   // every sealed record is older than cutoff
		m, err := c.s.QueryAll(ctx, `SELECT coalesce(max(seq), 0) FROM `+seal)
		if err != nil {
			return 0, err
		}
		last = engine.AsInt(m[0][0])
	}
	if last <= 0 {
		return 0, nil
	}
	k := strconv.FormatInt(last, 10)
	res, err := c.s.RawExec(ctx, `DELETE FROM `+c.c.sh.Audit+` WHERE id IN (SELECT record_id FROM `+seal+` WHERE seq > 0 AND seq <= `+k+`)`, nil)
	if err != nil {
		return 0, err
	}
	for _, q := range []string{`DELETE FROM ` + seal + ` WHERE seq > 0 AND seq < ` + k, `UPDATE ` + seal + ` SET record_id = -1 WHERE seq = ` + k} {
		if _, err := c.s.RawExec(ctx, q, nil); err != nil {
			return 0, err
		}
	}
	return res.RowsAffected()
}
