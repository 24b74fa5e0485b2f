package sqlaudit_test

import (
	"context"
	"errors"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/sqlaudit/sqlaudit"
	"github.com/sqlaudit/sqlaudit/internal/dbtest"
)

// TestMetricsCountWritesByOutcome: through RegisterMetrics, a real SDK
// meter (a manual reader, no exporter) reads the process's counters; an
// audited write without an actor, a refused one and a warned one each move
// their counter on (other tests of the process may move them too, so the
// test compares collections before and after).
func TestMetricsCountWritesByOutcome(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	reg, err := sqlaudit.RegisterMetrics(mp.Meter("sqlaudit-test"))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Unregister()
	for _, drv := range dbtest.Selection("audit-pgx", "audit-sqlite3", "audit-mysql") {
		t.Run(drv, func(t *testing.T) {
			cv := openCoverage(t, drv)
			before := collect(t, reader)
			mustExecCtx(t, context.Background(), cv.db, `INSERT INTO items VALUES (1, 'tea')`)
			if _, err := cv.db.Exec(cv.refusal); !errors.Is(err, sqlaudit.ErrUnsupported) {
				t.Fatalf("%s: %v", cv.refusal, err)
			}
			mustExecCtx(t, context.Background(), cv.warn, cv.refusal)
			after := collect(t, reader)
			for _, name := range []string{"audited", "refused", "warned", "without_actor"} {
				if after[name] <= before[name] {
					t.Errorf("%s: %d before, %d after the writes; want more", name, before[name], after[name])
				}
			}
		})
	}
}

// collect reads the counters: by outcome, and without_actor.
func collect(t *testing.T, r sdkmetric.Reader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				continue
			}
			for _, p := range sum.DataPoints {
				switch m.Name {
				case "sqlaudit.writes":
					v, _ := p.Attributes.Value(attribute.Key("outcome"))
					out[v.AsString()] = p.Value
				case "sqlaudit.writes.without_actor":
					out["without_actor"] = p.Value
				}
			}
		}
	}
	return out
}
