package relay_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sqlaudit/sqlaudit"
	"github.com/sqlaudit/sqlaudit/internal/dbtest"
	"github.com/sqlaudit/sqlaudit/internal/natstest"
)

var (
	kills     = flag.Int("relay-kills", 50, "relays SIGKILLed in TestRelayExactlyOnceUnderFaults")
	longFault = flag.Bool("relay-long", false, "the long form of TestRelayExactlyOnceUnderFaults: 500 kills, more writers")
)

// source is one service of the fault test: its database, writers, relay.
type source struct {
	name  string
	db    *dbtest.DB
	relay *proc
}

// TestRelayExactlyOnceUnderFaults: concurrent audited writers on every
// database while a relay per source streams to a three-node cluster
// (replicas 3), relays SIGKILLed at random points, a gather SIGKILLed too,
// and the stream's leader node restarted under them. Then every committed
// record is in the stream exactly once in trail order, and the central
// store holds the union of the trails.
func TestRelayExactlyOnceUnderFaults(t *testing.T) {
	n, writers := *kills, 2
	if *longFault {
		n, writers = max(n, 500), 4
	}
	cl := natstest.Start(t, 3)
	js := connect(t, cl.URL())
	central := dbtest.CreatePG(t, fmt.Sprintf("central_%d", time.Now().UnixNano()%1e9))
	var srcs []*source
	for _, driver := range dbtest.Drivers {
		if !dbtest.Selected(driver) {
			continue
		}
		s := &source{name: strings.TrimPrefix(driver, "audit-"), db: dbtest.Open(t, driver)}
		if _, err := s.db.Audit.Exec("CREATE TABLE acct (id INTEGER PRIMARY KEY, owner VARCHAR(20), bal INTEGER)"); err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, s)
	}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var committed, rolledBack atomic.Int64
	for _, s := range srcs {
		for w := range writers {
			wg.Add(1)
			go func() { defer wg.Done(); write(ctx, s.db.Audit, w, &committed, &rolledBack) }()
		}
		s.relay = newProc(t, "relay-"+s.name, "SQLAUDIT_CHILD=relay", "SQLAUDIT_NATS="+cl.URL(),
			"SQLAUDIT_DRIVER="+s.db.Driver, "SQLAUDIT_DSN="+s.db.DSN, "SQLAUDIT_SOURCE="+s.name)
	}
	gath := newProc(t, "gather", "SQLAUDIT_CHILD=gather", "SQLAUDIT_NATS="+cl.URL(), "SQLAUDIT_DRIVER=pgx", "SQLAUDIT_DSN="+central)
	for k := range n {
		time.Sleep(time.Duration(20+rand.IntN(400)) * time.Millisecond)
		s := srcs[rand.IntN(len(srcs))]
		s.relay.kill()
		s.relay.start(t)
		if k%10 == 5 {
			gath.kill()
			gath.start(t)
		}
		if k == n/2 {
			restartLeader(t, cl, js)
		}
	}
	stop()
	wg.Wait()
	t.Logf("%d kills; %d transactions committed, %d rolled back", n, committed.Load(), rolledBack.Load())
	cdb, err := sql.Open("pgx", central)
	if err != nil {
		t.Fatal(err)
	}
	defer cdb.Close()
	total := 0
	for _, s := range srcs {
		want := trailOrder(t, s.db.Plain, s.db.Driver)
		total += len(want)
		deadline := time.Now().Add(3 * time.Minute)
		for countStream(t, js, "AUDIT", "audit."+s.name+".>") < len(want) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		got := readStream(t, js, "AUDIT", "audit."+s.name+".>")
		tl := compare(want, got)
		t.Logf("%-9s %6d records committed, %6d in the stream: %d lost, %d duplicated, %d out of order", s.name, len(want), len(got), tl.Lost, tl.Duplicated, tl.OutOfOrder)
		if tl != (tally{}) || len(got) != len(want) {
			t.Errorf("%s: %+v; relay log:\n%s", s.name, tl, s.relay.tail())
		}
	}
	deadline := time.Now().Add(3 * time.Minute)
	for centralCount(t, cdb) < total && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	for _, s := range srcs {
		lost, dup, order := compareCentral(t, cdb, s)
		t.Logf("central   %-9s %d lost, %d duplicated, %d out of order, contents equal", s.name, lost, dup, order)
		if lost+dup+order > 0 {
			t.Errorf("central store, source %s: %d lost, %d duplicated, %d out of order; gather log:\n%s", s.name, lost, dup, order, gath.tail())
		}
	}
	if c := centralCount(t, cdb); c != total {
		t.Errorf("central store: %d records, the sources' trails %d", c, total)
	}
}

