package benchmark

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/sqlaudit/sqlaudit/trail"
	"github.com/sqlaudit/sqlaudit/trail/web"
)

// DefaultViewerRecords is the size of the viewer benchmark's trail.
const DefaultViewerRecords = 1000000

// viewerCase is one request of the viewer benchmark.
type viewerCase struct {
	name  string
	path  func(n int) string // the request, given the trail's size
	needs string             // the index that would serve it, in words
}

var viewerCases = []viewerCase{
	{"timeline, first page", func(int) string { return "/" }, "primary key (the scan); tx_id (the page's transactions)"},
	{"timeline, page in the middle", func(n int) string { return fmt.Sprintf("/?before=%d", n/2) }, "primary key; tx_id"},
	{"timeline, newer page from the middle", func(n int) string { return fmt.Sprintf("/?after=%d", n/2) }, "primary key; tx_id"},
	{"timeline, actor (2% of transactions)", func(int) string { return "/?actor=user7" }, "actor, id"},
	{"timeline, rare actor (0.01%)", func(int) string { return "/?actor=" + viewerRareActor }, "actor, id"},
	{"timeline, table (1 record in 5)", func(int) string { return "/?table=payments" }, "table_name, id"},
	{"timeline, until a time (the older half)", func(n int) string {
		return "/?until=" + url.QueryEscape(viewerStart.Add(time.Duration(n/2)*time.Millisecond).Format(time.RFC3339))
	}, "occurred_at"},
	{"timeline, one request_id", func(n int) string { return fmt.Sprintf("/?meta=request_id%%3Dreq-%d", n/viewerTxSize/2) }, "an expression index on the metadata key"},
	{"transaction page", func(n int) string { return fmt.Sprintf("/tx/%d", (n/2/viewerTxSize)*viewerTxSize+1) }, "tx_id"},
	{"row page (history of one row)", func(int) string { return `/row?table=payments&key=%7B%22id%22%3A4%7D` }, "table_name, row_key"},
	{"API: count of an actor", func(int) string { return "/api/count?actor=user7" }, "actor (index-only count)"},
	{"API: first page of records", func(int) string { return "/api/records" }, "primary key"},
}

// viewerStart is when the generated trail begins.
var viewerStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// viewerResult is one case measured on one driver with and without the
// reading indexes.
type viewerResult struct {
	driver, name string
	bare, idx    []time.Duration
	status       int
}

// RunViewer measures the trail viewer (package trail/web) on a generated
// trail of records records per database: each request of viewerCases,
// answered by the handler in-process (queries and HTML rendering, no
// network), first with the audit table's own indexes, then again after the
// benchmark creates the reading indexes (readingIndexes). It writes a table
// of median and slowest time per request.
func RunViewer(ctx context.Context, cfg Config, records int, w io.Writer) error {
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
	var results []viewerResult
	// pgx and lib/pq read one PostgreSQL trail; each SQLite driver has its
	// own file: two SQLite libraries in one process do not share their
	// POSIX locks, and one closing its last connection removed the WAL
	// under the other ("disk I/O error: no such file or directory").
	trails := map[any]*viewerTrail{}
	defer func() {
		for _, t := range trails {
			t.close()
		}
	}()
	for _, pass := range []bool{false, true} {
		for _, d := range ds {
			key := any(d.d)
			if d.d == sqlite {
				key = d
			}
			t := trails[key]
			if t == nil {
				start := time.Now()
				if t, err = makeViewerTrail(ctx, cfg, d, records); err != nil {
					return fmt.Errorf("%s: %w", d.name, err)
				}
				trails[key] = t
				progress(cfg, "%s: %d records generated in %v", d.d.name, records, time.Since(start).Round(time.Second))
			}
			if pass && !t.indexed() {
				start := time.Now()
				if err := execAll(ctx, t.plain, readingIndexes(d.d)); err != nil {
					return fmt.Errorf("%s: creating the reading indexes: %w", d.name, err)
				}
				t.markIndexed()
				progress(cfg, "%s: reading indexes created in %v", d.d.name, time.Since(start).Round(time.Second))
			}
			rs, err := measureViewer(ctx, d, t, records, rounds)
			if err != nil {
				return fmt.Errorf("%s: %w", d.name, err)
			}
			for i, r := range rs {
				if pass {
					results[findResult(results, d.name, r.name)].idx = rs[i].bare
				} else {
					results = append(results, r)
				}
			}
			progress(cfg, "%s: viewer measured (%s)", d.name, map[bool]string{false: "primary key only", true: "with the reading indexes"}[pass])
		}
	}
	return writeViewer(w, cfg, records, rounds, results)
}

