package trail_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sqlaudit/sqlaudit"
	"github.com/sqlaudit/sqlaudit/trail"
)

const itemsDDL = `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price NUMERIC, qty INTEGER)`

// snapshot reads every row of items as the audit driver renders rows.
func snapshot(t *testing.T, e *env) map[string]string {
	t.Helper()
	q := `SELECT id, json_object('id', id, 'name', name, 'price', price, 'qty', qty) FROM items`
	if e.schema != "" {
		q = `SELECT id, to_jsonb(t.*)::text FROM items t`
	}
	rows, err := e.db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, js string
		if err := rows.Scan(&id, &js); err != nil {
			t.Fatal(err)
		}
		out[id] = canon(t, js)
	}
	return out
}

// canon re-encodes JSON with sorted keys, numbers as written.
func canon(t *testing.T, js string) string {
	dec := json.NewDecoder(strings.NewReader(js))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// lastTx is the transaction of the newest record.
func lastTx(t *testing.T, e *env) int64 {
	t.Helper()
	recs, err := trail.Log(context.Background(), e.db, trail.Filter{})
	if err != nil || len(recs) == 0 {
		t.Fatalf("no records: %v", err)
	}
	return recs[len(recs)-1].TxID
}

// step runs statements in one transaction as actor.
func step(t *testing.T, e *env, actor string, stmts ...string) int64 {
	t.Helper()
	ctx := sqlaudit.WithActor(context.Background(), actor)
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			tx.Rollback()
			t.Fatalf("%s: %v", s, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Millisecond) // SQLite times have milliseconds
	return lastTx(t, e)
}

var script = [][]string{
	{`INSERT INTO items VALUES (1, 'tea', 4.50, 10), (2, 'coffee', 7.00, 5), (3, 'cocoa', 5.25, 0)`},
	{`UPDATE items SET price = price + 1`},
	{`UPDATE items SET qty = 6 WHERE id = 2`, `DELETE FROM items WHERE id = 3`},
	{`INSERT INTO items VALUES (4, 'mate', 3.10, 1)`, `UPDATE items SET name = 'green tea' WHERE id = 1`},
	{`DELETE FROM items WHERE id = 1`},
	{`INSERT INTO items VALUES (1, 'black tea', 2.00, 3)`},
}

func TestAsOfMatchesSnapshotsOfAScriptedHistory(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		mustExec(t, e.db, itemsDDL)
		type snap struct {
			at   time.Time
			rows map[string]string
		}
		var snaps []snap
		take := func() {
			time.Sleep(15 * time.Millisecond)
			snaps = append(snaps, snap{time.Now(), snapshot(t, e)})
			time.Sleep(15 * time.Millisecond)
		}
		take()
		for i, s := range script {
			step(t, e, []string{"alice", "bob"}[i%2], s...)
			take()
		}
		for i, s := range snaps {
			for _, id := range []string{"1", "2", "3", "4"} {
				row, ok, err := trail.AsOf(ctx, e.db, e.tbl("items"), trail.Key{"id": json.Number(id)}, s.at)
				if err != nil {
					t.Fatal(err)
				}
				want, wantOK := s.rows[id]
				if ok != wantOK || ok && canon(t, mustJSON(row)) != want {
					t.Errorf("snapshot %d, id %s: AsOf = %v %s, want %v %s", i, id, ok, mustJSON(row), wantOK, want)
				}
			}
		}
	})
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestHistoryTransactionAndLogFilters(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		mustExec(t, e.db, itemsDDL)
		var txs []int64
		for i, s := range script {
			txs = append(txs, step(t, e, []string{"alice", "bob"}[i%2], s...))
		}
		hist, err := trail.History(ctx, e.db, e.tbl("items"), trail.Key{"id": 1})
		if err != nil {
			t.Fatal(err)
		}
		if got := actions(hist); got != "INSERT UPDATE UPDATE DELETE INSERT" {
			t.Errorf("history of id 1: %s", got)
		}
		if hist[1].Old["price"] == nil || hist[1].New["price"] == nil || hist[1].Actor != "bob" {
			t.Errorf("price update: %+v", hist[1])
		}
		recs, err := trail.Transaction(ctx, e.db, txs[2])
		if err != nil || actions(recs) != "UPDATE DELETE" {
			t.Errorf("transaction 3: %s %v", actions(recs), err)
		}
		if _, err := trail.Transaction(ctx, e.db, 987654321); !errors.Is(err, trail.ErrNoRecords) {
			t.Errorf("unknown tx: %v", err)
		}
		checkLog(t, e, trail.Filter{Actor: "bob"}, 6)
		checkLog(t, e, trail.Filter{Action: "delete"}, 2)
		checkLog(t, e, trail.Filter{Table: e.tbl("items"), Key: trail.Key{"id": 2}}, 3)
		checkLog(t, e, trail.Filter{Table: "nope"}, 0)
		checkLog(t, e, trail.Filter{TxID: txs[1]}, 3)
		all := checkLog(t, e, trail.Filter{}, 12)
		checkLog(t, e, trail.Filter{Since: all[6].OccurredAt}, 6)
		checkLog(t, e, trail.Filter{Until: all[6].OccurredAt}, 6)
		checkLog(t, e, trail.Filter{Since: time.Now().Add(time.Hour)}, 0)
		// paging: pages of 5 by the after-id cursor give every record once
		var paged []trail.Record
		for after := int64(0); ; {
			page := checkLog(t, e, trail.Filter{Limit: 5, AfterID: after}, -1)
			if len(page) == 0 {
				break
			}
			paged = append(paged, page...)
			after = page[len(page)-1].ID
		}
		if actions(paged) != actions(all) {
			t.Errorf("paged %s, want %s", actions(paged), actions(all))
		}
		n := 0
		for r, err := range trail.Query(ctx, e.db, trail.Filter{}) {
			if err != nil || r.ID == 0 {
				t.Fatal(err)
			}
			if n++; n == 3 {
				break
			}
		}
	})
}

func checkLog(t *testing.T, e *env, f trail.Filter, want int) []trail.Record {
	t.Helper()
	recs, err := trail.Log(context.Background(), e.db, f)
	if err != nil {
		t.Fatal(err)
	}
	if want >= 0 && len(recs) != want {
		t.Errorf("Log(%+v): %d records, want %d", f, len(recs), want)
	}
	return recs
}

func actions(recs []trail.Record) string {
	var a []string
	for _, r := range recs {
		a = append(a, r.Action)
	}
	return strings.Join(a, " ")
}

func TestMissingAuditTableAndPlainHandles(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, err := trail.Log(ctx, e.db, trail.Filter{}, trail.WithTable("no_such_audit"))
		if !errors.Is(err, trail.ErrNoAuditTable) {
			t.Errorf("missing audit table: %v", err)
		}
	})
	plain, err := sql.Open("sqlite3", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := trail.Log(context.Background(), plain, trail.Filter{}); !errors.Is(err, trail.ErrUnknownDialect) {
		t.Errorf("plain handle without WithDialect: %v", err)
	}
	mustExec(t, plain, sqlaudit.DDL(sqlaudit.SQLite, "audit_log"))
	if _, err := trail.Log(context.Background(), plain, trail.Filter{}, trail.WithDialect(sqlaudit.SQLite)); err != nil {
		t.Errorf("plain handle with WithDialect: %v", err)
	}
}
