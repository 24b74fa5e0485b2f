package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe to read while a command writes it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServe runs sqlaudit serve on a free loopback port and returns its
// URL; the server stops when the test ends, and must exit 0.
func startServe(t *testing.T, args ...string) (string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errs syncBuffer
	code := make(chan int, 1)
	go func() { code <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), &out, &errs) }()
	t.Cleanup(func() {
		cancel()
		if c := <-code; c != 0 {
			t.Errorf("serve exited %d: %s", c, errs.String())
		}
	})
	addr := regexp.MustCompile(`http://127\.0\.0\.1:\d+/`)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if u := addr.FindString(out.String()); u != "" {
			return u, &out
		}
		select {
		case c := <-code:
			t.Fatalf("serve exited %d: %s", c, errs.String())
		default:
		}
	}
	t.Fatalf("serve printed no address: %q %q", out.String(), errs.String())
	return "", nil
}

func fetch(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// canonical re-encodes JSON text with sorted keys and numbers as written.
func canonical(t *testing.T, s string) string {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%v: %s", err, s)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestServeShowsTheTrailOnLoopbackWithTheLogsJSONShape(t *testing.T) {
	both(t, func(t *testing.T, s *shop, _ func(string, string)) {
		base, out := startServe(t, "--dsn", s.dsn)
		if !strings.Contains(out.String(), "loopback only") {
			t.Errorf("serve does not say it listens on loopback only: %q", out.String())
		}
		code, page := fetch(t, base)
		if code != 200 || !strings.Contains(page, fmt.Sprintf("tx/%d", s.txs[4])) {
			t.Errorf("timeline: %d\n%s", code, page)
		}
		// every record as the API shapes it is the line log -o json prints
		lines := strings.Split(strings.TrimSpace(mustCLI(t, "log", "--dsn", s.dsn, "-o", "json")), "\n")
		code, body := fetch(t, base+"api/records?order=oldest&limit=500")
		var page2 struct{ Records []json.RawMessage }
		if err := json.Unmarshal([]byte(body), &page2); err != nil || code != 200 {
			t.Fatalf("api/records: %d %v %s", code, err, body)
		}
		if len(page2.Records) != len(lines) {
			t.Fatalf("%d records through the API, %d from log", len(page2.Records), len(lines))
		}
		for i, raw := range page2.Records {
			if got, want := canonical(t, string(raw)), canonical(t, lines[i]); got != want {
				t.Errorf("record %d:\napi %s\nlog %s", i, got, want)
			}
		}
		if code, _ := fetch(t, base+fmt.Sprintf("api/tx/%d/plan", s.txs[2])); code != 200 {
			t.Errorf("plan: %d", code)
		}
		res, err := http.Post(base+fmt.Sprintf("api/tx/%d/revert", s.txs[2]), "application/json", strings.NewReader(`{"confirm":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("a revert without --allow-revert: %d", res.StatusCode)
		}
	})
}

func TestServeRevertsOnlyWhenAllowedAsTheActor(t *testing.T) {
	s := newShop(t, "sqlite")
	base, out := startServe(t, "--dsn", s.dsn, "--allow-revert", "--actor", "ops")
	if !strings.Contains(out.String(), `recorded with actor "ops"`) {
		t.Errorf("serve output: %q", out.String())
	}
	var plan struct{ Confirm string }
	_, body := fetch(t, base+fmt.Sprintf("api/tx/%d/plan", s.txs[3]))
	json.Unmarshal([]byte(body), &plan)
	res, err := http.Post(base+fmt.Sprintf("api/tx/%d/revert", s.txs[3]), "application/json", strings.NewReader(`{"confirm":"`+plan.Confirm+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("revert: %d %s", res.StatusCode, b)
	}
	if log := mustCLI(t, "log", "--dsn", s.dsn, "--actor", "ops", "-o", "json"); !strings.Contains(log, fmt.Sprintf(`"revert_of":%d`, s.txs[3])) {
		t.Errorf("the revert is not recorded as ops: %s", log)
	}
}

func TestServeHelpSaysLoopbackAndWarnsOtherwise(t *testing.T) {
	_, help, _ := cli(t, "serve", "--help")
	for _, want := range []string{"127.0.0.1:8080", "loopback only", "no authentication", "--allow-revert"} {
		if !strings.Contains(help, want) {
			t.Errorf("serve --help lacks %q:\n%s", want, help)
		}
	}
	s := newShop(t, "sqlite")
	ctx, cancel := context.WithCancel(context.Background())
	var out, errs syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve", "--dsn", s.dsn, "--addr", "0.0.0.0:0"}, &out, &errs) }()
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(out.String(), "http://") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if !strings.Contains(errs.String(), "WARNING") || !strings.Contains(errs.String(), "without authentication") {
		t.Errorf("no warning for a non-loopback address: %q", errs.String())
	}
	if code, _, errs := cli(t, "serve", "--dsn", s.dsn, "--addr", "127.0.0.1:99999"); code != exitFailure || !strings.Contains(errs, "cannot listen") {
		t.Errorf("bad address: %d %q", code, errs)
	}
}
