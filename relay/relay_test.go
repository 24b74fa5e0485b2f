package relay_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sqlaudit/sqlaudit"
	"github.com/sqlaudit/sqlaudit/internal/dbtest"
	"github.com/sqlaudit/sqlaudit/internal/natstest"
	"github.com/sqlaudit/sqlaudit/relay"
	"github.com/sqlaudit/sqlaudit/trail"
)

func mustExec(t testing.TB, d *dbtest.DB, ctx context.Context, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := d.Audit.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// relayUntil runs a relay until the stream holds n messages of its source
// (a record may wait for other tests' transactions on a shared PostgreSQL
// or MariaDB server to end before it is final), then stops it, and returns
// the source's messages.
func relayUntil(t testing.TB, d *dbtest.DB, js jetstream.JetStream, opts relay.Options, n int) []published {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx, d.Audit, js, opts) }()
	filter := "audit." + opts.Source + ".>"
	deadline := time.Now().Add(2 * time.Minute)
	for countStream(t, js, "AUDIT", filter) < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return readStream(t, js, "AUDIT", filter)
}

func TestRelayPublishesEveryCommittedRecordOnceInTrailOrder(t *testing.T) {
	nc := natstest.Start(t, 1)
	for _, driver := range dbtest.Drivers {
		t.Run(driver, func(t *testing.T) {
			d := dbtest.Open(t, driver)
			js := connect(t, nc.URL())
			ctx := sqlaudit.WithActor(context.Background(), "alice")
			mustExec(t, d, ctx, "CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(40), n INTEGER)")
			for i := range 30 {
				mustExec(t, d, ctx, fmt.Sprintf("INSERT INTO items VALUES (%d, 'item %d', %d)", i, i, i))
			}
			mustExec(t, d, ctx, "UPDATE items SET n = n + 1 WHERE id < 10", "DELETE FROM items WHERE id >= 25")
			tx, _ := d.Audit.BeginTx(ctx, nil) // rolled back: never published
			tx.ExecContext(ctx, "UPDATE items SET n = 0")
			tx.Rollback()
			src := strings.ReplaceAll(driver, "audit-", "")
			opts := relay.Options{Source: src}
			want := trailOrder(t, d.Plain, driver)
			got := relayUntil(t, d, js, opts, len(want))
			if tl := compare(want, got); tl != (tally{}) || len(want) != 45 {
				t.Fatalf("%d records in the trail, %d in the stream: %+v", len(want), len(got), tl)
			}
			recs, _ := trail.Log(ctx, d.Audit, trail.Filter{})
			byID := map[int64]trail.Record{}
			for _, r := range recs {
				byID[r.ID] = r
			}
			for _, p := range got {
				body, _ := json.Marshal(byID[p.Record.ID])
				if string(body) != string(p.Body) {
					t.Fatalf("message %d: body\n%s\nwant the record as trail reads it\n%s", p.Seq, p.Body, body)
				}
				if p.Subject != "audit."+src+".items" || p.Header.Get(relay.HeaderSource) != src ||
					p.Header.Get(relay.HeaderActor) != "alice" || p.Header.Get(relay.HeaderTxID) != fmt.Sprint(p.Record.TxID) {
					t.Fatalf("message %d: subject %s, headers %v", p.Seq, p.Subject, p.Header)
				}
			}
			// a second run finds the stream's position and adds only what is new
			mustExec(t, d, ctx, "INSERT INTO items VALUES (100, 'late', 1)")
			want = trailOrder(t, d.Plain, driver)
			got = relayUntil(t, d, js, opts, len(want))
			if tl := compare(want, got); tl != (tally{}) {
				t.Fatalf("after a second run: %+v", tl)
			}
		})
	}
}

func TestSecondRelayOfASourceWaitsOrExits(t *testing.T) {
	nc := natstest.Start(t, 1)
	d := dbtest.Open(t, "audit-sqlite3")
	js := connect(t, nc.URL())
	mustExec(t, d, context.Background(), "CREATE TABLE t (id INTEGER PRIMARY KEY)", "INSERT INTO t VALUES (1)")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := make(chan error, 1)
	go func() { first <- relay.Run(ctx, d.Audit, js, relay.Options{Source: "shop"}) }()
	waitLease(t, js, "AUDIT.shop", true)
	for deadline := time.Now().Add(time.Minute); countStream(t, js, "AUDIT", "audit.shop.>") < 1 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond) // the first relay has published the record
	}
	err := relay.Run(context.Background(), d.Audit, connect(t, nc.URL()), relay.Options{Source: "shop", NoWait: true, Once: true})
	if !errors.Is(err, relay.ErrHeld) || !strings.Contains(err.Error(), "source shop") {
		t.Fatalf("second relay: %v, want ErrHeld naming the source", err)
	}
	// without NoWait the second one waits: it publishes nothing while the
	// first holds the lease, and runs once the first has stopped
	second := make(chan error, 1)
	var published int64
	go func() {
		second <- relay.Run(context.Background(), d.Audit, connect(t, nc.URL()), relay.Options{Source: "shop", Once: true,
			Progress: func(s relay.Stats) { published = s.Published }})
	}()
	select {
	case err := <-second:
		t.Fatalf("second relay returned while the first held the lease: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	cancel()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	if published != 0 {
		t.Fatalf("the second relay published %d records the first had published", published)
	}
	if n := countStream(t, js, "AUDIT", "audit.shop.>"); n != 1 {
		t.Fatalf("%d messages in the stream, want 1", n)
	}
	// released on exit: the next one starts at once
	waitLease(t, js, "AUDIT.shop", false)
	if err := relay.Run(context.Background(), d.Audit, js, relay.Options{Source: "shop", NoWait: true, Once: true}); err != nil {
		t.Fatal(err)
	}
}

// waitLease waits until the lease key is held (or free).
func waitLease(t *testing.T, js jetstream.JetStream, key string, held bool) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		kv, err := js.KeyValue(ctx, relay.LeaseBucket)
		if err == nil {
			_, err = kv.Get(ctx, key)
			if (err == nil) == held {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("lease %s: held=%v not reached in a minute", key, held)
}
