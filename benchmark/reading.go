package benchmark

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sqlaudit/sqlaudit"
	"github.com/sqlaudit/sqlaudit/trail"
)

// The reading benchmark (-reading): the trail package's readers on the
// viewer benchmark's generated trail (viewer_trail.go), in an audit table
// made by sqlaudit's DDL as shipped, its reading indexes included — a
// row's history, the row as of a time, log's first pages, an export of the
// whole trail — and the revert of a transaction of revertRows rows of a
// real table, written through the audit driver onto the same trail.

// DefaultRevertRows is the size of the reading benchmark's reverted
// transaction.
const DefaultRevertRows = 100000

// readCase is one timed read of the reading benchmark.
type readCase struct {
	name   string
	bounds string // what bounds it, in words
	run    func(ctx context.Context, db *sql.DB, n int, txBase int64) error
}

// readRow is the row whose history and past the benchmark reads: id 4 of
// payments, written by records 4, 100,004, 200,004 … (one per 100,000).
var readRow = trail.Key{"id": 4}

var readCases = []readCase{
	{"history of one row", "row index (table_name, row_key) lookup", func(ctx context.Context, db *sql.DB, n int, _ int64) error {
		recs, err := trail.History(ctx, db, "payments", readRow)
		return want(len(recs), max(n/100000, 1), err)
	}},
	{"asof of one row (the middle of the trail)", "row index; the current row by key", func(ctx context.Context, db *sql.DB, n int, _ int64) error {
		_, ok, err := trail.AsOf(ctx, db, "payments", readRow, viewerStart.Add(time.Duration(n/2)*time.Millisecond))
		if err == nil && !ok {
			err = fmt.Errorf("the row did not exist")
		}
		return err
	}},
	{"log, first page (100, oldest first)", "primary key", func(ctx context.Context, db *sql.DB, _ int, _ int64) error {
		recs, err := trail.Log(ctx, db, trail.Filter{Limit: 101})
		return want(len(recs), 101, err)
	}},
	{"log, first page newest first", "primary key, backwards", func(ctx context.Context, db *sql.DB, _ int, _ int64) error {
		recs, err := trail.Log(ctx, db, trail.Filter{Limit: 101, NewestFirst: true})
		return want(len(recs), 101, err)
	}},
	{"log --actor (2%), newest first", "actor index (actor, id)", func(ctx context.Context, db *sql.DB, n int, _ int64) error {
		recs, err := trail.Log(ctx, db, trail.Filter{Actor: "user7", Limit: 101, NewestFirst: true})
		return want(len(recs), min(101, n/50), err) // one transaction in 50 is user7's
	}},
	{"log --actor (0.01%), newest first", "actor index", func(ctx context.Context, db *sql.DB, n int, _ int64) error {
		_, err := trail.Log(ctx, db, trail.Filter{Actor: viewerRareActor, Limit: 101, NewestFirst: true})
		return err
	}},
	{"log --since (the newer half), oldest first", "time index (PostgreSQL BRIN, SQLite B-tree; MariaDB: none)", func(ctx context.Context, db *sql.DB, n int, _ int64) error {
		recs, err := trail.Log(ctx, db, trail.Filter{Since: viewerStart.Add(time.Duration(n/2) * time.Millisecond), Limit: 101})
		return want(len(recs), 101, err)
	}},
	{"log --tx (one transaction)", "tx index", func(ctx context.Context, db *sql.DB, n int, txBase int64) error {
		recs, err := trail.Transaction(ctx, db, txBase+int64(n/2/viewerTxSize*viewerTxSize+1))
		if err == nil && len(recs) == 0 {
			err = fmt.Errorf("no records")
		}
		return err
	}},
}

func want(got, n int, err error) error {
	if err == nil && got != n {
		return fmt.Errorf("%d records, want %d", got, n)
	}
	return err
}

// readResult is one measured case on one driver.
type readResult struct {
	driver, name, bounds string
	times                []time.Duration
	note                 string
}

