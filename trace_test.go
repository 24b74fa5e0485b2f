package sqlaudit_test

import (
	"context"
	"database/sql"
	"slices"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/sqlaudit/sqlaudit"
	"github.com/sqlaudit/sqlaudit/trail"
)

// TestRecordsCarryTheSpanOfTheirContext: a write whose context carries an
// OpenTelemetry span (a real SDK tracer provider, no exporter) records its
// trace and span ids in the metadata beside the application's own; without
// a span, or with audit_trace=false, the metadata is the application's
// alone. The ids are sealed like any metadata (Verify passes), and
// trail.Filter.TraceID finds exactly the trace's records.
func TestRecordsCarryTheSpanOfTheirContext(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	tracer := tp.Tracer("sqlaudit-test")
	for _, drv := range auditDrivers {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			traced, td := mustOpen(t, drv)
			untraced, err := sql.Open(drv, td.dsn+"&audit_trace=false")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { untraced.Close() })
			mustExec(t, traced, `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)`)
			base := sqlaudit.WithMetadata(sqlaudit.WithActor(context.Background(), "alice"), map[string]any{"request_id": "r1"})
			spanCtx, span := tracer.Start(base, "checkout")
			defer span.End()
			sc := span.SpanContext()
			own := sqlaudit.WithMetadata(spanCtx, map[string]any{sqlaudit.TraceIDKey: "set-by-the-application"})
			cases := []struct {
				name      string
				db        *sql.DB
				ctx       context.Context
				stmt      string
				wantTrace string // "" for no trace_id in the metadata
				wantSpan  string
			}{
				{"span in the context", traced, spanCtx, `INSERT INTO items VALUES (1, 'tea')`, sc.TraceID().String(), sc.SpanID().String()},
				{"update under the same span", traced, spanCtx, `UPDATE items SET name = 'green tea' WHERE id = 1`, sc.TraceID().String(), sc.SpanID().String()},
				{"no span in the context", traced, base, `INSERT INTO items VALUES (2, 'coffee')`, "", ""},
				{"tracing turned off by audit_trace=false", untraced, spanCtx, `INSERT INTO items VALUES (3, 'cocoa')`, "", ""},
				{"the application's own trace_id is kept", traced, own, `INSERT INTO items VALUES (4, 'mate')`, "set-by-the-application", sc.SpanID().String()},
			}
			for _, c := range cases {
				since := td.maxID(t, "audit_log")
				if _, err := c.db.ExecContext(c.ctx, c.stmt); err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				recs := td.trail(t, "audit_log", since)
				if len(recs) != 1 {
					t.Fatalf("%s: %d records, want 1", c.name, len(recs))
				}
				m := recs[0].Metadata
				if m["request_id"] != "r1" {
					t.Errorf("%s: the application's metadata is lost: %v", c.name, m)
				}
				gotTrace, hasTrace := m[sqlaudit.TraceIDKey]
				gotSpan, hasSpan := m[sqlaudit.SpanIDKey]
				if c.wantTrace == "" && (hasTrace || hasSpan) {
					t.Errorf("%s: metadata %v has trace ids, want none", c.name, m)
				}
				if c.wantTrace != "" && (gotTrace != c.wantTrace || gotSpan != c.wantSpan) {
					t.Errorf("%s: metadata %v, want trace_id %s and span_id %s", c.name, m, c.wantTrace, c.wantSpan)
				}
			}

			head := mustSeal(t, traced, int64(len(cases)))
			if rep, err := sqlaudit.Verify(context.Background(), traced, sqlaudit.VerifyOptions{Head: &head}); err != nil || rep.Checked != int64(len(cases)) {
				t.Fatalf("verify after sealing records with trace ids: %+v, %v", rep, err)
			}
			recs, err := trail.Log(context.Background(), traced, trail.Filter{TraceID: sc.TraceID().String()})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range recs {
				got = append(got, r.Action)
			}
			if want := []string{"INSERT", "UPDATE"}; !slices.Equal(got, want) {
				t.Errorf("records of trace %s: %v, want %v", sc.TraceID(), got, want)
			}
			other := trace.TraceID{1}
			if recs, err := trail.Log(context.Background(), traced, trail.Filter{TraceID: other.String()}); err != nil || len(recs) != 0 {
				t.Errorf("records of an unknown trace: %v, %v", recs, err)
			}
		})
	}
}
