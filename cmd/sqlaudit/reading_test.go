package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sqlaudit/sqlaudit"
)

// cliOn runs the command with stdout and stderr taken for terminals or
// not, and returns its exit code, stdout and stderr.
func cliOn(t *testing.T, stdoutTTY, stderrTTY bool, args ...string) (int, string, string) {
	t.Helper()
	var out, errs bytes.Buffer
	saved := isTerminal
	isTerminal = func(w io.Writer) bool { return w == io.Writer(&out) && stdoutTTY || w == io.Writer(&errs) && stderrTTY }
	defer func() { isTerminal = saved }()
	code := run(context.Background(), args, &out, &errs)
	return code, out.String(), errs.String()
}

// exec runs statements through the shop's audit driver as actor.
func (s *shop) exec(t *testing.T, actor string, stmts ...string) {
	t.Helper()
	ctx := sqlaudit.WithActor(context.Background(), actor)
	for _, q := range stmts {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func TestVersionNamesTheBuild(t *testing.T) {
	out := mustCLI(t, "--version")
	if !regexp.MustCompile(`^sqlaudit \S.*go1\.\d+`).MatchString(out) {
		t.Errorf("--version: %q", out)
	}
}

// On a terminal log shows a page and the cursor of the next one; piped, it
// streams everything.
func TestLogPagesOnATerminal(t *testing.T) {
	both(t, func(t *testing.T, s *shop, _ func(string, string)) {
		var vals []string
		for i := 10; i < 160; i++ {
			vals = append(vals, fmt.Sprintf("(%d, 'n%d', %d)", i, i, i))
		}
		s.exec(t, "dave", "INSERT INTO items VALUES "+strings.Join(vals, ", ")) // 156 records in all
		dsn := "--dsn=" + s.dsn
		code, out, errs := cliOn(t, true, true, "log", dsn)
		if code != 0 || strings.Count(out, "\n") != 1+terminalPage || !strings.Contains(errs, "next page: --after ") {
			t.Errorf("on a terminal: exit %d, %d lines, stderr %q", code, strings.Count(out, "\n"), errs)
		}
		next := regexp.MustCompile(`--after (\d+)`).FindStringSubmatch(errs)
		if len(next) == 2 {
			_, rest, errs := cliOn(t, true, true, "log", dsn, "--after", next[1])
			if strings.Count(rest, "\n") != 1+56 || errs != "" {
				t.Errorf("the next page: %d lines, stderr %q", strings.Count(rest, "\n"), errs)
			}
		}
		if _, out, errs := cliOn(t, true, true, "log", dsn, "--newest-first", "--limit", "5"); strings.Count(out, "\n") != 6 || !strings.Contains(errs, "next page: --before ") {
			t.Errorf("newest first: %q %q", out, errs)
		}
		if _, out, errs := cliOn(t, false, true, "log", dsn); strings.Count(out, "\n") != 1+156 || errs != "" {
			t.Errorf("piped: %d lines, stderr %q", strings.Count(out, "\n"), errs)
		}
		if _, out, _ := cliOn(t, true, true, "log", dsn, "--limit", "0"); strings.Count(out, "\n") != 1+156 {
			t.Errorf("--limit 0 on a terminal: %d lines", strings.Count(out, "\n"))
		}
	})
}

// Values are shown in the table's column order (PostgreSQL's jsonb keeps
// none), with the metadata and the statement under -v.
func TestListingsShowTableOrderMetadataAndStatement(t *testing.T) {
	both(t, func(t *testing.T, s *shop, golden func(string, string)) {
		s.exec(t, "", `CREATE TABLE odd (id INTEGER PRIMARY KEY, b_long_name TEXT, a INTEGER)`)
		ctx := sqlaudit.WithMetadata(sqlaudit.WithActor(context.Background(), "erin"), map[string]any{"request_id": "r-1"})
		if _, err := s.db.ExecContext(ctx, `INSERT INTO odd VALUES (1, 'x', 2)`); err != nil {
			t.Fatal(err)
		}
		dsn := "--dsn=" + s.dsn
		out := mustCLI(t, "log", dsn, "--actor", "erin", "-v")
		if !strings.Contains(out, `id=1, b_long_name="x", a=2`) || !strings.Contains(out, `{"request_id":"r-1"}`) ||
			!strings.Contains(out, "INSERT INTO odd VALUES (1, 'x', 2)") || !strings.Contains(out, " METADATA ") || !strings.HasSuffix(strings.SplitN(out, "\n", 2)[0], "STATEMENT") {
			t.Errorf("log -v:\n%s", out)
		}
		out = mustCLI(t, "history", dsn, s.tbl("odd"), "1", "-v")
		i, j, k := strings.Index(out, "    id "), strings.Index(out, "    b_long_name "), strings.Index(out, "    a ")
		if i < 0 || !(i < j && j < k) || !strings.Contains(out, "(statement INSERT INTO odd") {
			t.Errorf("history -v (columns in table order, the statement):\n%s", out)
		}
		golden("log_verbose", mustCLI(t, "log", dsn, "-v", "--tx", fmt.Sprint(s.txs[2])))
		if out := mustCLI(t, "export", dsn, "-o", "table", "--actor", "erin"); !strings.HasPrefix(out, "ID  TX") {
			t.Errorf("export -o table: %q", out)
		}
		csv := mustCLI(t, "export", dsn, "-o", "csv", "--actor", "erin")
		if !regexp.MustCompile(`,\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z,erin,`).MatchString(csv) {
			t.Errorf("CSV times want microseconds: %s", csv)
		}
		if out := mustCLI(t, "log", dsn, "--tx", fmt.Sprint(s.txs[1]), "-o", "json"); !strings.Contains(out, `"actor":"alice"`) {
			t.Errorf("log json: %s", out)
		}
	})
}

// Times are UTC unless they name their zone, and a time ago is read as
// people type it.
func TestTimesAgoAndTheUTCRule(t *testing.T) {
	both(t, func(t *testing.T, s *shop, _ func(string, string)) {
		dsn := "--dsn=" + s.dsn
		for _, c := range []struct {
			args []string
			want int
		}{
			{[]string{"--since", "1h"}, 6},
			{[]string{"--until", "1h"}, 0},
			{[]string{"--since", "yesterday"}, 6},
			{[]string{"--since", time.Now().UTC().Add(time.Hour).Format("2006-01-02 15:04")}, 0}, // UTC, whatever TZ says
			{[]string{"--since", time.Now().UTC().Add(-time.Hour).Format("2006-01-02 15:04")}, 6},
		} {
			if got := strings.Count(mustCLI(t, append([]string{"log", dsn, "-o", "json"}, c.args...)...), "\n"); got != c.want {
				t.Errorf("log %v: %d records, want %d", c.args, got, c.want)
			}
		}
		if out := mustCLI(t, "log", "--help"); !strings.Contains(out, "UTC unless it names its zone") {
			t.Errorf("log --help does not state the time rule:\n%s", out)
		}
	})
}

// The trap: a text key that looks like a number.
func TestATextKeyThatLooksLikeANumber(t *testing.T) {
	both(t, func(t *testing.T, s *shop, _ func(string, string)) {
		s.exec(t, "alice", `CREATE TABLE codes (code VARCHAR(10) PRIMARY KEY, v INTEGER)`, `INSERT INTO codes VALUES ('42', 1)`)
		time.Sleep(20 * time.Millisecond)
		at := time.Now().UTC().Format(time.RFC3339Nano)
		time.Sleep(20 * time.Millisecond)
		s.exec(t, "bob", `UPDATE codes SET v = 5 WHERE code = '42'`)
		dsn, codes := "--dsn="+s.dsn, s.tbl("codes")
		for _, key := range []string{"42", "code=42", `code="42"`, `{"code":"42"}`} {
			if out := mustCLI(t, "asof", dsn, codes, key, at, "-o", "json"); !strings.Contains(out, `"v":1`) {
				t.Errorf("asof %s: %s; want v 1", key, out)
			}
			if out := mustCLI(t, "history", dsn, codes, key); strings.Count(out, "tx ") != 2 {
				t.Errorf("history %s:\n%s", key, out)
			}
		}
		code, _, errs := cli(t, "history", dsn, codes, "id=42")
		if code != exitFailure || !strings.Contains(errs, "the trail keys "+codes+" by code") {
			t.Errorf("a key of the wrong column: %d %q", code, errs)
		}
	})
}

// seal, verify and prune on a database without an audit table say what to
// do, once prefixed, and leave nothing behind.
func TestSealVerifyPruneWithoutAnAuditTable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plain.db")
	plain, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := plain.Exec(`CREATE TABLE items (id INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"seal"}, {"verify"}, {"prune", "--before", "2025-01-01"}} {
		code, _, errs := cli(t, append(args, "--dsn", path)...)
		if code != exitFailure || !strings.Contains(errs, "sqlaudit migrate") || strings.Count(errs, "sqlaudit:") != 1 {
			t.Errorf("%v: exit %d, %q", args, code, errs)
		}
	}
	var n int
	plain.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name LIKE 'audit_log%'`).Scan(&n)
	if n != 0 {
		t.Errorf("%d audit tables left behind", n)
	}
}

func TestDemoKeepsItsDatabaseWhenAsked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shop.db")
	out := mustCLI(t, "demo", "--db", path)
	if !strings.Contains(out, "sqlaudit history --dsn "+path+" products 2") || !strings.Contains(out, "kept in "+path) {
		t.Errorf("demo --db output:\n%s", out)
	}
	if out := mustCLI(t, "history", "--dsn", path, "products", "2"); strings.Count(out, "tx ") != 3 {
		t.Errorf("history on the kept database:\n%s", out)
	}
	if code, _, errs := cli(t, "demo", "--db", path); code != exitFailure || !strings.Contains(errs, "exists") {
		t.Errorf("a second demo on the same file: %d %q", code, errs)
	}
}

