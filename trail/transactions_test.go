package trail_test

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/sqlaudit/sqlaudit"
	"github.com/sqlaudit/sqlaudit/trail"
)

// wantTxs is the oracle of Transactions: from every record and the ones f
// selects, the transactions newest first by their newest selected record.
func wantTxs(t *testing.T, e *env, f trail.Filter) []trail.TxSummary {
	t.Helper()
	byTx := map[int64]*trail.TxSummary{}
	for _, r := range checkLog(t, e, trail.Filter{}, -1) {
		s := byTx[r.TxID]
		if s == nil {
			s = &trail.TxSummary{TxID: r.TxID, FirstID: r.ID, First: r.OccurredAt, Metadata: r.Metadata, Actions: map[string]int{}}
			byTx[r.TxID] = s
		}
		s.LastID, s.Last = r.ID, r.OccurredAt
		s.Records++
		s.Actions[r.Action]++
		if !slices.Contains(s.Tables, r.Table) {
			s.Tables = append(s.Tables, r.Table)
		}
		if !slices.Contains(s.Actors, r.Actor) {
			s.Actors = append(s.Actors, r.Actor)
		}
	}
	f.Limit, f.AfterID, f.BeforeID = 0, 0, 0
	for _, r := range checkLog(t, e, f, -1) {
		byTx[r.TxID].Position = r.ID // the newest selected record
	}
	var out []trail.TxSummary
	for _, s := range byTx {
		if s.Position != 0 {
			slices.Sort(s.Tables)
			slices.Sort(s.Actors)
			out = append(out, *s)
		}
	}
	slices.SortFunc(out, func(a, b trail.TxSummary) int { return cmp.Compare(b.Position, a.Position) })
	return out
}

func sameSummary(a, b trail.TxSummary) bool {
	return a.TxID == b.TxID && a.Position == b.Position && a.FirstID == b.FirstID && a.LastID == b.LastID &&
		a.First.Equal(b.First) && a.Last.Equal(b.Last) && a.Records == b.Records && maps.Equal(a.Actions, b.Actions) &&
		slices.Equal(a.Tables, b.Tables) && slices.Equal(a.Actors, b.Actors) && jsonOfMap(a.Metadata) == jsonOfMap(b.Metadata)
}

func jsonOfMap(m map[string]any) string { return mustJSON(m) }

// pageAll pages through Transactions older and then newer, and checks each
// page against the oracle.
func pageAll(t *testing.T, e *env, f trail.Filter, size int) {
	t.Helper()
	ctx := context.Background()
	want := wantTxs(t, e, f)
	f.Limit = size
	var got []trail.TxSummary
	var pages []trail.TxPage
	for before := int64(0); ; {
		g := f
		g.BeforeID = before
		p, err := trail.Transactions(ctx, e.db, g)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, p)
		got = append(got, p.Transactions...)
		if len(pages) > 1 && p.Newer == 0 {
			t.Errorf("%+v: page %d going older has no Newer cursor", f, len(pages))
		}
		if p.Older == 0 {
			break
		}
		if len(p.Transactions) != size {
			t.Errorf("%+v: page %d has %d transactions and an Older cursor", f, len(pages), len(p.Transactions))
		}
		before = p.Older
	}
	if len(got) != len(want) {
		t.Fatalf("%+v pages of %d: %d transactions %v, want %d %v", f, size, len(got), txIDs(got), len(want), txIDs(want))
	}
	for i := range want {
		if !sameSummary(got[i], want[i]) {
			t.Errorf("%+v: transaction %d is\n%+v\nwant\n%+v", f, i, got[i], want[i])
		}
	}
	if pages[0].Newer != 0 {
		t.Errorf("%+v: the first page has a Newer cursor %d", f, pages[0].Newer)
	}
	// back up from the last page with the Newer cursors: the same pages
	for i := len(pages) - 1; i > 0; i-- {
		g := f
		g.AfterID = pages[i].Newer
		p, err := trail.Transactions(ctx, e.db, g)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(txIDs(p.Transactions), txIDs(pages[i-1].Transactions)) || p.Older != pages[i-1].Older || (p.Newer != 0) != (i > 1) {
			t.Errorf("%+v: newer than page %d: %v older %d newer %d, want %v older %d", f, i, txIDs(p.Transactions), p.Older, p.Newer,
				txIDs(pages[i-1].Transactions), pages[i-1].Older)
		}
	}
}

func txIDs(s []trail.TxSummary) []int64 {
	out := make([]int64, len(s))
	for i, x := range s {
		out[i] = x.TxID
	}
	return out
}

