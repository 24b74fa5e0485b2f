package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
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
	} {
		var out, errs bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errs)
		if code != tc.code || !strings.Contains(out.String()+errs.String(), tc.out) {
			t.Errorf("%v: exit %d, want %d with %q; stdout %q stderr %q", tc.args, code, tc.code, tc.out, out.String(), errs.String())
		}
	}
}

// TestQuickSQLiteRun runs the command's -quick form on SQLite only (no
// server needed); the full -quick form is TestQuickRunCompletes in package
// benchmark.
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
