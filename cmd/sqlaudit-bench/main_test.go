package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/sqlaudit/sqlaudit/benchmark"
)

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string // in stdout or stderr
	}{
		{[]string{"-list"}, 0, "Update100kRows"},
		{[]string{"-h"}, 0, "-quick"},
		{[]string{"-nosuchflag"}, 2, "not defined"},
		{[]string{"extra"}, 2, "unexpected argument"},
		{[]string{"-q", "-drivers", "oracle"}, 1, "unknown driver"},
		{[]string{"-viewer", "-viewer-records", "5"}, 2, "want at least 100"},
	} {
		var out, errs bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errs)
		if code != tc.code || !strings.Contains(out.String()+errs.String(), tc.out) {
			t.Errorf("%v: exit %d, want %d with %q; stdout %q stderr %q", tc.args, code, tc.code, tc.out, out.String(), errs.String())
		}
	}
}

// TestQuickRunCompletes runs the command's -quick form, as CI does, end to
// end on every driver — pgx and lib/pq on $SQLAUDIT_PG_URL, SQLite, and
// go-sql-driver/mysql on the MariaDB of $SQLAUDIT_MYSQL_DSN — and fails
// when a server is unreachable: every workload × driver × variant is
// measured (or refused by sqlaudit), T and L wrote the records N wrote, and
// the benchstat lines parse. It asserts nothing about timings.
func TestQuickRunCompletes(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"-quick", "-q"}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	report := out.String()
	cfg := benchmark.DefaultConfig()
	cfg.Quick = true
	missing, err := benchmark.MissingResults(report, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range missing {
		t.Errorf("no result and no refusal for %s", name)
	}
	for _, want := range []string{"\nPostgreSQL: ", "\nSQLite: ", "\nMariaDB: ", "BenchmarkUpdate1Row/mysql/L"} {
		if !strings.Contains(report, want) {
			t.Errorf("no %q in the report", want)
		}
	}
	if strings.Contains(report, "RECORDS DIFFER") {
		t.Errorf("the variants recorded different changes")
	}
	if t.Failed() {
		t.Logf("report:\n%s", report)
	}
}

// TestUnreachableMariaDBFailsClearly: a MariaDB that does not answer ends
// the run with an error naming the server and how to point at another.
func TestUnreachableMariaDBFailsClearly(t *testing.T) {
	var out, errs bytes.Buffer
	code := run(context.Background(), []string{"-quick", "-q", "-drivers", "mysql", "-mysql-dsn", "root@tcp(127.0.0.1:1)/"}, &out, &errs)
	if code != 1 || !strings.Contains(errs.String(), "MariaDB at root@tcp(127.0.0.1:1)") || !strings.Contains(errs.String(), "SQLAUDIT_MYSQL_DSN") {
		t.Errorf("exit %d, stderr %q: want exit 1 naming the server and SQLAUDIT_MYSQL_DSN", code, errs.String())
	}
}

// TestQuickSQLiteRun runs the command's -quick form on SQLite only (no
// server needed).
func TestQuickSQLiteRun(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"-quick", "-q", "-drivers", "sqlite", "-workloads", "Update1Row,SelectByKey"}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	for _, want := range []string{"BenchmarkUpdate1Row/sqlite/L", "BenchmarkSelectByKey/sqlite/P", "SQLite: 3."} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in\n%s", want, out.String())
		}
	}
}
