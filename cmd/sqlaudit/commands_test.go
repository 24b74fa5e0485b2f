package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// both runs f on SQLite, PostgreSQL and MariaDB; goldens are compared on
// SQLite, whose ids, transaction ids and table names are the same on every run.
func both(t *testing.T, f func(t *testing.T, s *shop, golden func(name, out string))) {
	t.Run("sqlite", func(t *testing.T) {
		f(t, newShop(t, "sqlite"), func(name, out string) { golden(t, name, out) })
	})
	for _, kind := range []string{"postgres", "mysql"} {
		t.Run(kind, func(t *testing.T) {
			f(t, newShop(t, kind), func(string, string) {})
		})
	}
}

func TestLogFormatsAndFilters(t *testing.T) {
	both(t, func(t *testing.T, s *shop, golden func(string, string)) {
		dsn := "--dsn=" + s.dsn
		golden("log_table", mustCLI(t, "log", dsn))
		golden("log_csv", mustCLI(t, "log", dsn, "-o", "csv"))
		golden("log_json_bob", mustCLI(t, "log", dsn, "--actor", "bob", "-o", "json"))
		count := func(args ...string) int {
			out := mustCLI(t, append([]string{"log", dsn, "-o", "json"}, args...)...)
			return strings.Count(out, "\n")
		}
		for _, c := range []struct {
			args []string
			want int
		}{
			{nil, 6},
			{[]string{"--actor", "alice"}, 3},
			{[]string{"--action", "update"}, 3},
			{[]string{"--table", s.tbl("items")}, 6},
			{[]string{"--table", s.tbl("items"), "--key", "1"}, 3},
			{[]string{"--key", `{"id":2}`}, 3},
			{[]string{"--tx", fmt.Sprint(s.txs[2])}, 2},
			{[]string{"--since", s.times[2].Format("2006-01-02T15:04:05.000Z07:00")}, 2},
			{[]string{"--until", s.times[1].Format("2006-01-02T15:04:05.000Z07:00")}, 2},
			{[]string{"--limit", "2", "--after", "1"}, 2},
			{[]string{"--column", "price"}, 5},
			{[]string{"--column", "name"}, 4},
			{[]string{"--text", "delete FROM"}, 1},
			{[]string{"--meta", "request_id=abc"}, 0},
			{[]string{"--newest-first", "--limit", "4"}, 4},
		} {
			if got := count(c.args...); got != c.want {
				t.Errorf("log %v: %d records, want %d", c.args, got, c.want)
			}
		}
		var ids []int64
		for _, line := range strings.Split(strings.TrimSpace(mustCLI(t, "log", dsn, "--newest-first", "-o", "json")), "\n") {
			var r struct{ ID int64 }
			json.Unmarshal([]byte(line), &r)
			ids = append(ids, r.ID)
		}
		if len(ids) != 6 || ids[0] < ids[5] {
			t.Errorf("newest first: %v", ids)
		}
		if got := count("--newest-first", "--before", fmt.Sprint(ids[1])); got != 4 {
			t.Errorf("--before the second newest: %d records, want 4", got)
		}
		if out := mustCLI(t, "log", dsn, "--count", "--action", "UPDATE"); out != "3 records in 2 transactions\n" {
			t.Errorf("--count: %q", out)
		}
		if out := mustCLI(t, "log", dsn, "--count", "-o", "json"); out != `{"records":6,"transactions":4}`+"\n" {
			t.Errorf("--count -o json: %q", out)
		}
		var r struct {
			Actor string         `json:"actor"`
			New   map[string]any `json:"new_values"`
		}
		line, _, _ := strings.Cut(mustCLI(t, "export", dsn, "--action", "INSERT"), "\n")
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.Actor != "alice" || r.New["name"] != "tea" {
			t.Errorf("export: %q %v", line, err)
		}
		golden("export_csv", mustCLI(t, "export", dsn, "-o", "csv"))
	})
}

