package trail_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/sqlaudit/sqlaudit"
	"github.com/sqlaudit/sqlaudit/trail"
)

// stepMeta runs statements in one transaction as actor with metadata.
func stepMeta(t *testing.T, e *env, actor string, meta map[string]any, stmts ...string) int64 {
	t.Helper()
	ctx := sqlaudit.WithMetadata(sqlaudit.WithActor(context.Background(), actor), meta)
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
	return lastTx(t, e)
}

func ids(recs []trail.Record) []int64 {
	out := make([]int64, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

func TestFiltersByMetadataColumnAndStatementText(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		mustExec(t, e.db, itemsDDL)
		stepMeta(t, e, "alice", map[string]any{"request_id": "abc", "user_id": 42, "replayed": true, "nothing": nil},
			`INSERT INTO items VALUES (1, 'tea', 4.50, 10), (2, 'coffee', 7.00, 5)`)
		stepMeta(t, e, "bob", map[string]any{"request_id": "def", "user_id": 7},
			`UPDATE items SET price = 6 WHERE id = 1`, `UPDATE items SET qty = 1 WHERE id = 2`)
		stepMeta(t, e, "bob", map[string]any{"request_id": "100% _done!"}, `DELETE FROM items WHERE id = 2`)
		all := checkLog(t, e, trail.Filter{}, 5)
		cases := []struct {
			name string
			f    trail.Filter
			want []int64 // indexes into all
		}{
			{"metadata string", trail.Filter{Metadata: map[string]string{"request_id": "abc"}}, []int64{0, 1}},
			{"metadata number as text", trail.Filter{Metadata: map[string]string{"user_id": "7"}}, []int64{2, 3}},
			{"metadata boolean as text", trail.Filter{Metadata: map[string]string{"replayed": "true"}}, []int64{0, 1}},
			{"metadata two keys", trail.Filter{Metadata: map[string]string{"request_id": "def", "user_id": "7"}}, []int64{2, 3}},
			{"metadata mismatch", trail.Filter{Metadata: map[string]string{"request_id": "def", "user_id": "42"}}, nil},
			{"metadata wildcards are literal", trail.Filter{Metadata: map[string]string{"request_id": "100% _done!"}}, []int64{4}},
			{"metadata null is no value", trail.Filter{Metadata: map[string]string{"nothing": "null"}}, nil},
			{"metadata missing key", trail.Filter{Metadata: map[string]string{"nope": "abc"}}, nil},
			{"column updated", trail.Filter{Column: "price"}, []int64{0, 1, 2, 4}},
			{"column only in inserts and deletes", trail.Filter{Column: "name"}, []int64{0, 1, 4}},
			{"column qty updated", trail.Filter{Column: "qty", Action: "UPDATE"}, []int64{3}},
			{"column unknown", trail.Filter{Column: "nope"}, nil},
			{"text ignores case", trail.Filter{Text: "update ITEMS set"}, []int64{2, 3}},
			{"text fragment", trail.Filter{Text: "qty = 1"}, []int64{3}},
			{"text percent is literal", trail.Filter{Text: "100%"}, nil},
			{"text underscore is literal", trail.Filter{Text: "i_ems"}, nil},
		}
		for _, c := range cases {
			got := ids(checkLog(t, e, c.f, -1))
			var want []int64
			for _, i := range c.want {
				want = append(want, all[i].ID)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: %+v selects %v, want %v", c.name, c.f, got, want)
			}
		}
	})
}

func TestNewestFirstPagesWithBeforeID(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		mustExec(t, e.db, itemsDDL)
		for i, s := range script {
			step(t, e, []string{"alice", "bob"}[i%2], s...)
		}
		all := ids(checkLog(t, e, trail.Filter{}, 12))
		newest := ids(checkLog(t, e, trail.Filter{NewestFirst: true}, 12))
		rev := slices.Clone(all)
		slices.Reverse(rev)
		if !slices.Equal(newest, rev) {
			t.Fatalf("newest first %v, want %v reversed", newest, all)
		}
		var paged []int64
		for before := int64(0); ; {
			page := ids(checkLog(t, e, trail.Filter{NewestFirst: true, Limit: 5, BeforeID: before}, -1))
			if len(page) == 0 {
				break
			}
			paged = append(paged, page...)
			before = page[len(page)-1]
		}
		if !slices.Equal(paged, newest) {
			t.Errorf("pages newest first %v, want %v", paged, newest)
		}
		n, err := trail.Count(context.Background(), e.db, trail.Filter{Actor: "bob", Limit: 1, AfterID: all[3]})
		if err != nil || n.Records != 6 || n.Transactions != 3 {
			t.Errorf("Count(bob) = %+v, %v; want 6 records in 3 transactions, paging ignored", n, err)
		}
	})
}

func TestAsOfRecordRebuildsTheRowAfterEachOfItsRecords(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		mustExec(t, e.db, itemsDDL)
		var after []map[string]string // snapshot after each step
		for i, s := range script {
			step(t, e, []string{"alice", "bob"}[i%2], s...)
			after = append(after, snapshot(t, e))
		}
		tbl := e.tbl("items")
		hist, err := trail.History(ctx, e.db, tbl, trail.Key{"id": 1})
		if err != nil {
			t.Fatal(err)
		}
		stepOf := map[int64]int{} // tx → script step
		all := checkLog(t, e, trail.Filter{}, -1)
		for _, r := range all {
			if _, ok := stepOf[r.TxID]; !ok {
				stepOf[r.TxID] = len(stepOf)
			}
		}
		for _, r := range hist {
			row, ok, err := trail.AsOfRecord(ctx, e.db, tbl, trail.Key{"id": 1}, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			want, wantOK := after[stepOf[r.TxID]]["1"]
			if ok != wantOK || ok && canon(t, mustJSON(row)) != want {
				t.Errorf("after record %d (%s): %v %s, want %v %s", r.ID, r.Action, ok, mustJSON(row), wantOK, want)
			}
		}
		other := hist[0].ID + 1 // a record of id 2
		if _, _, err := trail.AsOfRecord(ctx, e.db, tbl, trail.Key{"id": 1}, other); err == nil {
			t.Errorf("record %d of another row: no error", other)
		}
	})
}

func TestSealsReportsTheLastSealAndTheRecordsAfterIt(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		mustExec(t, e.db, itemsDDL)
		step(t, e, "alice", script[0]...)
		st, err := trail.Seals(ctx, e.db)
		if err != nil || st.Sealed || st.Newer != 3 {
			t.Fatalf("before sealing: %+v %v", st, err)
		}
		var head sqlaudit.Head
		// Seal seals only below the oldest transaction running on the
		// server, which other tests share: try until all three are sealed.
		for deadline := time.Now().Add(60 * time.Second); head.Seq < 3; time.Sleep(100 * time.Millisecond) {
			if head, err = sqlaudit.Seal(ctx, e.db); err != nil || time.Now().After(deadline) {
				t.Fatalf("Seal = %+v, %v; want 3 sealed records", head, err)
			}
		}
		step(t, e, "bob", script[1]...)
		st, err = trail.Seals(ctx, e.db)
		all := checkLog(t, e, trail.Filter{}, 6)
		if err != nil || !st.Sealed || st.Seq != head.Seq || st.Hash != head.Hash || st.RecordID != all[2].ID ||
			!st.RecordAt.Equal(all[2].OccurredAt) || st.Newer != 3 {
			t.Errorf("after sealing: %+v %v (head %+v, third record %d)", st, err, head, all[2].ID)
		}
	})
}
