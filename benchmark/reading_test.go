package benchmark

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestReadingRunMeasuresEveryOperation runs the reading benchmark on a
// small trail on every driver: every read returns what it should (else
// RunReading fails), the revert restores its table each round, and the
// report has a line for each operation and driver. It asserts nothing
// about timings.
func TestReadingRunMeasuresEveryOperation(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Iterations = 1
	var out bytes.Buffer
	if err := RunReading(context.Background(), cfg, 3000, 500, &out); err != nil {
		t.Fatal(err)
	}
	names := []string{"export of the whole trail", "revert --dry-run of a 500-row UPDATE", "revert of a 500-row UPDATE"}
	for _, c := range readCases {
		names = append(names, c.name)
	}
	for _, name := range names {
		for _, d := range drivers {
			found := false
			for _, line := range strings.Split(out.String(), "\n") {
				if strings.HasPrefix(line, name) && strings.Contains(line, " "+d.name+" ") && strings.Contains(line, " ms ") {
					found = true
				}
			}
			if !found {
				t.Errorf("no result for %q on %s:\n%s", name, d.name, out.String())
			}
		}
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "revert of") && !strings.Contains(line, " statements;") {
			t.Errorf("the revert's statements are not reported: %q", line)
		}
	}
}
