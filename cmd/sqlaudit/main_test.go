package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestDemoPrintsTheTrailOfBothActors(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"demo"}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var records []string
	for i, l := range lines {
		if strings.HasPrefix(l, "ID ") {
			records = lines[i+1:]
		}
	}
	want := []string{
		"alice  INSERT", "alice  INSERT", "alice  INSERT",
		"bob    UPDATE", "bob    UPDATE", "bob    UPDATE", // one statement, three rows, one transaction
		"bob    UPDATE", "alice  DELETE", // the rolled back DELETE left nothing
	}
	if len(records) != len(want) {
		t.Fatalf("want %d records, got %d:\n%s", len(want), len(records), out.String())
	}
	for i, w := range want {
		if !strings.Contains(records[i], w) {
			t.Errorf("record %d = %q, want %q", i+1, records[i], w)
		}
	}
	if !strings.Contains(records[3], `{"price":4.5}`) || !strings.Contains(records[3], `{"price":4.95}`) {
		t.Errorf("the price change is not recorded as old and new values: %q", records[3])
	}
}

func TestUnknownCommandIsAUsageError(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"frobnicate"}, &out, &errs); code != 2 || !strings.Contains(errs.String(), "unknown command") {
		t.Fatalf("exit %d, stderr %q", code, errs.String())
	}
}
