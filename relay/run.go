package relay

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sqlaudit/sqlaudit"
	"github.com/sqlaudit/sqlaudit/internal/retry"
	"github.com/sqlaudit/sqlaudit/trail"
)

// scan is how many positions one read of the trail asks for: a read sorts
// what lies between the position and the horizon, so big reads keep a
// catch-up from sorting the same records again and again.
const scan = 200000

type relay struct {
	db    *sql.DB
	js    jetstream.JetStream
	opts  Options
	log   *slog.Logger
	stats Stats
	last  time.Time // the previous progress report
	prevN int64     // Published at the previous report
}

func newRelay(db *sql.DB, js jetstream.JetStream, opts Options) (*relay, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	if _, ok := sqlaudit.DialectOf(db); !ok {
		return nil, errors.New("relay: db must be opened through an audit driver (its dialect gives the horizon)")
	}
	r := &relay{db: db, js: js, opts: opts, stats: Stats{Source: opts.Source}, last: time.Now()}
	r.log = opts.Logger.With("source", opts.Source, "stream", opts.Stream)
	return r, nil
}

// run is Run's loop: hold the lease, resume from the stream, pump; on a
// failure back off and start again from the stream's position.
func (r *relay) run(ctx context.Context) error {
	return retry.Loop(ctx, "relay", r.opts.GiveUp, r.log, r.session, func(err error) bool {
		var p errPermanent
		return errors.As(err, &p)
	})
}

// session holds the lease and pumps records until an error, a lost lease
// or, with Once, the end of the trail (done).
func (r *relay) session(ctx context.Context) (done bool, err error) {
	if err := r.checkServer(); err != nil {
		return false, err
	}
	if err := r.ensureStream(ctx); err != nil {
		return false, err
	}
	l, err := r.acquire(ctx)
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	kept := make(chan struct{})
	defer func() {
		// the renewals end before the release: a renewal after it would
		// race on the lease's revision (and could take the lease again)
		cancel(nil)
		<-kept
		l.release(context.WithoutCancel(ctx))
	}()
	go func() { defer close(kept); r.keep(ctx, l, cancel) }()
	done, err = r.pump(ctx)
	if c := context.Cause(ctx); errors.Is(c, errLost) {
		return false, c
	}
	return done, err
}

// keep renews the lease until ctx ends; losing it cancels the session.
func (r *relay) keep(ctx context.Context, l *lease, cancel context.CancelCauseFunc) {
	t := time.NewTicker(r.opts.LeaseTTL / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := l.renew(ctx); errors.Is(err, errLost) {
			r.log.Error("lease lost: stopping this session", "error", err)
			cancel(err)
			return
		} else if err != nil && ctx.Err() == nil {
			r.log.Warn("lease renewal failed", "error", err)
		}
	}
}

// pump publishes the final records after the stream's last one, batch by
// batch, reading the trail again whenever it has caught up.
func (r *relay) pump(ctx context.Context) (done bool, err error) {
	pos, seq, err := r.lastOfSource(ctx)
	if err != nil {
		return false, err
	}
	r.stats.Position, r.stats.Seq = pos, seq
	r.log.Info("resuming", "after_record", pos.ID, "position", pos.Horizon, "stream_seq", seq)
	for {
		ps, err := sqlaudit.Final(ctx, r.db, pos, scan)
		if err != nil {
			return false, fmt.Errorf("relay: reading the trail: %w", err)
		}
		caughtUp := len(ps) < scan
		if len(ps) > 0 {
			if pos, seq, err = r.sendAll(ctx, ps, seq); err != nil {
				return false, err
			}
		}
		if !caughtUp {
			continue
		}
		r.stats.CaughtUp = true
		r.report()
		if r.opts.Once {
			return true, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(r.opts.Poll):
		}
	}
}

// batch is one atomic batch, read and encoded.
type batch struct {
	ps   []sqlaudit.Position
	msgs []*nats.Msg
	last trail.Record
	err  error
}

// sendAll publishes the records at ps in batches after stream sequence
// seq. The next batch is read from the database while the previous one
// commits.
func (r *relay) sendAll(ctx context.Context, ps []sqlaudit.Position, seq uint64) (sqlaudit.Position, uint64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(chan batch, 1)
	go func() {
		defer close(ready)
		for len(ps) > 0 {
			n := min(len(ps), r.opts.Batch)
			b := r.prepare(ctx, ps[:n])
			select {
			case ready <- b:
			case <-ctx.Done():
				return
			}
			if b.err != nil {
				return
			}
			ps = ps[n:]
		}
	}()
	var pos sqlaudit.Position
	for b := range ready {
		if b.err != nil {
			return pos, seq, b.err
		}
		if err := r.checkServer(); err != nil {
			return pos, seq, err
		}
		next, err := r.publish(ctx, b.msgs, seq)
		if err != nil {
			return pos, seq, err
		}
		seq, pos = next, b.ps[len(b.ps)-1]
		r.stats.Published += int64(len(b.msgs))
		r.stats.Position, r.stats.Seq = pos, seq
		r.stats.Lag = time.Since(b.last.OccurredAt)
		r.stats.CaughtUp = false
		r.report()
	}
	return pos, seq, ctx.Err()
}

// prepare reads the records at ps and makes their messages.
func (r *relay) prepare(ctx context.Context, ps []sqlaudit.Position) batch {
	ids := make([]int64, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	recs, err := trail.ByID(ctx, r.db, ids, trail.WithTable(r.opts.AuditTable))
	if err != nil {
		return batch{err: fmt.Errorf("relay: reading records: %w", err)}
	}
	if len(recs) != len(ids) {
		return batch{err: permanent("relay: %d of records %d…%d are gone (pruned before they were relayed?)", len(ids)-len(recs), ids[0], ids[len(ids)-1])}
	}
	b := batch{ps: ps, msgs: make([]*nats.Msg, len(recs)), last: recs[len(recs)-1]}
	for i, rec := range recs {
		if b.msgs[i], err = r.message(rec, ps[i]); err != nil {
			return batch{err: err}
		}
	}
	return b
}

// report updates the rate and calls Progress.
func (r *relay) report() {
	now := time.Now()
	if dt := now.Sub(r.last).Seconds(); dt > 0 {
		r.stats.Rate = float64(r.stats.Published-r.prevN) / dt
	}
	r.last, r.prevN = now, r.stats.Published
	if r.opts.Progress != nil {
		r.opts.Progress(r.stats)
	}
}

// checkServer refuses a server older than 2.12, which would store a
// batch's messages one by one instead of atomically.
func (r *relay) checkServer() error {
	v := r.js.Conn().ConnectedServerVersion()
	if v == "" {
		return nats.ErrConnectionClosed
	}
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	major, _ := strconv.Atoi(parts[0])
	minor := 0
	if len(parts) > 1 {
		minor, _ = strconv.Atoi(parts[1])
	}
	if major < 2 || major == 2 && minor < 12 {
		return permanent("relay: nats-server %s is too old: the relay needs 2.12 or newer (atomic batch publish)", v)
	}
	return nil
}
