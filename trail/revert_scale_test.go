package trail_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/sqlaudit/sqlaudit"
	"github.com/sqlaudit/sqlaudit/trail"
)

// insertRows is one INSERT of items lo … hi.
func insertRows(lo, hi int) string {
	var vals []string
	for i := lo; i <= hi; i++ {
		vals = append(vals, fmt.Sprintf("(%d, 'item %d', %d.25, %d)", i, i, i%100, i%7))
	}
	return "INSERT INTO items VALUES " + strings.Join(vals, ", ")
}

// A revert of thousands of rows runs set-based — a statement per batch of
// rows of one table and kind — and leaves the table exactly as it was
// before the transaction.
func TestRevertOfAManyRowTransactionIsSetBasedAndExact(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := sqlaudit.WithActor(context.Background(), "ops")
		mustExec(t, e.db, itemsDDL)
		step(t, e, "alice", insertRows(1, 1500), insertRows(1501, 3000))
		before := snapshot(t, e)
		bad := step(t, e, "bob",
			`UPDATE items SET price = price + 1, qty = qty + 1 WHERE id <= 2000`,
			`DELETE FROM items WHERE id > 2500`,
			insertRows(4001, 4100),
			`UPDATE items SET name = 'renamed' WHERE id BETWEEN 1001 AND 1100 OR id > 4050`,
			`UPDATE items SET qty = 0 WHERE id = 7`)
		dry, err := trail.Revert(ctx, e.db, bad, trail.RevertOptions{DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if rows := rowsOf(dry.Statements); rows != 2000+500+100+150+1 || len(dry.Statements) > 25 {
			t.Errorf("dry run: %d rows in %d statements; want 2751 rows in a few batches", rows, len(dry.Statements))
		}
		var progress []int64
		res, err := trail.Revert(ctx, e.db, bad, trail.RevertOptions{Progress: func(done, total int64) {
			if total != 2751 {
				t.Errorf("progress total %d", total)
			}
			progress = append(progress, done)
		}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Rows != 2751 || len(progress) != len(res.Statements) || progress[len(progress)-1] != 2751 {
			t.Errorf("revert: %d rows, progress %v", res.Rows, progress)
		}
		if got := snapshot(t, e); !maps.Equal(got, before) {
			for k, v := range before {
				if got[k] != v {
					t.Errorf("row %s after revert: %s, want %s", k, got[k], v)
					break
				}
			}
			t.Fatalf("after revert %d rows, want %d", len(got), len(before))
		}
		n, err := trail.Count(ctx, e.db, trail.Filter{TxID: lastTx(t, e)})
		if err != nil || n.Records != 2751 {
			t.Errorf("the revert's records: %+v %v; want 2751", n, err)
		}
	})
}

// The conflict check reads each table's later records and current rows
// set-based; the error counts every conflict and names the first ones.
func TestRevertReportsEveryConflictCapped(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		mustExec(t, e.db, itemsDDL)
		step(t, e, "alice", insertRows(1, 500))
		bad := step(t, e, "bob", `UPDATE items SET qty = qty + 1`)
		step(t, e, "carol", `UPDATE items SET name = 'later' WHERE id <= 30`)
		mustExec(t, e.plain, `UPDATE items SET qty = 99 WHERE id BETWEEN 101 AND 105`)
		_, err := trail.Revert(ctx, e.db, bad, trail.RevertOptions{})
		var ce *trail.ConflictError
		if !errors.As(err, &ce) || len(ce.Conflicts) != 35 {
			t.Fatalf("want 35 conflicts, got %v", err)
		}
		later, unseen := 0, 0
		for _, c := range ce.Conflicts {
			switch {
			case c.RecordID != 0 && strings.Contains(c.Reason, "carol"):
				later++
			case c.RecordID == 0 && strings.Contains(c.Reason, "column qty is 99"):
				unseen++
			}
		}
		if later != 30 || unseen != 5 {
			t.Errorf("%d later records, %d unseen changes; want 30 and 5", later, unseen)
		}
		if msg := err.Error(); !strings.Contains(msg, "35 rows changed") || !strings.Contains(msg, "and 25 more") || strings.Count(msg, "; ") > 11 {
			t.Errorf("message not capped: %s", msg)
		}
	})
}
