package sqlaudit

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/sqlaudit/sqlaudit/internal/engine"
)

// TamperError names the first inconsistency Verify found.
type TamperError struct {
	Seq      int64  // the seal where the chain breaks (0: outside the chain)
	RecordID int64  // the record concerned, when known
	Reason   string // edited, deleted, reordered, inserted, truncated …
}

func (e *TamperError) Error() string {
	where := fmt.Sprintf("at seal %d", e.Seq)
	switch {
	case e.Seq == 0 && e.RecordID != 0:
		where = fmt.Sprintf("at record %d", e.RecordID)
	case e.RecordID != 0:
		where += fmt.Sprintf(" (record %d)", e.RecordID)
	}
	return "sqlaudit: audit trail tampered with " + where + ": " + e.Reason
}

func (e *TamperError) Unwrap() error { return ErrTampered }

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// Head, when set, must be a seal of the chain with that hash: a chain
	// cut back below it was truncated.
	Head *Head
	// Progress, when set, is called every 1,000 records and at the end with
	// the records checked so far and the number of seals.
	Progress func(checked, total int64)
}

// Report is what Verify checked.
type Report struct {
	Checked  int64 // sealed records whose contents and order were verified
	Unsealed int64 // records not sealed yet (newer than the last seal)
	Head     Head  // the chain's last seal
}

// Verify checks the chain and the records it covers.
func Verify(ctx context.Context, db *sql.DB, opts VerifyOptions) (Report, error) {
	var rep Report
	err := withRawConn(ctx, db, func(c *conn) error {
		var err error
		rep, err = c.verify(ctx, opts)
		return err
	})
	return rep, err
}

// verify walks the seals in order, recomputing each hash from the record as
// it is now, then looks for records inside the sealed range without a seal.
func (c *conn) verify(ctx context.Context, opts VerifyOptions) (Report, error) {
	seal := c.c.sh.Seal
	s := c.c.sh.Dialect.Sealing(c.c.sh.AuditRef, c.c.sh.SealRef)
	progress := c.verifyProgress(ctx, seal, opts.Progress) // before the rows are open
	rows, err := c.s.RawQuery(ctx, `SELECT s.seq, s.record_id, s.hash, s.horizon, a.id, `+s.Canonical+
		` FROM `+seal+` s LEFT JOIN `+c.c.sh.Audit+` a ON a.id = s.record_id WHERE s.seq > 0 ORDER BY s.seq`, nil)
	if err != nil {
		return Report{}, fmt.Errorf("sqlaudit: reading the seals (has the trail been sealed?): %w", err)
	}
	var rep Report
	var horizon int64
	row := make([]driver.Value, 6)
	for {
		if err = rows.Next(row); err != nil {
			break
		}
		progress(rep.Checked)
		seq, id, hash := engine.AsInt(row[0]), engine.AsInt(row[1]), engine.AsString(row[2])
		horizon = engine.AsInt(row[3])
		switch {
		case id == -1 && rep.Checked == 0 && rep.Head.Seq == 0:
			// Prune's checkpoint: the chain continues from its hash.
			rep.Head = Head{Seq: seq, Hash: hash}
			continue
		case seq != rep.Head.Seq+1:
			err = &TamperError{Seq: rep.Head.Seq + 1, Reason: "a seal is missing (a record and its seal were deleted)"}
		case row[4] == nil:
			err = &TamperError{Seq: seq, RecordID: id, Reason: "the record was deleted"}
		case chainHash(rep.Head.Hash, engine.AsString(row[5])) != hash:
			err = &TamperError{Seq: seq, RecordID: id, Reason: "the record was edited, or records were reordered"}
		}
		if err != nil {
			rows.Close()
			return rep, err
		}
		rep.Head, rep.Checked = Head{Seq: seq, Hash: hash}, rep.Checked+1
	}
	rows.Close()
	if !errors.Is(err, io.EOF) {
		return rep, err
	}
	progress(-rep.Checked) // done
	if err := checkHead(rep.Head, opts.Head); err != nil {
		return rep, err
	}
	return rep, c.verifyUnsealed(ctx, s, horizon, &rep)
}

// verifyProgress returns the function verify reports its progress through:
// every 1,000 records, and once more when called with -checked at the end.
// The number of seals is counted first only when someone listens.
func (c *conn) verifyProgress(ctx context.Context, seal string, f func(checked, total int64)) func(int64) {
	if f == nil {
		return func(int64) {}
	}
	var total int64
	if r, err := c.s.QueryAll(ctx, `SELECT count(*) FROM `+seal+` WHERE seq > 0 AND record_id <> -1`); err == nil {
		total = engine.AsInt(r[0][0])
	}
	return func(checked int64) {
		switch {
		case checked < 0:
			f(-checked, total)
		case checked%1000 == 0 && checked > 0:
			f(checked, total)
		}
	}
}

// checkHead compares the chain with a head remembered elsewhere.
func checkHead(got Head, want *Head) error {
	if want == nil {
		return nil
	}
	if got.Seq < want.Seq {
		return &TamperError{Seq: got.Seq + 1, Reason: fmt.Sprintf("the chain ends at seal %d, before the remembered head %d (truncated)", got.Seq, want.Seq)}
	}
	if got.Seq == want.Seq && got.Hash != want.Hash {
		return &TamperError{Seq: got.Seq, Reason: "the chain's head differs from the remembered head"}
	}
	return nil
}

// verifyUnsealed counts records newer than the chain and fails on a record
// inside the sealed range that has no seal: it was inserted afterwards.
func (c *conn) verifyUnsealed(ctx context.Context, s engine.SealSQL, horizon int64, rep *Report) error {
	seal := c.c.sh.Seal
	// tx_id too: a transaction whose id is below the horizon had ended when
	// the chain was sealed, so no later record can belong to it.
	h := strconv.FormatInt(horizon, 10)
	inside := s.HorizExpr + ` < ` + h
	if s.TxOnScale {
		inside = `(` + inside + ` OR a.tx_id < ` + h + `)`
	}
	r, err := c.s.QueryAll(ctx, `SELECT min(a.id) FROM `+c.c.sh.Audit+` a WHERE `+inside+
		` AND NOT EXISTS (SELECT 1 FROM `+seal+` s WHERE s.record_id = a.id)`)
	if err != nil {
		return err
	}
	if r[0][0] != nil {
		return &TamperError{RecordID: engine.AsInt(r[0][0]), Reason: "a record inside the sealed range has no seal (inserted after sealing)"}
	}
	n, err := c.s.QueryAll(ctx, `SELECT count(*) FROM `+c.c.sh.Audit+` a WHERE `+s.HorizExpr+` >= `+strconv.FormatInt(horizon, 10))
	if err != nil {
		return err
	}
	rep.Unsealed = engine.AsInt(n[0][0])
	return nil
}