// RunReading runs the reading benchmark on a trail of records records per
// database and a reverted transaction of revertRows rows, and writes its
// table to w.
func RunReading(ctx context.Context, cfg Config, records, revertRows int, w io.Writer) error {
	ds, err := cfg.selectDrivers()
	if err != nil {
		return err
	}
	rounds := 5
	if cfg.Quick {
		rounds = 2
	}
	if cfg.Iterations > 0 {
		rounds = cfg.Iterations
	}
	var out []readResult
	for _, d := range ds {
		start := time.Now()
		t, err := makeTrail(ctx, cfg, d, records, &viewerTrail{d: d.d, name: fmt.Sprintf("sqab_reading_%d_%s", os.Getpid(), d.name), shipped: !cfg.ReadingBare,
			txBase: map[bool]int64{true: 1 << 40}[d.d.pg]})
		if err != nil {
			return fmt.Errorf("%s: %w", d.name, err)
		}
		progress(cfg, "%s: %d records generated in %v", d.name, records, time.Since(start).Round(time.Second))
		rs, err := measureReading(ctx, cfg, d, t, records, revertRows, rounds)
		t.close()
		if err != nil {
			return fmt.Errorf("%s: %w", d.name, err)
		}
		out = append(out, rs...)
		progress(cfg, "%s: reading measured", d.name)
	}
	return writeReading(w, cfg, records, revertRows, rounds, out)
}

// measureReading times every case, the export and the revert on d.
func measureReading(ctx context.Context, cfg Config, d *driverSpec, t *viewerTrail, n, revertRows, rounds int) ([]readResult, error) {
	if err := execAll(ctx, t.plain, []string{`CREATE TABLE payments (id INTEGER PRIMARY KEY, price INTEGER, qty INTEGER, note TEXT)`,
		`INSERT INTO payments VALUES (4, 1, 1, 'now')`}); err != nil {
		return nil, err
	}
	db, err := openPool(d.audit, withAuditParams(d, t.dsnFor(d)))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var out []readResult
	for _, c := range readCases {
		r := readResult{driver: d.name, name: c.name, bounds: c.bounds}
		for i := -1; i < rounds; i++ {
			start := time.Now()
			if err := c.run(ctx, db, n, t.txBase); err != nil {
				return nil, fmt.Errorf("%s: %w", c.name, err)
			}
			if i >= 0 {
				r.times = append(r.times, time.Since(start))
			}
		}
		out = append(out, r)
	}
	exp, err := measureExport(ctx, db, n)
	if err != nil {
		return nil, err
	}
	exp.driver = d.name
	out = append(out, exp)
	rev, err := measureRevert(ctx, cfg, d, t, db, revertRows)
	if err != nil {
		return nil, fmt.Errorf("revert: %w", err)
	}
	return append(out, rev...), nil
}

// measureExport streams the whole trail as JSON lines to nowhere, once,
// with the peak of the client's heap.
func measureExport(ctx context.Context, db *sql.DB, n int) (readResult, error) {
	h := startHeapSampler()
	start := time.Now()
	enc := json.NewEncoder(io.Discard)
	count := 0
	for r, err := range trail.Query(ctx, db, trail.Filter{}) {
		if err != nil {
			h.finish()
			return readResult{}, err
		}
		if err := enc.Encode(r); err != nil {
			h.finish()
			return readResult{}, err
		}
		count++
	}
	took := time.Since(start)
	peak := h.finish()
	if count < n {
		return readResult{}, fmt.Errorf("export: %d records, want at least %d", count, n)
	}
	return readResult{name: "export of the whole trail (JSON lines)", bounds: "one streaming query; JSON decoding and encoding in Go",
		times: []time.Duration{took}, note: fmt.Sprintf("%.0f records/s, peak heap +%.1f MiB", float64(count)/took.Seconds(), float64(peak)/(1<<20))}, nil
}

