package main

import (
	"bytes"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/lib/pq"
	"github.com/sqlaudit/sqlaudit"
	"github.com/sqlaudit/sqlaudit/internal/dbtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// cli runs the command and returns its exit code, stdout and stderr.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errs bytes.Buffer
	code := run(context.Background(), args, &out, &errs)
	return code, out.String(), errs.String()
}

// mustCLI runs the command and fails the test unless it exits 0.
func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := cli(t, args...)
	if code != 0 {
		t.Fatalf("sqlaudit %s: exit %d: %s", strings.Join(args, " "), code, errs)
	}
	return out
}

var times = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z`) // JSON trims trailing zeros

// golden compares out, times masked, with testdata/name.golden.
func golden(t *testing.T, name, out string) {
	t.Helper()
	out = times.ReplaceAllString(out, "YYYY-MM-DDThh:mm:ss.sssZ")
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if string(want) != out {
		t.Errorf("%s differs from %s:\n%s\nwant:\n%s", name, path, out, want)
	}
}

// mysqlServer is the MariaDB server (a go-sql-driver DSN without database).
func mysqlServer() string {
	if s := os.Getenv("SQLAUDIT_MYSQL_DSN"); s != "" {
		return s
	}
	return "root@tcp(127.0.0.1:3306)/"
}

func pgURL() string {
	if u := os.Getenv("SQLAUDIT_PG_URL"); u != "" {
		return u
	}
	return "postgres://postgres@localhost:5432/postgres?sslmode=disable"
}

var seq atomic.Int64

// shopDriver is the audit driver of each kind of shop.
var shopDriver = map[string]string{"sqlite": "audit-sqlite3", "mysql": "audit-mysql", "postgres": "audit-pgx"}

// shop is a database with a scripted history, made through the audit driver.
type shop struct {
	dsn    string
	db     *sql.DB
	schema string
	txs    []int64     // the transaction of each step
	times  []time.Time // a time after each step
}

// tbl is a table's name as recorded.
func (s *shop) tbl(name string) string {
	if s.schema == "" {
		return name
	}
	return s.schema + "." + name
}

func newShop(t *testing.T, kind string) *shop {
	t.Helper()
	if !dbtest.Selected(shopDriver[kind]) {
		t.Skipf("%s is not among SQLAUDIT_DRIVERS=%s", shopDriver[kind], os.Getenv("SQLAUDIT_DRIVERS"))
	}
	s := &shop{dsn: filepath.Join(t.TempDir(), "shop.db")}
	driver, dsn := "audit-sqlite3", "file:"+s.dsn
	price := "NUMERIC"
	if kind == "mysql" { // the test's own database is the default one: names are recorded bare
		name := fmt.Sprintf("cli_%d_%d", time.Now().UnixNano()%1e9, seq.Add(1))
		admin, err := sql.Open("mysql", mysqlServer())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
			t.Fatalf("create database (MariaDB at %s?): %v", mysqlServer(), err)
		}
		t.Cleanup(func() { admin.Exec("DROP DATABASE " + name); admin.Close() })
		driver, s.dsn, price = "audit-mysql", mysqlServer()+name, "DECIMAL(10,2)"
		dsn = s.dsn
	}
	if kind == "postgres" {
		s.schema = fmt.Sprintf("cli_%d_%d", time.Now().UnixNano()%1e9, seq.Add(1))
		admin, err := sql.Open("postgres", pgURL())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec("CREATE SCHEMA " + s.schema); err != nil {
			t.Fatalf("create schema (PostgreSQL at %s?): %v", pgURL(), err)
		}
		t.Cleanup(func() { admin.Exec("DROP SCHEMA " + s.schema + " CASCADE"); admin.Close() })
		driver, s.dsn = "audit-pgx", pgURL()+"&search_path="+s.schema
		dsn = s.dsn
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s.db = db
	steps := []struct{ actor, q string }{
		{"", `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price ` + price + `)`},
		{"alice", `INSERT INTO items VALUES (1, 'tea', 4.50), (2, 'coffee', 7.00)`},
		{"bob", `UPDATE items SET price = price + 1`},
		{"alice", `DELETE FROM items WHERE id = 2`},
		{"carol", `UPDATE items SET name = 'green tea' WHERE id = 1`},
	}
	for _, st := range steps {
		ctx := context.Background()
		if st.actor != "" {
			ctx = sqlaudit.WithActor(ctx, st.actor)
		}
		if _, err := db.ExecContext(ctx, st.q); err != nil {
			t.Fatalf("%s: %v", st.q, err)
		}
		var tx int64
		db.QueryRow(`SELECT coalesce(max(tx_id), 0) FROM audit_log`).Scan(&tx)
		time.Sleep(10 * time.Millisecond)
		s.txs, s.times = append(s.txs, tx), append(s.times, time.Now())
		time.Sleep(10 * time.Millisecond)
	}
	return s
}

func TestDemoPrintsTheTrailHistoryAndAsOf(t *testing.T) {
	out := mustCLI(t, "demo")
	for _, want := range []string{
		"1   1   ", "alice  INSERT  products", "bob    UPDATE  products  {\"id\":1}  price: 4.5 → 4.95",
		"alice  DELETE  products  {\"id\":2}", "-- sqlaudit history products 2", "    price  7 → 7.7",
		"-- sqlaudit asof products 2", "name    \"coffee\"",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "  products  ") != 8 {
		t.Errorf("want 8 records (the rolled back DELETE leaves none):\n%s", out)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"frobnicate"},
		{"log", "--bogus"},
		{"history", "items"},
		{"log", "--dsn", "x.db", "--since", "soon"},
		{"log", "--dsn", "x.db", "--limit", "-1"},
		{"log", "--dsn", "x.db", "--key", "42"}, // a bare key needs --table
		{"log"},                                 // no DSN
		{"show", "--dsn", "x.db", "abc"},
		{"log", "--dsn", "x.db", "--meta", "request_id"},
		{"log", "--dsn", "x.db", "--before", "5"},
		{"log", "--dsn", "x.db", "--trace", "not-a-trace-id"},
		{"log", "--dsn", "x.db", "--trace", "00000000000000000000000000000000"},
		{"coverage", "--dsn", "x.db", "--since", "soon"},
		{"coverage", "--dsn", "x.db", "-o", "csv"},
		{"coverage", "--dsn", "x.db", "--counters", "::bad"},
	} {
		t.Setenv("SQLAUDIT_DSN", "")
		code, _, errs := cli(t, args...)
		if code != exitUsage || errs == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errs)
		}
	}
	if code, _, errs := cli(t, "log", "--since", "soon", "--dsn", "x.db"); !strings.Contains(errs, "UTC") || !strings.Contains(errs, "yesterday") {
		t.Errorf("bad time: %d %q", code, errs)
	}
	if code, out, _ := cli(t, "revert", "--help"); code != 0 || !strings.Contains(out, "--dry-run") || !strings.Contains(out, "Examples:") {
		t.Errorf("help: %d %q", code, out)
	}
}

func TestFriendlyErrors(t *testing.T) {
	dir := t.TempDir()
	code, _, errs := cli(t, "log", "--dsn", filepath.Join(dir, "missing.db"))
	if code != exitFailure || !strings.Contains(errs, "no such file") {
		t.Errorf("missing file: %d %q", code, errs)
	}
	empty := filepath.Join(dir, "empty.db")
	os.WriteFile(empty, nil, 0o644)
	code, _, errs = cli(t, "log", "--dsn", empty)
	if code != exitFailure || !strings.Contains(errs, "sqlaudit migrate") {
		t.Errorf("missing audit table: %d %q", code, errs)
	}
	code, _, errs = cli(t, "log", "--dsn", "postgres://nobody@127.0.0.1:1/x?sslmode=disable&connect_timeout=2")
	if code != exitFailure || !strings.Contains(errs, "cannot connect") {
		t.Errorf("bad server: %d %q", code, errs)
	}
}
