// Package retry runs the sessions of the long-running workers (the relay,
// the gather) again after a failure, with exponential backoff, until the
// context ends, a session finishes the work, an error is permanent or the
// failures have lasted longer than the worker may wait.
package retry

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// First and Max bound the wait between two sessions: it starts at First
// and doubles after each failure up to Max; a session that succeeds resets
// it.
const (
	First = 100 * time.Millisecond
	Max   = 10 * time.Second
)

// Loop runs session until ctx is done (nil), session reports done (nil),
// permanent says its error cannot be cured by retrying (that error), or
// session has failed without a success for longer than giveUp (0: never),
// which returns an error naming who gave up. Every retried failure is
// logged as a warning "<who> failed: retrying".
func Loop(ctx context.Context, who string, giveUp time.Duration, log *slog.Logger,
	session func(context.Context) (done bool, err error), permanent func(error) bool) error {
	var failing time.Time // when the current run of failures began
	delay := First
	for {
		done, err := session(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil && done:
			return nil
		case err == nil:
			failing, delay = time.Time{}, First
			continue
		case permanent != nil && permanent(err):
			return err
		}
		if failing.IsZero() {
			failing = time.Now()
		}
		if giveUp > 0 && time.Since(failing) > giveUp {
			return fmt.Errorf("%s: giving up after %s of failures: %w", who, giveUp.Round(time.Second), err)
		}
		log.Warn(who+" failed: retrying", "error", err, "in", delay)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(2*delay, Max)
	}
}