// revert records the OS user when no --actor is given, reports conflicts
// capped in text and in full as JSON.
func TestRevertActorAndConflictReports(t *testing.T) {
	both(t, func(t *testing.T, s *shop, _ func(string, string)) {
		dsn := "--dsn=" + s.dsn
		var vals []string
		for i := 10; i < 40; i++ {
			vals = append(vals, fmt.Sprintf("(%d, 'n%d', %d)", i, i, i))
		}
		s.exec(t, "dave", "INSERT INTO items VALUES "+strings.Join(vals, ", "))
		bulk := lastTxOf(t, s)
		s.exec(t, "erin", `UPDATE items SET price = 0 WHERE id >= 10`)
		code, _, errs := cli(t, "revert", dsn, fmt.Sprint(bulk))
		if code != exitConflict || !strings.Contains(errs, "30 rows changed") || !strings.Contains(errs, "… and 20 more (all of them: -o json)") {
			t.Errorf("text report: %d %q", code, errs)
		}
		if last := errs[strings.LastIndex(strings.TrimSuffix(errs, "\n"), "\n")+1:]; last != fmt.Sprintf("sqlaudit: revert refused: 30 rows changed after transaction %d (use --force to overwrite)\n", bulk) {
			t.Errorf("the refusal's last line: %q", last)
		}
		code, out, _ := cli(t, "revert", dsn, fmt.Sprint(bulk), "-o", "json")
		var r struct {
			Conflicts []struct{ Table string }
			Reverted  bool
		}
		if err := json.Unmarshal([]byte(out), &r); code != exitConflict || err != nil || len(r.Conflicts) != 30 || r.Reverted {
			t.Errorf("json report: %d %v %+v", code, err, r)
		}
		mustCLI(t, "revert", dsn, fmt.Sprint(lastTxOf(t, s)))
		if out := mustCLI(t, "log", dsn, "--actor", osUser(), "-o", "json"); strings.Count(out, "\n") != 30 {
			t.Errorf("the revert's records are not the OS user's (%s):\n%s", osUser(), out)
		}
	})
}

func lastTxOf(t *testing.T, s *shop) int64 {
	t.Helper()
	var tx int64
	if err := s.db.QueryRow(`SELECT max(tx_id) FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)`).Scan(&tx); err != nil {
		t.Fatal(err)
	}
	return tx
}
