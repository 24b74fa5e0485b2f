package main

import (
	"database/sql"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
)

func TestSealAndVerifyCommands(t *testing.T) {
	both(t, func(t *testing.T, s *shop, _ func(string, string)) {
		dsn := "--dsn=" + s.dsn
		// PostgreSQL and MariaDB seal below the oldest running transaction of
		// the whole server: other tests' open transactions hold the horizon
		// back, so seal until the six records are in (each run seals what it can).
		var out string
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			if out = mustCLI(t, "seal", dsn); strings.HasPrefix(out, "sealed: 6 records") || time.Now().After(deadline) {
				break
			}
		}
		head := strings.TrimSpace(out[strings.LastIndex(out, " ")+1:])
		if !strings.HasPrefix(out, "sealed: 6 records") {
			t.Fatalf("seal printed %q", out)
		}
		if out := mustCLI(t, "verify", dsn, "--head", head); !strings.HasPrefix(out, "ok: 6 sealed records verified, 0 not sealed") {
			t.Fatalf("verify printed %q", out)
		}
		if _, err := s.db.Exec(`UPDATE audit_log SET actor = 'eve' WHERE actor = 'bob'`); err == nil {
			t.Fatal("the audit driver let the test edit the trail")
		}
		s.tamper(t, `UPDATE audit_log SET actor = 'eve' WHERE actor = 'bob'`)
		code, _, errs := cli(t, "verify", dsn)
		if code != exitTampered || !strings.Contains(errs, "edited") {
			t.Fatalf("verify of an edited trail: exit %d, %q", code, errs)
		}
		if code, _, _ := cli(t, "verify", dsn, "--head", "nonsense"); code != exitUsage {
			t.Fatalf("a bad --head: exit %d", code)
		}
		if code, _, _ := cli(t, "prune", dsn); code != exitUsage {
			t.Fatalf("prune without --before: exit %d", code)
		}
		if out := mustCLI(t, "prune", dsn, "--before", s.times[0].Format("2006-01-02T15:04:05.000Z07:00")); !strings.HasPrefix(out, "pruned 0 records") {
			t.Fatalf("prune before the first record: %q", out)
		}
	})
}

// On an empty trail seal and verify say there is nothing sealed, not a
// head "0:" to keep; log's empty table says that nothing matched.
func TestEmptyTrailIsSaidSo(t *testing.T) {
	dsn := "--dsn=" + t.TempDir() + "/empty.db"
	mustCLI(t, "migrate", dsn)
	for _, c := range []struct {
		args      []string
		out, errs string
	}{
		{[]string{"seal", dsn}, "nothing sealed: the trail has no committed records to chain yet\n", ""},
		{[]string{"verify", dsn}, "ok: nothing sealed yet (0 records not sealed; run 'sqlaudit seal')\n", ""},
		{[]string{"log", dsn, "-o", "table"}, "ID  TX  TIME  ACTOR  ACTION  TABLE  KEY  CHANGES\n", "-- no records match\n"},
		{[]string{"log", dsn, "-o", "json"}, "", ""},
	} {
		code, out, errs := cli(t, c.args...)
		if code != 0 || out != c.out || errs != c.errs {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 0, %q, %q", c.args, code, out, errs, c.out, c.errs)
		}
	}
}

// tamper runs q on the shop's database through the plain driver, as an
// attacker with direct access would.
func (s *shop) tamper(t *testing.T, q string) {
	t.Helper()
	driver, dsn := "sqlite3", "file:"+s.dsn
	switch {
	case s.schema != "":
		driver, dsn = "postgres", s.dsn
	case isMySQL(s.dsn):
		driver, dsn = "mysql", s.dsn
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}