// measureRevert writes a transaction updating rows rows of items through
// the audit driver, then times its revert: the dry run (the conflict check
// and the statements) and the revert itself, each round reverting the
// previous round's revert.
func measureRevert(ctx context.Context, cfg Config, d *driverSpec, t *viewerTrail, db *sql.DB, rows int) ([]readResult, error) {
	if err := execAll(ctx, t.plain, []string{d.d.itemsDDL}); err != nil {
		return nil, err
	}
	if _, err := t.plain.ExecContext(ctx, d.d.fill, 1, rows); err != nil {
		return nil, fmt.Errorf("filling items: %w", err)
	}
	actx := sqlaudit.WithActor(ctx, actor)
	if _, err := db.ExecContext(actx, `UPDATE items SET qty = qty + 1, note = 'changed'`); err != nil {
		return nil, err
	}
	tx, err := lastTx(ctx, t.plain)
	if err != nil {
		return nil, err
	}
	dry := readResult{driver: d.name, name: fmt.Sprintf("revert --dry-run of a %d-row UPDATE", rows), bounds: "one query per table for the later records (row index), one for the current rows"}
	real := readResult{driver: d.name, name: fmt.Sprintf("revert of a %d-row UPDATE", rows), bounds: "batched UPDATEs through the audit driver, each recording its rows"}
	for i := 0; i < 3; i++ {
		start := time.Now()
		if _, err := trail.Revert(actx, db, tx, trail.RevertOptions{DryRun: true}); err != nil {
			return nil, err
		}
		dry.times = append(dry.times, time.Since(start))
		start = time.Now()
		res, err := trail.Revert(actx, db, tx, trail.RevertOptions{})
		if err != nil {
			return nil, err
		}
		real.times = append(real.times, time.Since(start))
		real.note = fmt.Sprintf("%d statements", len(res.Statements))
		if tx, err = lastTx(ctx, t.plain); err != nil {
			return nil, err
		}
		progress(cfg, "%s: revert round %d in %v", d.name, i+1, real.times[i].Round(time.Millisecond))
	}
	return []readResult{dry, real}, nil
}

// lastTx is the transaction of the newest record.
func lastTx(ctx context.Context, db *sql.DB) (int64, error) {
	var tx int64
	err := db.QueryRowContext(ctx, `SELECT tx_id FROM audit_log ORDER BY id DESC LIMIT 1`).Scan(&tx)
	return tx, err
}

func writeReading(w io.Writer, cfg Config, n, revertRows, rounds int, rs []readResult) error {
	var b strings.Builder
	table := "the audit table as sqlaudit.DDL makes it"
	if cfg.ReadingBare {
		table = "the audit table WITHOUT its reading indexes (primary key; MariaDB's KEY (tx_id))"
	}
	fmt.Fprintf(&b, "Reading benchmark: package trail on a generated trail of %d records (%d transactions of %d), %s\n",
		n, n/viewerTxSize, viewerTxSize, table)
	fmt.Fprintf(&b, "Machine: %s; load average at the end: %s\n", describeMachine(), loadAverage())
	fmt.Fprintf(&b, "Reads: 1 warm-up + %d measured; export: once; revert: 3 rounds of a %d-row UPDATE (each reverting the previous revert)\n\n", rounds, revertRows)
	fmt.Fprintf(&b, "%-46s %-7s %12s %12s  %s\n", "operation", "driver", "median", "max", "bounded by")
	var names []string
	for _, r := range rs {
		if !slices.Contains(names, r.name) {
			names = append(names, r.name)
		}
	}
	for _, name := range names {
		for _, r := range rs {
			if r.name != name {
				continue
			}
			note := r.bounds
			if cfg.ReadingBare && !strings.HasPrefix(note, "primary key") && !strings.HasPrefix(note, "one streaming") {
				note = "without the reading indexes (was: " + note + ")"
			}
			if r.note != "" {
				note = r.note + "; " + note
			}
			fmt.Fprintf(&b, "%-46s %-7s %12s %12s  %s\n", r.name, r.driver, ms(median(r.times)), ms(slices.Max(r.times)), note)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