// write runs random audited transactions until ctx ends: inserts, updates
// and deletes of a few rows, some rolled back, some held open a while so
// that later transactions commit first.
func write(ctx context.Context, db *sql.DB, w int, committed, rolledBack *atomic.Int64) {
	ctx = sqlaudit.WithActor(ctx, fmt.Sprintf("writer%d", w))
	for i := 0; ctx.Err() == nil; i++ {
		tx, err := db.BeginTx(context.WithoutCancel(ctx), nil)
		if err != nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		ok := true
		for j := range 1 + rand.IntN(4) {
			id := w*1_000_000 + rand.IntN(200)
			var q string
			switch rand.IntN(3) {
			case 0:
				q = fmt.Sprintf("INSERT INTO acct VALUES (%d, 'w%d', %d)", w*1_000_000+i*10+j, w, j)
			case 1:
				q = fmt.Sprintf("UPDATE acct SET bal = bal + 1 WHERE id BETWEEN %d AND %d", id, id+5)
			default:
				q = fmt.Sprintf("DELETE FROM acct WHERE id = %d", id)
			}
			if _, err := tx.Exec(q); err != nil {
				ok = false
				break
			}
		}
		if rand.IntN(20) == 0 {
			time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond) // a long transaction
		}
		if !ok || rand.IntN(8) == 0 {
			tx.Rollback()
			rolledBack.Add(1)
			continue
		}
		if tx.Commit() == nil {
			committed.Add(1)
		}
		time.Sleep(time.Duration(rand.IntN(5)) * time.Millisecond)
	}
}

// restartLeader restarts the node leading the stream.
func restartLeader(t *testing.T, cl *natstest.Cluster, js jetstream.JetStream) {
	t.Helper()
	s, err := js.Stream(context.Background(), "AUDIT")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil || info.Cluster == nil {
		t.Fatalf("stream info: %v", err)
	}
	var i int
	fmt.Sscanf(info.Cluster.Leader, "n%d", &i)
	t.Logf("restarting the stream's leader %s", info.Cluster.Leader)
	cl.Restart(t, i-1)
}

func centralCount(t *testing.T, db *sql.DB) int {
	var n int
	db.QueryRow("SELECT count(*) FROM audit_log").Scan(&n)
	return n
}

// compareCentral compares the central store's records of s with its
// trail: each record once, in the trail's order (by central id), with the
// same contents.
func compareCentral(t *testing.T, cdb *sql.DB, s *source) (lost, dup, order int) {
	t.Helper()
	const cols = "action, table_name, coalesce(actor, ''), row_key::jsonb::text, coalesce(old_values::jsonb::text, ''), coalesce(new_values::jsonb::text, ''), query"
	want := map[int64]string{}
	rows, err := s.db.Plain.Query(strings.ReplaceAll("SELECT id, "+cols+" FROM audit_log", "::jsonb::text", portableJSON(s.db.Driver)))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var f [7]string
		rows.Scan(&id, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6])
		want[id] = normalize(f)
	}
	rows.Close()
	order0 := trailOrder(t, s.db.Plain, s.db.Driver)
	place := map[int64]int{}
	for i, id := range order0 {
		place[id] = i
	}
	rows, err = cdb.Query("SELECT source_id, "+cols+" FROM audit_log WHERE source = $1 ORDER BY id", s.name)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen, last := map[int64]bool{}, -1
	for rows.Next() {
		var id int64
		var f [7]string
		rows.Scan(&id, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6])
		switch {
		case seen[id]:
			dup++
		case place[id] < last:
			order++
		default:
			last = place[id]
		}
		seen[id] = true
		if want[id] != normalize(f) {
			t.Errorf("central record %s/%d differs:\n%s\nwant\n%s", s.name, id, normalize(f), want[id])
		}
	}
	for id := range want {
		if !seen[id] {
			lost++
		}
	}
	return lost, dup, order
}

// portableJSON is how a JSON column reads as text on the driver's database.
func portableJSON(driver string) string {
	if driver == "audit-pgx" || driver == "audit-postgres" {
		return "::text"
	}
	return ""
}

// normalize joins a record's fields, its JSON ones re-encoded with sorted
// keys so that jsonb's and the sources' spellings compare equal.
func normalize(f [7]string) string {
	for _, i := range []int{3, 4, 5} {
		if f[i] == "" {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(f[i]))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) == nil {
			b, _ := json.Marshal(v)
			f[i] = string(b)
		}
	}
	return strings.Join(f[:], " | ")
}