// interleave runs two transactions whose statements alternate, so that
// their records interleave in id order (servers only).
func interleave(t *testing.T, e *env, a, b []string) {
	t.Helper()
	ctxA := sqlaudit.WithMetadata(sqlaudit.WithActor(context.Background(), "carol"), map[string]any{"request_id": "A"})
	ctxB := sqlaudit.WithMetadata(sqlaudit.WithActor(context.Background(), "dave"), map[string]any{"request_id": "B"})
	ta, err := e.db.BeginTx(ctxA, nil)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := e.db.BeginTx(ctxB, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range max(len(a), len(b)) {
		if i < len(a) {
			if _, err := ta.ExecContext(ctxA, a[i]); err != nil {
				t.Fatalf("%s: %v", a[i], err)
			}
		}
		if i < len(b) {
			if _, err := tb.ExecContext(ctxB, b[i]); err != nil {
				t.Fatalf("%s: %v", b[i], err)
			}
		}
	}
	if err := ta.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := tb.Commit(); err != nil {
		t.Fatal(err)
	}
}

// schedule runs statements of several transactions in the given order,
// then commits them all (servers only).
func schedule(t *testing.T, e *env, steps []struct {
	tx   int
	stmt string
}) {
	t.Helper()
	txs := map[int]*sql.Tx{}
	var order []int
	for _, st := range steps {
		ctx := sqlaudit.WithActor(context.Background(), fmt.Sprint("w", st.tx))
		tx := txs[st.tx]
		if tx == nil {
			var err error
			if tx, err = e.db.BeginTx(ctx, nil); err != nil {
				t.Fatal(err)
			}
			txs[st.tx] = tx
			order = append(order, st.tx)
		}
		if _, err := tx.ExecContext(ctx, st.stmt); err != nil {
			t.Fatalf("%s: %v", st.stmt, err)
		}
	}
	for _, n := range order {
		if err := txs[n].Commit(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTransactionsPagesMatchTheOracleInBothDirections(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		mustExec(t, e.db, itemsDDL, `CREATE TABLE tags (id INTEGER PRIMARY KEY, label TEXT)`)
		for i, s := range script {
			stepMeta(t, e, []string{"alice", "bob"}[i%2], map[string]any{"request_id": fmt.Sprint("r", i)}, s...)
		}
		for i := range 7 {
			stepMeta(t, e, "erin", nil, fmt.Sprintf(`INSERT INTO tags VALUES (%d, 'x')`, 10+i), `UPDATE items SET qty = qty + 1 WHERE id = 2`)
		}
		if !isSQLite(e) { // SQLite has one writer at a time
			interleave(t, e, []string{`INSERT INTO tags VALUES (1, 'a')`, `INSERT INTO tags VALUES (2, 'b')`, `UPDATE items SET qty = 0 WHERE id = 4`},
				[]string{`INSERT INTO tags VALUES (3, 'c')`, `UPDATE items SET name = 'z' WHERE id = 2`, `INSERT INTO tags VALUES (4, 'd')`})
			// long transactions whose newest record lies above a short one
			// met later: 1 and 3 end after 4 began and ended
			schedule(t, e, []struct {
				tx   int
				stmt string
			}{{1, `INSERT INTO tags VALUES (101, 'a')`}, {2, `INSERT INTO tags VALUES (102, 'b')`}, {3, `INSERT INTO tags VALUES (103, 'c')`},
				{4, `INSERT INTO tags VALUES (104, 'd')`}, {1, `INSERT INTO tags VALUES (105, 'e')`}, {3, `INSERT INTO tags VALUES (106, 'f')`}})
			for i := range 4 { // so that a page of 2 starts just below the schedule
				stepMeta(t, e, "frank", nil, fmt.Sprintf(`INSERT INTO tags VALUES (%d, 'g')`, 200+i))
			}
		}
		filters := []trail.Filter{
			{},
			{Table: e.tbl("tags")},
			{Table: e.tbl("items")},
			{Actor: "bob"},
			{Actor: "erin", Action: "UPDATE"},
			{Column: "qty"},
			{Metadata: map[string]string{"request_id": "A"}},
			{Text: "tags"},
			{Actor: "nobody"},
		}
		for _, chunk := range []int{0, 1, 3} { // 0: the default, one chunk here
			undo := trail.SetScanChunk(chunk)
			for _, f := range filters {
				for _, size := range []int{1, 2, 50} {
					pageAll(t, e, f, size)
				}
			}
			undo()
		}
	})
}

func isSQLite(e *env) bool {
	d, _ := sqlaudit.DialectOf(e.db)
	return d.Name() == "sqlite"
}

func TestTransactionsRefusesTwoCursorsAndReportsAMissingTable(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		if _, err := trail.Transactions(ctx, e.db, trail.Filter{BeforeID: 5, AfterID: 2}); !errors.Is(err, trail.ErrBothCursors) {
			t.Errorf("both cursors: %v", err)
		}
		if _, err := trail.Transactions(ctx, e.db, trail.Filter{}, trail.WithTable("no_such_audit")); !errors.Is(err, trail.ErrNoAuditTable) {
			t.Errorf("missing audit table: %v", err)
		}
	})
}
