package retry

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

var errCut = errors.New("connection cut")

// The loop ends as each of its rules says, and only then.
func TestLoopEndsOnlyAsItsRulesSay(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	permanent := errors.New("held by another relay")
	cases := []struct {
		name     string
		results  []error // a session's errors in turn; nil is a success; after them: done
		giveUp   time.Duration
		wantErr  string
		sessions int // -1: 2 to 4, as the backoff's timing allows
	}{
		{"a failure is retried, then the work finishes", []error{errCut, nil, errCut}, 0, "", 4},
		{"a permanent error ends it at once", []error{errCut, permanent, nil}, 0, permanent.Error(), 2},
		{"failures beyond giveUp end it, naming who gave up", []error{errCut, errCut, errCut, errCut, errCut}, 250 * time.Millisecond, "worker: giving up", -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := 0
			session := func(context.Context) (bool, error) {
				n++
				if n > len(c.results) {
					return true, nil
				}
				return false, c.results[n-1]
			}
			err := Loop(context.Background(), "worker", c.giveUp, quiet, session, func(err error) bool { return err == permanent })
			if (err == nil) != (c.wantErr == "") || err != nil && !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("Loop = %v, want %q", err, c.wantErr)
			}
			if c.sessions < 0 && (n < 2 || n > 4) || c.sessions >= 0 && n != c.sessions {
				t.Fatalf("%d sessions, want %d", n, c.sessions)
			}
		})
	}
}

// A cancelled context ends the loop without an error, also while it waits.
func TestLoopEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := Loop(ctx, "worker", 0, slog.New(slog.NewTextHandler(io.Discard, nil)), func(context.Context) (bool, error) {
		n++
		cancel()
		return false, errCut
	}, nil)
	if err != nil || n != 1 {
		t.Fatalf("Loop = %v after %d sessions, want nil after 1", err, n)
	}
}
