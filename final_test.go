package sqlaudit_test

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sqlaudit/sqlaudit"
)

// finalAll pages through Final from the start, limit positions a call,
// until it has at least want positions (a record may wait for other tests'
// transactions on a shared server to end before it is final) or 3 minutes
// have passed (the horizon is the server's: another client's transaction
// holds it back as well), and returns them.
func finalAll(t *testing.T, db *sql.DB, limit, want int) []sqlaudit.Position {
	t.Helper()
	ctx := context.Background()
	var all []sqlaudit.Position
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var after sqlaudit.Position
		if len(all) > 0 {
			after = all[len(all)-1]
		}
		ps, err := sqlaudit.Final(ctx, db, after, limit)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ps...)
		if len(ps) == limit {
			continue // not caught up yet: page on at once
		}
		if len(all) >= want || time.Now().After(deadline) {
			return all
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// trailIDs is the trail's record ids in the order Final must give them,
// computed from the table alone: by transaction on PostgreSQL, by id on
// SQLite, by occurred_at on MariaDB, then by id.
func trailIDs(t *testing.T, td *testDB) []int64 {
	t.Helper()
	order := "tx_id, id"
	switch {
	case isSQLite(td.driver):
		order = "id"
	case isMySQL(td.driver):
		order = "occurred_at, id"
	}
	rows, err := td.plain.Query("SELECT id FROM audit_log ORDER BY " + order)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

func ids(ps []sqlaudit.Position) []int64 {
	out := make([]int64, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

// TestFinalGivesEveryCommittedRecordOnceInHorizonOrder: paged with any
// limit, Final returns each committed record once, in strictly increasing
// Position order (the trail's order: a transaction's records together on
// PostgreSQL), never a record of a rolled-back transaction.
func TestFinalGivesEveryCommittedRecordOnceInHorizonOrder(t *testing.T) {
	forEachDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		seedAccounts(t, db)
		ctx := sqlaudit.WithActor(context.Background(), "alice")
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{`UPDATE accounts SET balance = balance + 1`, `DELETE FROM accounts WHERE id = 3`} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		rb, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rb.ExecContext(ctx, `UPDATE accounts SET balance = 0`); err != nil {
			t.Fatal(err)
		}
		if err := rb.Rollback(); err != nil {
			t.Fatal(err)
		}
		mustExec(t, db, `INSERT INTO accounts (id, region, balance) VALUES (4, 'us', 40)`)
		want := trailIDs(t, td)
		if len(want) != 8 {
			t.Fatalf("%d records in the trail, want 8 (3 inserts, 3 updates, 1 delete, 1 insert)", len(want))
		}
		for _, limit := range []int{1, 3, 1000} {
			ps := finalAll(t, db, limit, len(want))
			if got := ids(ps); !slices.Equal(got, want) {
				t.Fatalf("limit %d: Final gave %v, want %v", limit, got, want)
			}
			for i := 1; i < len(ps); i++ {
				if !ps[i-1].Before(ps[i]) {
					t.Fatalf("limit %d: position %d %+v not before %+v", limit, i-1, ps[i-1], ps[i])
				}
			}
		}
		if _, err := sqlaudit.Final(ctx, db, sqlaudit.Position{}, 0); err == nil || !strings.Contains(err.Error(), "limit") {
			t.Fatalf("Final with limit 0: %v, want an error naming the limit", err)
		}
	})
}

// TestFinalHoldsBackRecordsAfterARunningTransaction: on PostgreSQL and
// MariaDB a record is not final while a transaction older than it still
// runs (its records could still come before it); once that transaction
// commits, both are final, the older one's first. SQLite's write lock
// orders commits, so there every committed record is final at once.
func TestFinalHoldsBackRecordsAfterARunningTransaction(t *testing.T) {
	forEachDriver(t, func(t *testing.T, drv string) {
		if isSQLite(drv) {
			t.Skip("SQLite: one writer at a time, commits in record order")
		}
		db, td := mustOpen(t, drv)
		mustExec(t, db, accountsDDL)
		ctx := context.Background()
		// the first Final creates the horizon index, which waits for the
		// writing transactions: here, before there is one
		if _, err := sqlaudit.Final(ctx, db, sqlaudit.Position{}, 1); err != nil {
			t.Fatal(err)
		}
		early, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer early.Rollback()
		if _, err := early.ExecContext(ctx, `INSERT INTO accounts (id, region, balance) VALUES (1, 'eu', 1)`); err != nil {
			t.Fatal(err)
		}
		mustExec(t, db, `INSERT INTO accounts (id, region, balance) VALUES (2, 'eu', 2)`)
		var ontime int64
		if err := td.plain.QueryRow(`SELECT max(id) FROM audit_log`).Scan(&ontime); err != nil {
			t.Fatal(err)
		}
		// a new handle (a relay starting) finds the index and does not wait
		// for the running transaction (CREATE INDEX IF NOT EXISTS would)
		other, err := sql.Open(drv, td.dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		wctx, cancel := context.WithTimeout(ctx, time.Minute) // fail, not hang
		defer cancel()
		ps, err := sqlaudit.Final(wctx, other, sqlaudit.Position{}, 100)
		if err != nil {
			t.Fatalf("Final on a new handle while a writing transaction runs: %v", err)
		}
		if slices.Contains(ids(ps), ontime) {
			t.Fatalf("record %d was final while an older transaction still ran: %v", ontime, ps)
		}
		if err := early.Commit(); err != nil {
			t.Fatal(err)
		}
		want := trailIDs(t, td)
		if got := ids(finalAll(t, db, 100, len(want))); !slices.Equal(got, want) || len(want) != 2 || want[1] != ontime {
			t.Fatalf("after the commit Final gave %v, want %v (the early transaction's record first)", got, want)
		}
	})
}
