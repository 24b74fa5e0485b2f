package benchmark

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sqlaudit/sqlaudit"
)

// cell is one workload measured on one driver: a series per variant.
type cell struct {
	w      *workload
	driver *driverSpec
	series []*series // in Variants order
	check  string    // how T's or L's records differ from N's; "" when they agree
}

// Run executes cfg — every selected workload on every selected driver, each
// in interleaved rounds of its variants — and writes the report to w.
func Run(ctx context.Context, cfg Config, w io.Writer) error {
	ds, err := cfg.selectDrivers()
	if err != nil {
		return err
	}
	ws, err := cfg.selectWorkloads()
	if err != nil {
		return err
	}
	r := &report{cfg: cfg, rows: cfg.tableRows(ws), machine: describeMachine(), settings: map[string]string{}}
	for _, d := range ds {
		if err := r.runDriver(ctx, d, ws); err != nil {
			return err
		}
	}
	return r.write(w)
}

// runDriver sets up d's targets and measures every workload on them.
func (r *report) runDriver(ctx context.Context, d *driverSpec, ws []*workload) error {
	start := time.Now()
	e, err := openEnv(ctx, r.cfg, d, r.rows)
	if err != nil {
		return err
	}
	defer e.close()
	r.progress("%s: %d targets of %d rows ready in %v", d.name, len(e.targets), r.rows, time.Since(start).Round(time.Millisecond))
	if _, ok := r.settings[d.d.name]; !ok {
		r.settings[d.d.name] = e.describe(ctx, r.cfg)
	}
	if p := e.probeConnections(ctx, r.cfg); p != "" {
		r.probes = append(r.probes, p)
	}
	for _, w := range ws {
		if err := e.settle(ctx); err != nil {
			return err
		}
		start := time.Now()
		c, err := runCell(ctx, r.cfg, e, w)
		if err != nil {
			return err
		}
		r.cells = append(r.cells, c)
		r.progress("%s %s: %d rounds in %v", d.name, w.name, len(c.series[0].samples), time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// runCell runs w in rounds P T S N L P T S N L … on e and checks afterwards
// that T, S and L wrote the records N wrote.
func runCell(ctx context.Context, cfg Config, e *env, w *workload) (*cell, error) {
	c := &cell{w: w, driver: e.spec}
	for _, t := range e.targets {
		c.series = append(c.series, &series{v: t.v})
	}
	marks, err := e.recordMarks(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.rounds(ctx, cfg, e); err != nil {
		return nil, err
	}
	counts, err := e.recordCounts(ctx, marks)
	if err != nil {
		return nil, err
	}
	c.check = checkRecords(c.series, counts)
	return c, nil
}

// reconnectEvery is how many measured rounds a server connection
// serves before every target gets a new one: on a VM the latency of a
// connection can depend on where its server process landed (bimodal, per
// connection), so each variant is measured over many connections.
const reconnectEvery = 20

// rounds runs the warm-up rounds, then the measured ones until they are
// done or Duration has passed. After each change of connections one
// unmeasured round warms the new ones.
func (c *cell) rounds(ctx context.Context, cfg Config, e *env) error {
	i := 0
	run := func(measured bool) error {
		for j, t := range e.targets {
			if err := c.round(ctx, e, t, c.series[j], i, measured); err != nil {
				return fmt.Errorf("%s/%s/%s round %d: %w", c.w.name, e.spec.name, t.v, i, err)
			}
		}
		i++
		return nil
	}
	for range cfg.warmup(c.w) {
		if err := run(false); err != nil {
			return err
		}
	}
	start := time.Now()
	for m := range cfg.rounds(c.w) {
		if m >= minRounds && cfg.Duration > 0 && time.Since(start) > cfg.Duration {
			break
		}
		if e.spec.d.server && m > 0 && m%reconnectEvery == 0 {
			e.reconnect()
			if err := run(false); err != nil {
				return err
			}
		}
		if err := run(true); err != nil {
			return err
		}
	}
	return nil
}

// round runs round i of the cell's workload on t, records it in s when
// measured, and undoes its effect. A refusal by sqlaudit is noted once and
// the variant left out from then on.
func (c *cell) round(ctx context.Context, e *env, t *target, s *series, i int, measured bool) error {
	if s.refused != "" {
		return nil
	}
	o := c.w.make(e.spec.d, i, e.rows)
	d, peak, err := t.measure(ctx, e.spec.d, o, c.w.heap)
	if errors.Is(err, sqlaudit.ErrUnsupported) {
		s.refused = err.Error()
		return nil
	}
	if err != nil {
		return err
	}
	if o.undo != nil {
		if err := o.undo(ctx, t.plain); err != nil {
			return fmt.Errorf("untimed undo: %w", err)
		}
	}
	if measured {
		s.samples = append(s.samples, d)
		if c.w.heap {
			s.heaps = append(s.heaps, peak)
		}
	}
	return nil
}

// measure times one operation on t and, when heap is set, the peak growth
// of the client's heap during it.
func (t *target) measure(ctx context.Context, d *dialect, o *op, heap bool) (time.Duration, int64, error) {
	var h *heapSampler
	if heap {
		h = startHeapSampler()
	}
	start := time.Now()
	err := t.exec(ctx, d, o)
	elapsed := time.Since(start)
	var peak int64
	if h != nil {
		peak = h.finish()
	}
	return elapsed, peak, err
}

// exec runs o the variant's way.
func (t *target) exec(ctx context.Context, d *dialect, o *op) error {
	switch {
	case o.kind == opRead:
		return read(ctx, t.db, o)
	case t.v == Naive:
		return naive(ctx, t.db, d, o)
	case t.v == Library:
		ctx = sqlaudit.WithActor(ctx, actor)
	}
	_, err := t.db.ExecContext(ctx, o.query, o.args...)
	return err
}

// read runs a query and reads every row.
func read(ctx context.Context, db *sql.DB, o *op) error {
	rows, err := db.QueryContext(ctx, o.query, o.args...)
	if err != nil {
		return err
	}
	_, err = scanImages(rows)
	return err
}