func findResult(rs []viewerResult, driver, name string) int {
	return slices.IndexFunc(rs, func(r viewerResult) bool { return r.driver == driver && r.name == name })
}

func progress(cfg Config, format string, args ...any) {
	if cfg.Progress != nil {
		fmt.Fprintf(cfg.Progress, format+"\n", args...)
	}
}

// indexed reports that the reading indexes exist.
func (v *viewerTrail) indexed() bool { return v.withIndexes }

func (v *viewerTrail) markIndexed() { v.withIndexes = true }

// measureViewer times every case on d's audit driver: one unmeasured
// request, then rounds measured ones.
func measureViewer(ctx context.Context, d *driverSpec, t *viewerTrail, n, rounds int) ([]viewerResult, error) {
	db, err := openPool(d.audit, withAuditParams(d, t.dsnFor(d)))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	h := web.Handler(db, web.Options{}) // pages of trail.DefaultTxLimit transactions
	var out []viewerResult
	for _, c := range viewerCases {
		r := viewerResult{driver: d.name, name: c.name}
		for i := -1; i < rounds; i++ {
			took, status, err := timeRequest(ctx, h, c.path(n))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.name, err)
			}
			r.status = status
			if i >= 0 {
				r.bare = append(r.bare, took)
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// withAuditParams keeps the audit driver from creating anything.
func withAuditParams(d *driverSpec, dsn string) string {
	if d.d.my {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		return dsn + sep + "audit_create=false"
	}
	return withParam(dsn, "audit_create", "false")
}

// timeRequest answers one GET through the handler; a status other than 200
// is an error (the benchmark's requests are all valid).
func timeRequest(ctx context.Context, h http.Handler, path string) (time.Duration, int, error) {
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, path, nil)
	rec := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(rec, req)
	took := time.Since(start)
	if rec.Code != http.StatusOK {
		return took, rec.Code, fmt.Errorf("GET %s: %d %.200s", path, rec.Code, rec.Body.String())
	}
	return took, rec.Code, nil
}

// writeViewer prints the results: per case and driver the median and the
// slowest time, without and with the reading indexes.
func writeViewer(w io.Writer, cfg Config, n, rounds int, rs []viewerResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Viewer benchmark: trail/web on a generated trail of %d records (%d transactions of %d records)\n", n, n/viewerTxSize, viewerTxSize)
	fmt.Fprintf(&b, "Machine: %s\n", describeMachine())
	fmt.Fprintf(&b, "Each request answered in-process by web.Handler (queries and HTML), 1 warm-up + %d measured; pages of %d transactions.\n", rounds, trail.DefaultTxLimit)
	fmt.Fprintf(&b, "PK: the audit table's own indexes (primary key; MariaDB also tx_id). +IDX: after the benchmark created, for this run only:\n")
	fmt.Fprintf(&b, "  (tx_id), (actor, id), (table_name, id), (occurred_at), (table_name, row_key) — MariaDB: (actor(100), id), (table_name, id), (occurred_at)\n\n")
	fmt.Fprintf(&b, "%-42s %-7s %12s %12s %12s %12s  %s\n", "request", "driver", "PK median", "PK max", "+IDX median", "+IDX max", "index that serves it")
	for _, c := range viewerCases {
		for _, r := range rs {
			if r.name != c.name {
				continue
			}
			fmt.Fprintf(&b, "%-42s %-7s %12s %12s %12s %12s  %s\n", r.name, r.driver, ms(median(r.bare)), ms(slices.Max(r.bare)),
				ms(median(r.idx)), ms(maxOr0(r.idx)), c.needs)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func maxOr0(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return slices.Max(ds)
}

func ms(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
}
