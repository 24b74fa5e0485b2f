package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sqlaudit/sqlaudit/internal/dbtest"
	"github.com/sqlaudit/sqlaudit/internal/natstest"
)

// TestRelayAndGatherCommands: relay --once streams a SQLite shop's trail,
// a second relay --once adds nothing, gather --once writes it into a
// central store that log and history read with --source.
func TestRelayAndGatherCommands(t *testing.T) {
	if !dbtest.Selected("audit-sqlite3") || !dbtest.Selected("audit-pgx") {
		t.Skip("needs audit-sqlite3 and audit-pgx")
	}
	nc := natstest.Start(t, 1)
	s := newShop(t, "sqlite")
	errs := mustCLIErr(t, "relay", "--dsn", s.dsn, "--nats", nc.URL(), "--once")
	if !strings.Contains(errs, "relay shop: 6 records published") || !strings.Contains(errs, "caught up") {
		t.Fatalf("relay printed %q", errs)
	}
	if errs := mustCLIErr(t, "relay", "--dsn", s.dsn, "--nats", nc.URL(), "--once", "--source", "shop"); !strings.Contains(errs, "relay shop: 0 records published") {
		t.Fatalf("a second run printed %q", errs)
	}
	central := centralDB(t)
	if errs := mustCLIErr(t, "gather", "--nats", nc.URL(), "--into", central, "--once"); !strings.Contains(errs, "6 records written") {
		t.Fatalf("gather printed %q", errs)
	}
	out := mustCLI(t, "log", "--dsn", central, "--source", "shop", "-o", "json")
	var n int
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r struct{ Source, Actor string }
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.Source != "shop" {
			t.Fatalf("central log line %q (%v)", line, err)
		}
		n++
	}
	if n != 6 {
		t.Fatalf("central log: %d records, want 6:\n%s", n, out)
	}
	if out := mustCLI(t, "log", "--dsn", central, "--source", "other"); strings.Contains(out, "alice") {
		t.Fatalf("--source other printed %q", out)
	}
	if out := mustCLI(t, "history", "--dsn", central, "items", "1"); !strings.Contains(out, "green tea") {
		t.Fatalf("central history printed %q", out)
	}
	if code, _, errs := cli(t, "gather", "--nats", nc.URL()); code != exitUsage || !strings.Contains(errs, "--into") {
		t.Fatalf("gather without --into: exit %d, %q", code, errs)
	}
	if code, _, errs := cli(t, "relay", "--dsn", s.dsn, "--nats", nc.URL(), "--source", "a.b", "--once"); code != exitFailure || !strings.Contains(errs, `source "a.b"`) {
		t.Fatalf("a bad source: exit %d, %q", code, errs)
	}
}

func mustCLIErr(t *testing.T, args ...string) string {
	t.Helper()
	code, _, errs := cli(t, args...)
	if code != 0 {
		t.Fatalf("sqlaudit %s: exit %d: %s", strings.Join(args, " "), code, errs)
	}
	return errs
}

// centralDB creates a PostgreSQL database for a central store.
func centralDB(t *testing.T) string {
	t.Helper()
	admin, err := sql.Open("pgx", pgURL())
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("central_%d_%d", time.Now().UnixNano()%1e9, seq.Add(1))
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec("DROP DATABASE " + name + " WITH (FORCE)"); admin.Close() })
	u := pgURL()
	i := strings.LastIndex(u, "/")
	q := ""
	if j := strings.Index(u[i:], "?"); j >= 0 {
		q = u[i+j:]
	}
	return u[:i+1] + name + q
}
