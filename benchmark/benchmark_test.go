package benchmark

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sqlaudit/sqlaudit"
)

// The go test -bench form of the workloads: BenchmarkUpdate1Row/pgx/L and
// so on, each variant on its own target. These run variant after variant,
// not interleaved; compare variants with the command (cmd/sqlaudit-bench),
// or run these with -count and benchstat.

func BenchmarkUpdate1Row(b *testing.B)     { benchWorkload(b, "Update1Row") }
func BenchmarkDelete1Row(b *testing.B)     { benchWorkload(b, "Delete1Row") }
func BenchmarkInsert1Row(b *testing.B)     { benchWorkload(b, "Insert1Row") }
func BenchmarkUpdate1000Rows(b *testing.B) { benchWorkload(b, "Update1000Rows") }
func BenchmarkDelete1000Rows(b *testing.B) { benchWorkload(b, "Delete1000Rows") }
func BenchmarkUpsert100Rows(b *testing.B)  { benchWorkload(b, "Upsert100Rows") }
func BenchmarkUpdate100kRows(b *testing.B) { benchWorkload(b, "Update100kRows") }
func BenchmarkSelectByKey(b *testing.B)    { benchWorkload(b, "SelectByKey") }

// benchWorkload runs the named workload on every driver and variant, on a
// table of the -quick size (or the workload's minimum).
func benchWorkload(b *testing.B, name string) {
	w := findWorkload(name)
	cfg := DefaultConfig()
	cfg.Quick = true
	rows := cfg.tableRows([]*workload{w})
	for _, d := range drivers {
		b.Run(d.name, func(b *testing.B) {
			e, err := openEnv(context.Background(), cfg, d, rows)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { e.close() })
			for _, t := range e.targets {
				b.Run(string(t.v), func(b *testing.B) { benchTarget(b, e, t, w) })
			}
		})
	}
}

// benchTarget times w's operations on t; the undo work is not timed.
func benchTarget(b *testing.B, e *env, t *target, w *workload) {
	ctx := context.Background()
	var heap int64
	i := 0
	for b.Loop() {
		o := w.make(e.spec.d, i, e.rows)
		i++
		_, peak, err := t.measure(ctx, e.spec.d, o, w.heap)
		if errors.Is(err, sqlaudit.ErrUnsupported) {
			b.Skip("refused by sqlaudit: ", err)
		}
		if err != nil {
			b.Fatal(err)
		}
		heap = max(heap, peak)
		if o.undo != nil {
			b.StopTimer()
			if err := o.undo(ctx, t.plain); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	}
	if w.heap {
		b.ReportMetric(float64(heap)/(1<<20), "peak-heap-MiB")
	}
}

func TestBadNamesAreRejected(t *testing.T) {
	for _, cfg := range []Config{{Drivers: []string{"oracle"}}, {Workloads: []string{"Update2Rows"}}} {
		if err := Run(context.Background(), cfg, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "unknown") {
			t.Errorf("%+v: got %v, want an unknown-name error", cfg, err)
		}
	}
}

func TestStatistics(t *testing.T) {
	s := &series{}
	for _, ms := range []int{5, 1, 4, 2, 3, 10, 9, 8, 7, 6} {
		s.samples = append(s.samples, time.Duration(ms)*time.Millisecond)
	}
	if got := s.median(); got != 5*time.Millisecond {
		t.Errorf("median %v, want 5ms", got)
	}
	if got := s.p90(); got != 9*time.Millisecond {
		t.Errorf("p90 %v, want 9ms", got)
	}
	chunks := s.chunks(3)
	n := 0
	for _, c := range chunks {
		n += c.n
	}
	if len(chunks) != 3 || n != 10 {
		t.Errorf("chunks %+v: want 3 covering 10 samples", chunks)
	}
}
