package sqlaudit_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/sqlaudit/sqlaudit"
)

// INSERT … ON CONFLICT DO UPDATE: each row is recorded as the INSERT or the
// UPDATE it was, an UPDATE with its true old values; rows the DO UPDATE
// WHERE skips, or that it leaves unchanged, get no record.
func TestUpsertRecordsInsertsAndUpdatesExactly(t *testing.T) {
	for _, drv := range []string{"audit-postgres", "audit-pgx"} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			db, td := mustOpen(t, drv)
			seedAccounts(t, db)
			for _, q := range []string{
				`INSERT INTO accounts (id, region, balance) VALUES (1, 'eu', 11), (4, 'us', 40) ON CONFLICT (id) DO UPDATE SET balance = excluded.balance`,
				`INSERT INTO accounts AS a (id, region, balance) VALUES (2, 'eu', 99), (3, 'us', 30) ON CONFLICT (id) DO UPDATE SET balance = excluded.balance WHERE a.region = 'eu'`,
				`INSERT INTO accounts (id, region) VALUES (1, 'eu') ON CONFLICT ON CONSTRAINT accounts_pkey DO UPDATE SET note = 'seen ' || excluded.region RETURNING id, note`,
				`INSERT INTO accounts (id, region, balance) SELECT id + 1, region, balance FROM accounts ON CONFLICT (id) DO UPDATE SET balance = accounts.balance + 1`,
			} {
				checkChange(t, td, "accounts", []string{"id"}, func() {
					rows, err := db.Query(q)
					if err != nil {
						t.Fatalf("%s: %v", q, err)
					}
					rows.Close()
				})
			}
		})
	}
}

// Under READ COMMITTED an upsert can update a row version its snapshot
// cannot see (inserted or changed by a transaction that committed while the
// upsert waited): its old values cannot be read exactly, so the statement
// fails with ErrConflict, changes nothing, and succeeds when run again.
func TestUpsertRacingAConcurrentWriteIsRefusedAndRetries(t *testing.T) {
	races := []struct{ name, other, upsert, marker string }{
		{"row inserted while the upsert waits", `INSERT INTO accounts (id, region, balance) VALUES (9, 'eu', 90)`,
			`INSERT INTO accounts (id, region, balance) VALUES (9, 'us', 1) ON CONFLICT (id) DO UPDATE SET balance = accounts.balance + 1`, `VALUES (9, 'us', 1)`},
		{"row updated while the upsert waits", `UPDATE accounts SET balance = 500 WHERE id = 1`,
			`INSERT INTO accounts (id, region, balance) VALUES (1, 'us', 1) ON CONFLICT (id) DO UPDATE SET balance = accounts.balance + 1`, `VALUES (1, 'us', 1)`},
	}
	for _, drv := range []string{"audit-postgres", "audit-pgx"} {
		for _, r := range races {
			t.Run(drv+"/"+r.name, func(t *testing.T) {
				t.Parallel()
				db, td := mustOpen(t, drv)
				seedAccounts(t, db)
				since := td.maxID(t, "audit_log")
				other, err := td.plain.Begin()
				if err != nil {
					t.Fatal(err)
				}
				defer other.Rollback()
				if _, err := other.Exec(r.other); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				done := make(chan error, 1)
				go func() { _, err := db.ExecContext(ctx, r.upsert); done <- err }()
				waitBlocked(t, td, r.marker)
				if err := other.Commit(); err != nil {
					t.Fatal(err)
				}
				if err := <-done; !errors.Is(err, sqlaudit.ErrConflict) {
					t.Fatalf("want ErrConflict, got %v", err)
				}
				if recs := td.trail(t, "audit_log", since); len(recs) != 0 {
					t.Fatalf("the refused upsert left %d records", len(recs))
				}
				recs := checkChange(t, td, "accounts", []string{"id"}, func() {
					if _, err := db.Exec(r.upsert); err != nil {
						t.Fatal(err)
					}
				})
				if len(recs) != 1 || recs[0].Action != "UPDATE" {
					t.Fatalf("the retry should record one UPDATE, got %+v", recs)
				}
			})
		}
	}
}

// waitBlocked waits until a backend whose statement contains marker waits
// on a lock (the statement runs rewritten: pick a marker the rewrite keeps).
func waitBlocked(t *testing.T, td *testDB, marker string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var n int
		if err := td.plain.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND strpos(query, $1) > 0`, marker).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
	}
	t.Fatal("the statement never waited on the lock")
}

// Under REPEATABLE READ a row another transaction deleted after the snapshot
// stays visible beside the row this transaction inserted with the same key.
// An upsert that then updates the inserted row reads its old values from the
// version it updated, not from the deleted one.
func TestUpsertSeesItsOwnRowBesideAConcurrentlyDeletedOne(t *testing.T) {
	for _, drv := range []string{"audit-postgres", "audit-pgx"} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			db, td := mustOpen(t, drv)
			seedAccounts(t, db)
			since := td.maxID(t, "audit_log")
			tx, err := db.BeginTx(context.Background(), &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			var n int
			if err := tx.QueryRow(`SELECT count(*) FROM accounts`).Scan(&n); err != nil { // takes the snapshot
				t.Fatal(err)
			}
			mustExec(t, td.plain, `DELETE FROM accounts WHERE id = 1`) // not audited: the trail starts after it
			before := td.snap(t, "accounts", "id")
			upsert := `INSERT INTO accounts (id, region, balance) VALUES (1, 'us', 5) ON CONFLICT (id) DO UPDATE SET balance = accounts.balance + 1`
			for i := 0; i < 2; i++ { // inserts row 1 again, then updates it
				if _, err := tx.Exec(upsert); err != nil {
					t.Fatalf("upsert %d: %v", i+1, err)
				}
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			recs := td.trail(t, "audit_log", since)
			if len(recs) != 2 || recs[0].Action != "INSERT" || recs[1].Action != "UPDATE" || fmt.Sprint(recs[1].Old["balance"]) != "5" {
				t.Fatalf("want the INSERT and the UPDATE from balance 5, got %+v", recs)
			}
			if after := td.snap(t, "accounts", "id"); !reflect.DeepEqual(replay(t, before, recs, "id"), after) {
				t.Fatalf("replaying the trail does not give the final state %v", after)
			}
		})
	}
}
