package benchmark

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sqlaudit/sqlaudit"
	"github.com/sqlaudit/sqlaudit/internal/natstest"
	"github.com/sqlaudit/sqlaudit/relay"
)

// The relay benchmark: package relay streaming the viewer benchmark's
// generated trail (records records per database) to an embedded JetStream
// — a single node, or a three-node cluster with replicas 3 — from an empty
// stream (records/s of the catch-up), then the lag of each record under a
// steady audited write load (a 1-row UPDATE every 5 ms through the audit
// driver) while the relay runs: the time from the record's occurred_at to
// its arrival at a subscriber of the stream.

// relayResult is one driver's figures.
type relayResult struct {
	driver             string
	records            int
	catchUp            time.Duration
	lags               []time.Duration
	written, published int
}

// RunRelay measures the relay on every selected driver (pgx, SQLite and
// MariaDB; lib/pq reads the same PostgreSQL trail as pgx and is skipped
// unless named) with replicas stream replicas (1 or 3).
func RunRelay(ctx context.Context, cfg Config, records, replicas int, load time.Duration, w io.Writer) error {
	ds, err := cfg.selectDrivers()
	if err != nil {
		return err
	}
	if cfg.Drivers == nil {
		ds = slices.DeleteFunc(ds, func(d *driverSpec) bool { return d.name == "pq" })
	}
	dir, err := os.MkdirTemp("", "sqlaudit-relay-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var results []relayResult
	for i, d := range ds {
		cl, err := natstest.Run(fmt.Sprintf("%s/%d", dir, i), replicas)
		if err != nil {
			return err
		}
		res, err := measureRelay(ctx, cfg, d, cl.URL(), records, replicas, load)
		cl.Shutdown()
		if err != nil {
			return fmt.Errorf("%s: %w", d.name, err)
		}
		results = append(results, res)
		progress(cfg, "%s: relay measured", d.name)
	}
	return writeRelay(w, records, replicas, load, results)
}

func measureRelay(ctx context.Context, cfg Config, d *driverSpec, url string, records, replicas int, load time.Duration) (relayResult, error) {
	res := relayResult{driver: d.name, records: records}
	start := time.Now()
	t, err := makeViewerTrail(ctx, cfg, d, records)
	if err != nil {
		return res, err
	}
	defer t.close()
	if d.d.pg { // the generated tx_ids must lie below the horizon, as real ones do
		if _, err := t.plain.ExecContext(ctx, `UPDATE audit_log SET tx_id = tx_id * (pg_snapshot_xmin(pg_current_snapshot())::text::bigint - 1) / `+fmt.Sprint(records+1)); err != nil {
			return res, err
		}
	}
	if err := continueIDs(ctx, t, records); err != nil {
		return res, err
	}
	progress(cfg, "%s: %d records generated in %v", d.name, records, time.Since(start).Round(time.Second))
	db, err := sql.Open(d.audit, t.dsnFor(d))
	if err != nil {
		return res, err
	}
	defer db.Close()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1))
	if err != nil {
		return res, err
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts := relay.Options{Source: "bench", Replicas: replicas, Once: true, Logger: quiet}
	start = time.Now()
	if err := relay.Run(ctx, db, js, opts); err != nil {
		return res, err
	}
	res.catchUp = time.Since(start)
	progress(cfg, "%s: caught up with %d records in %v", d.name, records, res.catchUp.Round(time.Millisecond))
	res.lags, res.written, res.published, err = steadyLag(ctx, db, js, opts, load)
	return res, err
}

// continueIDs moves the id sequence past the generated records, so that
// the audit driver's records follow them.
func continueIDs(ctx context.Context, t *viewerTrail, n int) error {
	var q string
	switch {
	case t.d.pg:
		q = `SELECT setval(pg_get_serial_sequence('audit_log', 'id'), (SELECT max(id) FROM audit_log))`
	case t.d.my:
		q = fmt.Sprintf(`SELECT SETVAL(audit_log_seq, %d)`, n+1)
	default:
		return nil
	}
	_, err := t.plain.ExecContext(ctx, q)
	return err
}

// steadyLag runs the relay while a writer updates one row every 5 ms
// through the audit driver, and returns each new record's lag.
func steadyLag(ctx context.Context, db *sql.DB, js jetstream.JetStream, opts relay.Options, load time.Duration) ([]time.Duration, int, int, error) {
	if _, err := db.ExecContext(ctx, `CREATE TABLE relay_bench (id INTEGER PRIMARY KEY, n INTEGER)`); err != nil {
		return nil, 0, 0, err
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO relay_bench VALUES (1, 0)`); err != nil {
		return nil, 0, 0, err
	}
	var mu sync.Mutex
	var lags []time.Duration
	sub, err := js.Conn().Subscribe("audit.bench.>", func(m *nats.Msg) { // only the new records: the rest is in already
		var r struct {
			OccurredAt time.Time `json:"occurred_at"`
		}
		json.Unmarshal(m.Data, &r)
		mu.Lock()
		lags = append(lags, time.Since(r.OccurredAt))
		mu.Unlock()
	})
	if err != nil {
		return nil, 0, 0, err
	}
	defer sub.Unsubscribe()
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	opts.Once = false
	go func() { done <- relay.Run(rctx, db, js, opts) }()
	written := 0
	ctx = sqlaudit.WithActor(ctx, "bench")
	for end := time.Now().Add(load); time.Now().Before(end); written++ {
		if _, err := db.ExecContext(ctx, `UPDATE relay_bench SET n = n + 1 WHERE id = 1`); err != nil {
			stop()
			return nil, 0, 0, err
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // the last records' way through
	stop()
	if err := <-done; err != nil {
		return nil, 0, 0, err
	}
	mu.Lock()
	defer mu.Unlock()
	return lags, written + 1, len(lags), nil
}

func writeRelay(w io.Writer, records, replicas int, load time.Duration, rs []relayResult) error {
	m := describeMachine()
	fmt.Fprintf(w, "# relay: a %d-record trail to JetStream (embedded nats-server, %d node(s), replicas %d), then %s of steady writes\n", records, replicas, replicas, load)
	fmt.Fprintf(w, "# %s\n\n", m)
	fmt.Fprintf(w, "| driver | catch-up | records/s | steady writes | published | lag p50 | lag p99 | lag max |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		slices.Sort(r.lags)
		q := func(p float64) string {
			if len(r.lags) == 0 {
				return "–"
			}
			return r.lags[min(len(r.lags)-1, int(p*float64(len(r.lags))))].Round(time.Millisecond).String()
		}
		fmt.Fprintf(w, "| %s | %s | %.0f | %d | %d | %s | %s | %s |\n", r.driver, r.catchUp.Round(100*time.Millisecond),
			float64(r.records)/r.catchUp.Seconds(), r.written, r.published, q(0.5), q(0.99), q(1))
	}
	return nil
}
