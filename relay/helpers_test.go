package relay_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sqlaudit/sqlaudit/relay"
	"github.com/sqlaudit/sqlaudit/trail"
)

// connect opens a JetStream client on url, closed when the test ends.
func connect(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// published is one message of the stream.
type published struct {
	Seq     uint64
	Subject string
	Header  nats.Header
	Record  trail.Record
	Body    []byte
}

// readStream returns every message of the stream on subject filter, in
// stream order.
func readStream(t testing.TB, js jetstream.JetStream, stream, filter string) []published {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		t.Fatal(err)
	}
	var want uint64
	for _, n := range info.State.Subjects {
		want += n
	}
	if want == 0 {
		return nil
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		t.Fatal(err)
	}
	var out []published
	for uint64(len(out)) < want {
		batch, err := c.Fetch(min(1000, int(want)-len(out)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			md, _ := m.Metadata()
			p := published{Seq: md.Sequence.Stream, Subject: m.Subject(), Header: m.Headers(), Body: m.Data()}
			if err := json.Unmarshal(m.Data(), &p.Record); err != nil {
				t.Fatalf("message %d: %v", p.Seq, err)
			}
			out = append(out, p)
		}
		if err := batch.Error(); err != nil && ctx.Err() != nil {
			t.Fatal(err)
		}
	}
	return out
}

// countStream is the number of messages on filter.
func countStream(t testing.TB, js jetstream.JetStream, stream, filter string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return 0
	}
	n := 0
	for _, c := range info.State.Subjects {
		n += int(c)
	}
	return n
}

// trailOrder is the trail's ids in the order the relay must publish them,
// computed from the database alone: by tx_id on PostgreSQL (the horizon's
// scale), by id on SQLite, by occurred_at on MariaDB, then by id.
func trailOrder(t testing.TB, db *sql.DB, driver string) []int64 {
	t.Helper()
	order := map[string]string{"audit-sqlite3": "id", "audit-mysql": "occurred_at, id"}[driver]
	if order == "" {
		order = "tx_id, id"
	}
	rows, err := db.Query("SELECT id FROM audit_log ORDER BY " + order)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		ids = append(ids, id)
	}
	return ids
}

// tally compares what the stream holds of a source with the trail's order:
// records lost (committed, not in the stream), duplicated, out of order.
type tally struct{ Lost, Duplicated, OutOfOrder, Foreign int }

func compare(want []int64, got []published) tally {
	var tl tally
	place := make(map[int64]int, len(want))
	for i, id := range want {
		place[id] = i
	}
	seen := map[int64]bool{}
	last := -1
	for _, p := range got {
		id, _ := strconv.ParseInt(p.Header.Get(relay.HeaderRecordID), 10, 64)
		i, ok := place[id]
		switch {
		case !ok:
			tl.Foreign++
		case seen[id]:
			tl.Duplicated++
		case i < last:
			tl.OutOfOrder++
		default:
			last = i
		}
		seen[id] = true
	}
	for _, id := range want {
		if !seen[id] {
			tl.Lost++
		}
	}
	return tl
}
