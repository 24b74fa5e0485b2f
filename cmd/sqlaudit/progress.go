package main

import (
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Progress is shown on stderr when it is a terminal, cleared when done:
// a bar where the total is known (verify, revert), a counter for streams
// (log, export) while stdout goes elsewhere, a spinner for a wait without
// steps (seal, prune).

// progressBar reports checked of total on a terminal's stderr; nil
// elsewhere (callers pass it as an optional callback).
func progressBar(w io.Writer, what string) func(done, total int64) {
	if !isTerminal(w) {
		return nil
	}
	var bar *progressbar.ProgressBar
	return func(done, total int64) {
		if bar == nil {
			bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(what),
				progressbar.OptionShowCount(), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond))
		}
		bar.Set64(done)
		if done >= total {
			bar.Finish()
		}
	}
}

// counter counts items streamed to out on stderr's terminal; it shows once
// a stream is long (counterAfter items) and only when out is not that
// terminal, where the items themselves are the progress.
type counter struct {
	bar  *progressbar.ProgressBar
	w    io.Writer
	what string
	n    int64
	on   bool
}

// counterAfter is the length of a stream worth a counter.
const counterAfter = 10000

func newCounter(stderr, out io.Writer, what string) *counter {
	return &counter{w: stderr, what: what, on: isTerminal(stderr) && !isTerminal(out)}
}

func (c *counter) add(n int64) {
	if !c.on {
		return
	}
	c.n += n
	if c.bar == nil && c.n >= counterAfter {
		c.bar = progressbar.NewOptions64(-1, progressbar.OptionSetWriter(c.w), progressbar.OptionSetDescription(c.what),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString(c.what),
			progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond))
	}
	if c.bar != nil {
		c.bar.Set64(c.n)
	}
}

func (c *counter) done() {
	if c.bar != nil {
		c.bar.Finish()
	}
}

// spinner shows what is being waited for on stderr's terminal until the
// returned stop is called.
func spinner(w io.Writer, what string) (stop func()) {
	if !isTerminal(w) {
		return func() {}
	}
	bar := progressbar.NewOptions64(-1, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(what),
		progressbar.OptionSpinnerType(14), progressbar.OptionClearOnFinish(), progressbar.OptionSetElapsedTime(true))
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				bar.Add(1)
			}
		}
	}()
	return func() {
		close(done)
		bar.Finish()
	}
}
