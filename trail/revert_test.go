package trail_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"strconv"
	"testing"

	"github.com/sqlaudit/sqlaudit"
	"github.com/sqlaudit/sqlaudit/trail"
)

func TestRevertRestoresTheTableAsBeforeTheTransaction(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := sqlaudit.WithActor(context.Background(), "ops")
		mustExec(t, e.db, itemsDDL)
		step(t, e, "alice", script[0]...)
		before := snapshot(t, e)
		bad := step(t, e, "bob", `UPDATE items SET price = price * 2, qty = qty + 1`, `DELETE FROM items WHERE id = 3`,
			`INSERT INTO items VALUES (9, 'oops', 1, 1)`, `UPDATE items SET name = 'x' WHERE id = 9`)
		after := snapshot(t, e)

		dry, err := trail.Revert(ctx, e.db, bad, trail.RevertOptions{DryRun: true})
		if err != nil || rowsOf(dry.Statements) != 6 || len(dry.Statements) != 4 {
			t.Fatalf("dry run: want 6 rows in 4 statements (the three rows of one UPDATE in one), got %+v %v", dry, err)
		}
		if !maps.Equal(snapshot(t, e), after) {
			t.Fatal("the dry run changed the table")
		}
		res, err := trail.Revert(ctx, e.db, bad, trail.RevertOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := snapshot(t, e); !maps.Equal(got, before) {
			t.Errorf("after revert:\n%v\nwant:\n%v", got, before)
		}
		recs, err := trail.Transaction(ctx, e.db, lastTx(t, e))
		if err != nil || len(recs) != 6 || res.Rows != 6 {
			t.Fatalf("revert records: %d, rows %d, %v", len(recs), res.Rows, err)
		}
		for _, r := range recs {
			if r.Actor != "ops" || r.Metadata[trail.RevertMetadataKey] != jsonNumber(bad) {
				t.Errorf("revert record %+v", r)
			}
		}
	})
}

func rowsOf(stmts []trail.Statement) int {
	n := 0
	for _, s := range stmts {
		n += s.Rows
	}
	return n
}

func jsonNumber(n int64) any { return json.Number(strconv.FormatInt(n, 10)) }

func TestRevertRefusesRowsChangedLaterUnlessForced(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		mustExec(t, e.db, itemsDDL)
		step(t, e, "alice", script[0]...)
		first := step(t, e, "bob", `UPDATE items SET qty = 1 WHERE id = 1`, `UPDATE items SET qty = 2 WHERE id = 2`)
		step(t, e, "carol", `UPDATE items SET name = 'later' WHERE id = 1`)
		before := snapshot(t, e)
		_, err := trail.Revert(ctx, e.db, first, trail.RevertOptions{})
		var ce *trail.ConflictError
		if !errors.Is(err, trail.ErrConflict) || !errors.As(err, &ce) || len(ce.Conflicts) != 1 || ce.Conflicts[0].RecordID == 0 {
			t.Fatalf("want one conflict, got %v", err)
		}
		if !maps.Equal(snapshot(t, e), before) {
			t.Fatal("a refused revert changed the table")
		}
		// a change the trail did not see (a plain connection) is a conflict too
		third := step(t, e, "bob", `UPDATE items SET qty = 7 WHERE id = 3`)
		mustExec(t, e.plain, `UPDATE items SET qty = 8 WHERE id = 3`)
		if _, err := trail.Revert(ctx, e.db, third, trail.RevertOptions{}); !errors.As(err, &ce) || ce.Conflicts[0].RecordID != 0 {
			t.Fatalf("unseen change: %v", err)
		}
		if _, err := trail.Revert(ctx, e.db, first, trail.RevertOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
		got := snapshot(t, e)
		if got["1"] == before["1"] || got["2"] == before["2"] {
			t.Errorf("forced revert did not apply: %v", got)
		}
		if _, err := trail.Revert(ctx, e.db, 987654321, trail.RevertOptions{}); !errors.Is(err, trail.ErrNoRecords) {
			t.Errorf("unknown tx: %v", err)
		}
	})
}
