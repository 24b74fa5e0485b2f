package sqlaudit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
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
	// No seal table beside a missing audit table.
	rows, err := c.s.RawQuery(ctx, `SELECT 1 FROM `+c.c.sh.Audit+` WHERE 1 = 0`, nil)
	if err != nil {
		return Head{}, fmt.Errorf("sqlaudit: the audit table %s cannot be read (create it with sqlaudit.DDL or `sqlaudit migrate`): %w", c.c.opts.Table, err)
	}
	rows.Close()
	for _, q := range s.DDL {
		if strings.HasPrefix(q, "CREATE INDEX") {
			continue // sealIndexes: only when missing, as it locks the audit table
		}
		if _, err := c.s.RawExec(ctx, q, nil); err != nil {
			return Head{}, fmt.Errorf("sqlaudit: creating the seal table: %w", err)
		}
	}
	if err := c.sealIndexes(ctx, s); err != nil {
		return Head{}, fmt.Errorf("sqlaudit: creating the seal table's index on the audit table: %w", err)
	}
	var head Head
	err = c.sealerTx(ctx, s, func() (err error) {
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
