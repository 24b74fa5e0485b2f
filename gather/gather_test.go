package gather_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sqlaudit/sqlaudit"
	"github.com/sqlaudit/sqlaudit/gather"
	"github.com/sqlaudit/sqlaudit/internal/dbtest"
	"github.com/sqlaudit/sqlaudit/internal/natstest"
	"github.com/sqlaudit/sqlaudit/relay"
	"github.com/sqlaudit/sqlaudit/trail"
)

// TestGatherWritesEachSourceOnceAndTrailReadsIt: two sources relayed into
// one stream, a message that is no record among them; gather --once twice
// writes every record once, and the trail package reads the central store
// per source, transactions unmixed.
func TestGatherWritesEachSourceOnceAndTrailReadsIt(t *testing.T) {
	if !dbtest.Selected("audit-sqlite3") || !dbtest.Selected("audit-pgx") {
		t.Skip("needs audit-sqlite3 and audit-pgx")
	}
	cl := natstest.Start(t, 1)
	nc, err := nats.Connect(cl.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := sqlaudit.WithActor(context.Background(), "alice")
	for _, src := range []string{"shop", "billing"} {
		d := dbtest.Open(t, "audit-sqlite3")
		for _, q := range []string{"CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", "INSERT INTO t VALUES (1, 'a'), (2, 'b')", "UPDATE t SET v = 'c' WHERE id = 1"} {
			if _, err := d.Audit.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		if err := relay.Run(context.Background(), d.Audit, js, relay.Options{Source: src, Once: true}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := js.Publish(context.Background(), "audit.junk.t", []byte("not a record")); err != nil {
		t.Fatal(err)
	}
	central := dbtest.CreatePG(t, fmt.Sprintf("gather_%d", time.Now().UnixNano()%1e9))
	db, err := sql.Open("pgx", central)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for range 2 {
		if err := gather.Run(context.Background(), db, js, gather.Options{Once: true}); err != nil {
			t.Fatal(err)
		}
	}
	opts := []trail.Option{trail.WithDialect(sqlaudit.PostgreSQL), trail.WithSources()}
	all, err := trail.Log(context.Background(), db, trail.Filter{}, opts...)
	if err != nil || len(all) != 6 {
		t.Fatalf("central store: %d records (%v), want 6", len(all), err)
	}
	if srcs, _ := trail.Sources(context.Background(), db, opts...); fmt.Sprint(srcs) != "[billing shop]" {
		t.Fatalf("sources %v", srcs)
	}
	shop, _ := trail.Log(context.Background(), db, trail.Filter{Source: "shop"}, opts...)
	if len(shop) != 3 || shop[0].Source != "shop" || shop[0].Actor != "alice" || shop[2].Action != "UPDATE" {
		t.Fatalf("shop's records: %+v", shop)
	}
	page, err := trail.Transactions(context.Background(), db, trail.Filter{}, opts...)
	if err != nil || len(page.Transactions) != 4 {
		t.Fatalf("transactions: %+v (%v), want 4 (2 per source, none mixed)", page.Transactions, err)
	}
	for _, tx := range page.Transactions {
		if tx.Source == "" {
			t.Fatalf("transaction %d without its source", tx.TxID)
		}
	}
}
