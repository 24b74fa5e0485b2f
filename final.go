package sqlaudit

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sqlaudit/sqlaudit/internal/engine"
)

// Final records: the records a reader outside the database (a relay to a
// message stream) may hand on, because no transaction that could still add
// a record before them is running. It is the sealing code's horizon (each
// dialect's Sealing), read without sealing: Seal and Final agree on what is
// final and in which order.

// Position is a record's place in the order in which records become final:
// by Horizon, then by ID. Horizon is the record on its dialect's horizon
// scale — PostgreSQL: its tx_id; SQLite: its id; MariaDB: its occurred_at in
// microseconds since 1970 — so every record of one transaction has the same
// Horizon on PostgreSQL and the order keeps a transaction's records
// together. The order is a function of the trail alone, not of when it was
// read.
type Position struct {
	Horizon int64
	ID      int64
}

// Before reports whether p comes before q.
func (p Position) Before(q Position) bool {
	return p.Horizon < q.Horizon || p.Horizon == q.Horizon && p.ID < q.ID
}

// Final returns, in Position order, the positions of at most limit records
// after after (the zero Position: from the start) that are final: below the
// committed horizon, so that no record can join or leave the trail before
// them any more. A later call never returns a record before the last one an
// earlier call returned. Fewer than limit positions means the reader has
// caught up with the horizon.
//
// On PostgreSQL the horizon is the oldest transaction id still running
// anywhere on the server, so one long writing transaction holds every
// record after it back; on MariaDB it is the start (rounded down to the
// second) of the oldest transaction on the server that has changed a row
// or runs a statement, and at least a second behind the clock, and reading
// it needs the PROCESS privilege; on SQLite every committed
// record is final. db must be opened through an audit driver. The first
// call on a handle adds the index the horizon scans use (as Seal does).
func Final(ctx context.Context, db *sql.DB, after Position, limit int) ([]Position, error) {
	if limit <= 0 {
		return nil, errors.New("sqlaudit: Final needs a limit above 0")
	}
	var out []Position
	err := withRawConn(ctx, db, func(c *conn) error {
		s := c.c.sh.Dialect.Sealing(c.c.sh.AuditRef, c.c.sh.SealRef)
		finalIndexes(ctx, db, c, s)
		h, err := c.s.QueryAll(ctx, s.Horizon)
		if err != nil {
			return err
		}
		to := engine.AsInt(h[0][0])
		x, hf, id := s.HorizExpr, strconv.FormatInt(after.Horizon, 10), strconv.FormatInt(after.ID, 10)
		scope, args := timeScope(s, after.Horizon, to)
		rows, err := c.s.QueryAll(ctx, `SELECT `+x+`, a.id FROM `+c.c.sh.Audit+` a WHERE `+x+` >= `+hf+
			` AND (`+x+` > `+hf+` OR a.id > `+id+`) AND `+x+` < `+strconv.FormatInt(to, 10)+scope+
			` ORDER BY `+x+`, a.id LIMIT `+strconv.Itoa(limit), args...)
		if err != nil {
			return err
		}
		out = make([]Position, len(rows))
		for i, r := range rows {
			out[i] = Position{Horizon: engine.AsInt(r[0]), ID: engine.AsInt(r[1])}
		}
		return nil
	})
	return out, err
}

// timeScope narrows the scan where the horizon is a time (MariaDB: the
// horizon expression, microseconds of occurred_at, is a function no index
// serves): the dialect's own time condition (Before, which its index on
// occurred_at serves) keeps the read to the records around the range. It
// is widened by an hour and a second on both sides, so that a session time
// zone with daylight saving (an ambiguous local hour) never narrows it
// below the exact condition, which stays in the query.
func timeScope(s engine.SealSQL, from, to int64) (string, []driver.NamedValue) {
	if s.TxOnScale || s.Before == "" || !strings.Contains(s.Before, "?") || strings.Contains(s.Before, "?1") {
		return "", nil
	}
	margin := time.Hour + time.Second
	lo, hi := time.UnixMicro(from).Add(-margin), time.UnixMicro(to).Add(margin)
	if lo.Unix() < 1 { // from the start: FROM_UNIXTIME of a negative time is NULL
		return ` AND ` + s.Before, engine.Named(s.TimeArg(hi))
	}
	return ` AND NOT (` + s.Before + `) AND ` + s.Before, engine.Named(s.TimeArg(lo), s.TimeArg(hi))
}

// indexed holds the handles whose horizon indexes Final has asked for.
var indexed sync.Map // *sql.DB → struct{}

// finalIndexes creates, once per handle, the horizon indexes of the
// sealing DDL that are missing (sealIndexes): without them every Final
// scans the whole trail. A failure (no right to create an index) only makes
// Final slower.
func finalIndexes(ctx context.Context, db *sql.DB, c *conn, s engine.SealSQL) {
	if _, done := indexed.LoadOrStore(db, struct{}{}); done {
		return
	}
	if err := c.sealIndexes(ctx, s); err != nil {
		c.c.log.Warn("sqlaudit: Final could not add the horizon index", "error", err)
	}
}

// sealIndexes creates the indexes of the sealing DDL that are missing. An
// index that exists is not created again: CREATE INDEX IF NOT EXISTS still
// locks the audit table first, so it would wait for every open writing
// transaction and hold the application's writers behind it. A missing one
// is created once, with that wait.
func (c *conn) sealIndexes(ctx context.Context, s engine.SealSQL) error {
	var creates []string
	for _, q := range s.DDL {
		if strings.HasPrefix(q, "CREATE INDEX") {
			creates = append(creates, q)
		}
	}
	if len(creates) == 0 {
		return nil
	}
	if s.Indexed != "" {
		if rows, err := c.s.QueryAll(ctx, s.Indexed); err == nil && len(rows) == 1 && int(engine.AsInt(rows[0][0])) >= len(creates) {
			return nil
		}
	}
	for _, q := range creates {
		if _, err := c.s.RawExec(ctx, q, nil); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}
