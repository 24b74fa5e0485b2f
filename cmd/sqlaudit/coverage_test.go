package main

import (
	"context"
	"encoding/json"
	"expvar"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/sqlaudit/sqlaudit"
)

// TestCoverageCommandReportsEveryTable: on each database, `sqlaudit
// coverage` lists the shop's tables with their status (an excluded one and
// one without a primary key beside the audited items), counts the records
// and those written without an actor, and, given the application's expvar
// page, its counters of refused writes.
func TestCoverageCommandReportsEveryTable(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres", "mysql"} {
		t.Run(kind, func(t *testing.T) {
			s := newShop(t, kind)
			for _, q := range []string{`CREATE TABLE sessions (id INTEGER PRIMARY KEY)`, `CREATE TABLE loose (a INTEGER)`, `INSERT INTO items VALUES (3, 'mate', 3)`} {
				if _, err := s.db.Exec(q); err != nil { // no actor: the INSERT's record has none
					t.Fatalf("%s: %v", q, err)
				}
			}
			looseStatus := "no-key"
			if kind == "sqlite" {
				looseStatus = "audited-rowid"
			} else if _, err := s.db.ExecContext(sqlaudit.WithActor(context.Background(), "alice"), `INSERT INTO loose VALUES (1)`); err == nil {
				t.Fatal("a write to a table without a primary key was not refused")
			}
			srv := httptest.NewServer(expvar.Handler()) // this process's counters: the shop's writes ran here
			defer srv.Close()
			args := []string{"coverage", "--dsn", withExclude(s.dsn), "--counters", srv.URL}
			if s.schema != "" {
				args = append(args, "--schema", s.schema)
			}
			out := mustCLI(t, args...)
			for _, c := range []struct{ name, want string }{
				{"audited table", `(?m)^` + regexp.QuoteMeta(s.tbl("items")) + ` +audited +id +7 +1 `},
				{"excluded table", `(?m)^` + regexp.QuoteMeta(s.tbl("sessions")) + ` +excluded `},
				{"table without a key", `(?m)^` + regexp.QuoteMeta(s.tbl("loose")) + ` +` + looseStatus + ` `},
				{"records and those without an actor", `records of all time: 7, of which 1 without an actor`},
				{"the application's counters", `the application's counters: \d+ writes audited`},
			} {
				if !regexp.MustCompile(c.want).MatchString(out) {
					t.Errorf("%s: no %q in\n%s", c.name, c.want, out)
				}
			}
			if kind != "sqlite" && !strings.Contains(out, "no primary key") {
				t.Errorf("no reason for the refused table in\n%s", out)
			}

			args = []string{"coverage", "--dsn", withExclude(s.dsn), "-o", "json", "--counters", srv.URL, "--since", s.times[len(s.times)-1].Format("2006-01-02T15:04:05.999999999Z07:00")}
			if s.schema != "" {
				args = append(args, "--schema", s.schema)
			}
			var rep sqlaudit.CoverageReport
			if err := json.Unmarshal([]byte(mustCLI(t, args...)), &rep); err != nil {
				t.Fatal(err)
			}
			if rep.Records[s.tbl("items")] != 1 || rep.Unattributed[s.tbl("items")] != 1 {
				t.Errorf("since the last step: records %v, without an actor %v; want the one INSERT without an actor", rep.Records, rep.Unattributed)
			}
			for _, tc := range rep.Tables {
				if tc.Table == s.tbl("loose") && kind != "sqlite" && (tc.Stats.Refused < 1 || tc.Stats.LastQuery != "INSERT INTO loose VALUES (1)") {
					t.Errorf("the application's counters of %s: %+v, want its refusal", tc.Table, tc.Stats)
				}
			}
		})
	}
}

// withExclude adds audit_exclude=sessions to a shop's DSN.
func withExclude(dsn string) string {
	if strings.Contains(dsn, "?") {
		return dsn + "&audit_exclude=sessions"
	}
	return dsn + "?audit_exclude=sessions"
}

// TestLogFiltersByTraceID: `sqlaudit log --trace ID` prints the records
// written under that OpenTelemetry span's trace (a real SDK tracer) and no
// others.
func TestLogFiltersByTraceID(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	for _, kind := range []string{"sqlite", "postgres", "mysql"} {
		t.Run(kind, func(t *testing.T) {
			s := newShop(t, kind)
			ctx, span := tp.Tracer("cli-test").Start(sqlaudit.WithActor(context.Background(), "dave"), "restock")
			if _, err := s.db.ExecContext(ctx, `UPDATE items SET price = 9 WHERE id = 1`); err != nil {
				t.Fatal(err)
			}
			span.End()
			out := mustCLI(t, "log", "--dsn", s.dsn, "--trace", span.SpanContext().TraceID().String(), "-o", "json")
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], `"actor":"dave"`) || !strings.Contains(lines[0], span.SpanContext().SpanID().String()) {
				t.Errorf("log --trace printed\n%s\nwant dave's one record with its span id", out)
			}
			if out := mustCLI(t, "log", "--dsn", s.dsn, "--trace", "0af7651916cd43dd8448eb211c80319c"); strings.Contains(out, "dave") {
				t.Errorf("another trace's log shows dave's record:\n%s", out)
			}
		})
	}
}
