package sqlaudit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/engine"
)

// Tamper evidence. Seal chains committed records, in the order it seals
// them, into the seal table (the audit table's name + "_seal"): each seal
// holds the SHA-256 of its predecessor's hash and the record's contents.
// Writers never wait for the chain: sealing runs afterwards, from any
// process, as often as wanted. Verify walks the chain and names the first
// record that was edited, deleted, reordered or inserted after sealing; a
// truncated tail shows against a head remembered elsewhere.

// ErrTampered is wrapped by the *TamperError Verify returns.
var ErrTampered = errors.New("the audit trail was tampered with")

// Head is the last seal of a chain: remember it outside the database to
// detect a truncated tail (VerifyOptions.Head).
type Head struct {
	Seq  int64  // number of sealed records
	Hash string // hex SHA-256 of the last seal
}

// TamperError names the first inconsistency Verify found.
type TamperError struct {
	Seq      int64  // the seal where the chain breaks (0: outside the chain)
	RecordID int64  // the record concerned, when known
	Reason   string // edited, deleted, reordered, inserted, truncated …
}

func (e *TamperError) Error() string {
	return fmt.Sprintf("sqlaudit: audit trail tampered with at seal %d (record %d): %s", e.Seq, e.RecordID, e.Reason)
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

// Seal chains every record that is committed and not sealed yet, and
// returns the new head. It needs the audit database opened through this
// package's drivers and the right to write the seal table; run it from a
// privileged role where the application may only insert records.
func Seal(ctx context.Context, db *sql.DB) (Head, error) {
	var head Head
	err := withRawConn(ctx, db, func(c *conn) error {
		var err error
		head, err = c.seal(ctx)
		return err
	})
	return head, err
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

// withRawConn runs f on an audited connection of db, bypassing the refusal
// of writes to the audit tables (the wrapper's own machinery).
func withRawConn(ctx context.Context, db *sql.DB, f func(*conn) error) error {
	if _, ok := DialectOf(db); !ok {
		return errors.New("sqlaudit: Seal and Verify need a database opened through an audit driver")
	}
	sc, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer sc.Close()
	return sc.Raw(func(dc any) error {
		c, ok := dc.(*conn)
		if !ok {
			return errors.New("sqlaudit: not an audit connection")
		}
		return f(c)
	})
}

func (c *conn) seal(ctx context.Context) (Head, error) {
	seal := c.c.sh.Seal
	s := c.c.sh.Dialect.Sealing(c.c.sh.AuditRef, c.c.sh.SealRef)
	for _, q := range s.DDL {
		if _, err := c.s.RawExec(ctx, q, nil); err != nil {
			return Head{}, fmt.Errorf("sqlaudit: creating the seal table: %w", err)
		}
	}
	var head Head
	err := c.sealerTx(ctx, s, func() (err error) {
		head, err = c.sealWithin(ctx, s, seal)
		return err
	})
	return head, err
}

// sealerTx runs f in a transaction that serialises Seal and Prune across
// every process, committing when f succeeds and rolling back otherwise.
func (c *conn) sealerTx(ctx context.Context, s engine.SealSQL, f func() error) error {
	for _, q := range s.Begin {
		if _, err := c.s.RawExec(ctx, q, nil); err != nil {
			c.s.RawExec(context.WithoutCancel(ctx), "ROLLBACK", nil)
			return err
		}
	}
	err := f()
	end := "COMMIT"
	if err != nil {
		end = "ROLLBACK"
	}
	if _, cerr := c.s.RawExec(context.WithoutCancel(ctx), end, nil); err == nil {
		err = cerr
	}
	return err
}

// sealWithin reads the last seal and the new horizon, then seals the
// records between the two horizons in id order.
func (c *conn) sealWithin(ctx context.Context, s engine.SealSQL, seal string) (Head, error) {
	last, err := c.s.QueryAll(ctx, `SELECT seq, hash, horizon FROM `+seal+` ORDER BY seq DESC LIMIT 1`)
	if err != nil {
		return Head{}, err
	}
	var head Head
	var from int64
	if len(last) == 1 {
		head = Head{Seq: engine.AsInt(last[0][0]), Hash: engine.AsString(last[0][1])}
		from = engine.AsInt(last[0][2])
	}
	h, err := c.s.QueryAll(ctx, s.Horizon)
	if err != nil {
		return Head{}, err
	}
	to := engine.AsInt(h[0][0])
	rows, err := c.s.QueryAll(ctx, `SELECT a.id, `+s.Canonical+` FROM `+c.c.sh.Audit+` a WHERE `+s.HorizExpr+` >= `+
		strconv.FormatInt(from, 10)+` AND `+s.HorizExpr+` < `+strconv.FormatInt(to, 10)+` ORDER BY a.id`)
	if err != nil {
		return Head{}, err
	}
	var values []string
	for _, r := range rows {
		head.Seq++
		head.Hash = chainHash(head.Hash, engine.AsString(r[1]))
		values = append(values, fmt.Sprintf("(%d, %d, '%s', %d)", head.Seq, engine.AsInt(r[0]), head.Hash, to))
	}
	if len(values) == 0 && len(last) == 1 {
		return head, nil
	}
	if len(values) == 0 { // an empty chain still records its horizon
		values = append(values, fmt.Sprintf("(0, 0, '', %d)", to))
	}
	for len(values) > 0 {
		n := min(len(values), 500)
		if _, err := c.s.RawExec(ctx, `INSERT INTO `+seal+` (seq, record_id, hash, horizon) VALUES `+strings.Join(values[:n], ", "), nil); err != nil {
			return Head{}, err
		}
		values = values[n:]
	}
	return head, nil
}

func chainHash(prev, record string) string {
	sum := sha256.Sum256([]byte(prev + "\n" + record))
	return hex.EncodeToString(sum[:])
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
