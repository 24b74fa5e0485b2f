package benchmark

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestViewerRunMeasuresEveryRequest runs the viewer benchmark on a small
// trail on every driver: every request answers 200 (else RunViewer fails),
// with and without the reading indexes, and the report has a line for each.
// It asserts nothing about timings.
func TestViewerRunMeasuresEveryRequest(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Iterations = 1
	var out bytes.Buffer
	if err := RunViewer(context.Background(), cfg, 2000, &out); err != nil {
		t.Fatal(err)
	}
	for _, c := range viewerCases {
		for _, d := range drivers {
			found := false
			for _, line := range strings.Split(out.String(), "\n") {
				f := strings.Fields(strings.TrimPrefix(line, c.name))
				if strings.HasPrefix(line, c.name) && len(f) > 7 && f[0] == d.name && f[1] != "-" && f[5] != "-" {
					found = true
				}
			}
			if !found {
				t.Errorf("no result for %q on %s:\n%s", c.name, d.name, out.String())
			}
		}
	}
}
