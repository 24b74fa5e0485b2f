package gather

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sqlaudit/sqlaudit/internal/retry"
)

// Options configure Run; all have defaults.
type Options struct {
	Stream   string // the relays' stream (default "AUDIT")
	Prefix   string // their subject prefix (default "audit"): Run takes <Prefix>.>
	Consumer string // the durable consumer's name (default "sqlaudit_gather")
	Table    string // the central table (default "audit_log")
	Batch    int    // messages per central transaction (default 1,000)
	// Once stops Run when the consumer has nothing pending.
	Once bool
	// GiveUp returns the last error after failing for this long without a
	// success in between (0: retry for ever).
	GiveUp   time.Duration
	Logger   *slog.Logger
	Progress func(Stats) // called after every batch and when idle
}

// Stats is a gather's progress.
type Stats struct {
	Messages int64         // messages this Run handled
	Inserted int64         // records it wrote (the rest were there already)
	Rate     float64       // messages per second since the previous report
	Pending  uint64        // messages the consumer has not delivered yet
	Lag      time.Duration // the last batch: write time minus its last record's occurred_at
}

func (o *Options) defaults() {
	if o.Stream == "" {
		o.Stream = "AUDIT"
	}
	if o.Prefix == "" {
		o.Prefix = "audit"
	}
	if o.Consumer == "" {
		o.Consumer = "sqlaudit_gather"
	}
	if o.Table == "" {
		o.Table = "audit_log"
	}
	if o.Batch <= 0 {
		o.Batch = 1000
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Run consumes the stream into the central PostgreSQL database until ctx is
// done (then it returns nil) or, with Once, until nothing is pending.
// central is a plain (not audited) handle on it. NATS or database failures
// are logged and retried with backoff; what is not acknowledged is
// delivered again and written once.
func Run(ctx context.Context, central *sql.DB, js jetstream.JetStream, opts Options) error {
	opts.defaults()
	g := &gatherer{db: central, js: js, opts: opts, log: opts.Logger.With("consumer", opts.Consumer, "stream", opts.Stream), last: time.Now()}
	return retry.Loop(ctx, "gather", opts.GiveUp, g.log, g.session, nil)
}

type gatherer struct {
	db    *sql.DB
	js    jetstream.JetStream
	opts  Options
	log   *slog.Logger
	stats Stats
	last  time.Time
	prevN int64
}

// session locks the consumer, then fetches, writes and acknowledges
// batches until an error or, with Once, until nothing is pending.
func (g *gatherer) session(ctx context.Context) (bool, error) {
	conn, err := g.db.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	if err := g.lock(ctx, conn); err != nil {
		return false, err
	}
	for _, q := range DDL(g.opts.Table) {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return false, fmt.Errorf("gather: creating the central table: %w", err)
		}
	}
	cons, err := g.consumer(ctx)
	if err != nil {
		return false, fmt.Errorf("gather: the consumer %s on stream %s: %w", g.opts.Consumer, g.opts.Stream, err)
	}
	st := &store{conn: conn, table: g.opts.Table, sources: map[string]int64{}}
	for {
		n, err := g.batch(ctx, cons, st)
		if err != nil {
			return false, err
		}
		if n > 0 {
			continue
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return false, err
		}
		g.stats.Pending = info.NumPending
		g.report()
		if g.opts.Once && info.NumPending == 0 && info.NumAckPending == 0 {
			return true, nil
		}
	}
}

// consumer (re)creates the durable consumer so that delivery starts right
// after its acknowledgement floor. A gather killed with messages delivered
// but not acknowledged would otherwise get them again only after the ack
// wait, behind newer ones — and acknowledging a newer one (ack-all) would
// acknowledge them unwritten. Starting from the floor keeps the stream's
// order; what was written already is skipped by the central table's key.
func (g *gatherer) consumer(ctx context.Context) (jetstream.Consumer, error) {
	cfg := jetstream.ConsumerConfig{
		Durable: g.opts.Consumer, FilterSubject: g.opts.Prefix + ".>", AckPolicy: jetstream.AckAllPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy, AckWait: 5 * time.Minute, MaxAckPending: 20 * g.opts.Batch,
	}
	old, err := g.js.Consumer(ctx, g.opts.Stream, g.opts.Consumer)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
	case err != nil:
		return nil, err
	default:
		info := old.CachedInfo()
		if info.NumAckPending == 0 {
			return old, nil
		}
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, info.AckFloor.Stream+1
		g.log.Info("restarting delivery after the acknowledged messages", "from_seq", cfg.OptStartSeq, "unacknowledged", info.NumAckPending)
		if err := g.js.DeleteConsumer(ctx, g.opts.Stream, g.opts.Consumer); err != nil {
			return nil, err
		}
	}
	return g.js.CreateConsumer(ctx, g.opts.Stream, cfg)
}

// lock takes the consumer's advisory lock on conn, waiting for another
// gather holding it.
func (g *gatherer) lock(ctx context.Context, conn *sql.Conn) error {
	h := fnv.New64a()
	h.Write([]byte("sqlaudit gather " + g.opts.Stream + " " + g.opts.Consumer))
	key := int64(h.Sum64())
	for waiting := false; ; waiting = true {
		var ok bool
		if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil {
			return err
		}
		if ok {
			return nil
		}
		if !waiting {
			g.log.Warn("another gather holds this consumer: waiting for it to stop")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// batch fetches up to Batch messages, writes them in one transaction and
// acknowledges them (the last one acknowledges all) after the commit.
func (g *gatherer) batch(ctx context.Context, cons jetstream.Consumer, st *store) (int, error) {
	b, err := cons.Fetch(g.opts.Batch, jetstream.FetchMaxWait(time.Second))
	if err != nil {
		return 0, err
	}
	var rows []row
	var last jetstream.Msg
	for m := range b.Messages() {
		last = m
		r, err := parse(m)
		if err != nil {
			g.log.Error("not a relayed record: skipped", "subject", m.Subject(), "error", err)
			continue
		}
		rows = append(rows, r)
	}
	if err := b.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
		return 0, err
	}
	if last == nil {
		return 0, nil
	}
	var n int64
	if len(rows) > 0 {
		if n, err = st.write(ctx, rows); err != nil {
			return 0, err
		}
	}
	if err := last.DoubleAck(ctx); err != nil {
		return 0, fmt.Errorf("gather: acknowledging after the commit (the batch comes again and is skipped): %w", err)
	}
	g.stats.Messages += int64(len(rows))
	g.stats.Inserted += n
	if len(rows) > 0 {
		g.stats.Lag = time.Since(rows[len(rows)-1].rec.OccurredAt)
	}
	g.report()
	return len(rows) + 1, nil
}

// parse reads a relayed message: its source header and the record.
func parse(m jetstream.Msg) (row, error) {
	src := m.Headers().Get("Sqlaudit-Source")
	if src == "" {
		return row{}, errors.New("no Sqlaudit-Source header")
	}
	var w wire
	if err := json.Unmarshal(m.Data(), &w); err != nil {
		return row{}, err
	}
	if w.ID == 0 || w.Action == "" || len(w.Key) == 0 {
		return row{}, errors.New("the body is not an audit record")
	}
	return row{source: src, rec: w}, nil
}

func (g *gatherer) report() {
	now := time.Now()
	if dt := now.Sub(g.last).Seconds(); dt > 0 {
		g.stats.Rate = float64(g.stats.Messages-g.prevN) / dt
	}
	g.last, g.prevN = now, g.stats.Messages
	if g.opts.Progress != nil {
		g.opts.Progress(g.stats)
	}
}