func TestHistoryShowAsOf(t *testing.T) {
	both(t, func(t *testing.T, s *shop, golden func(string, string)) {
		dsn := "--dsn=" + s.dsn
		out := mustCLI(t, "history", dsn, s.tbl("items"), "1")
		golden("history_text", out)
		if !strings.Contains(out, `name  "tea" → "green tea"`) || strings.Contains(out, "\x1b[") {
			t.Errorf("history:\n%s", out)
		}
		colored := mustCLI(t, "history", dsn, "--color", "always", s.tbl("items"), "id=1")
		if !strings.Contains(colored, "\x1b[31m") {
			t.Errorf("--color always has no color:\n%q", colored)
		}
		golden("show_table", mustCLI(t, "show", dsn, fmt.Sprint(s.txs[2])))
		code, _, errs := cli(t, "show", dsn, "999999999")
		if code != exitFailure || !strings.Contains(errs, "no records") {
			t.Errorf("show unknown: %d %q", code, errs)
		}
		at := s.times[2].Format("2006-01-02T15:04:05.000Z07:00")
		golden("asof_table", mustCLI(t, "asof", dsn, s.tbl("items"), "2", at))
		if out := mustCLI(t, "asof", dsn, s.tbl("items"), "2", at, "-o", "json"); !strings.Contains(out, `"price":8`) {
			t.Errorf("asof json: %s", out)
		}
		before := s.times[0].Format("2006-01-02T15:04:05.000Z07:00")
		if out := mustCLI(t, "asof", dsn, s.tbl("items"), "1", before); !strings.Contains(out, "did not exist") {
			t.Errorf("asof before insert: %s", out)
		}
	})
}

func TestRevertCommand(t *testing.T) {
	both(t, func(t *testing.T, s *shop, golden func(string, string)) {
		dsn := "--dsn=" + s.dsn
		golden("revert_dry_run", mustCLI(t, "revert", dsn, "--dry-run", fmt.Sprint(s.txs[3])))
		code, _, errs := cli(t, "revert", dsn, fmt.Sprint(s.txs[2])) // bob's update of row 1, changed later by carol
		if code != exitConflict || !strings.Contains(errs, "carol") {
			t.Errorf("conflict: exit %d %q", code, errs)
		}
		out := mustCLI(t, "revert", dsn, "--actor", "ops", fmt.Sprint(s.txs[3]))
		if !strings.Contains(out, "reverted transaction") || !strings.Contains(out, ": 1 rows in 1 statements") {
			t.Errorf("revert: %q", out)
		}
		var name string
		s.db.QueryRow(`SELECT name FROM items WHERE id = 2`).Scan(&name)
		if name != "coffee" {
			t.Errorf("the deleted row is not back: %q", name)
		}
		if out := mustCLI(t, "log", dsn, "--actor", "ops", "-o", "json"); !strings.Contains(out, fmt.Sprintf(`"revert_of":%d`, s.txs[3])) {
			t.Errorf("the revert is not audited with its metadata: %s", out)
		}
		if out := mustCLI(t, "revert", dsn, "--force", fmt.Sprint(s.txs[2])); !strings.Contains(out, "reverted") {
			t.Errorf("forced: %q", out)
		}
	})
}

func TestMigrate(t *testing.T) {
	golden(t, "migrate_print_postgres", mustCLI(t, "migrate", "--print", "--dialect", "postgres"))
	golden(t, "migrate_print_sqlite", mustCLI(t, "migrate", "--print", "--dsn", "x.db", "--audit-table", "changes"))
	path := filepath.Join(t.TempDir(), "new.db")
	if out := mustCLI(t, "migrate", "--dsn", path); !strings.Contains(out, "audit_log is ready") {
		t.Errorf("migrate: %q", out)
	}
	if out := mustCLI(t, "log", "--dsn", path); !strings.HasPrefix(out, "ID") {
		t.Errorf("log of an empty trail: %q", out)
	}
	s := newShop(t, "postgres")
	if out := mustCLI(t, "migrate", "--dsn", s.dsn, "--audit-table", "changes"); !strings.Contains(out, "changes is ready") {
		t.Errorf("migrate postgres: %q", out)
	}
	mustCLI(t, "log", "--dsn", s.dsn, "--audit-table", "changes")
}
