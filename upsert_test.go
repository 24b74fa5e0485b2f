package sqlaudit_test

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"testing"
	"time"
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
// upsert waited). It is recorded exactly all the same: the old values are
// read from the version the update replaced, after it was locked.
func TestUpsertRacingAConcurrentWriteIsRecordedExactly(t *testing.T) {
	races := []struct{ name, other, upsert, old string }{
		{"row inserted while the upsert waits", `INSERT INTO accounts (id, region, balance) VALUES (9, 'eu', 90)`,
			`INSERT INTO accounts (id, region, balance) VALUES (9, 'us', 1) ON CONFLICT (id) DO UPDATE SET balance = accounts.balance + 1`, "90"},
		{"row updated while the upsert waits", `UPDATE accounts SET balance = 500 WHERE id = 1`,
			`INSERT INTO accounts (id, region, balance) VALUES (1, 'us', 1) ON CONFLICT (id) DO UPDATE SET balance = accounts.balance + 1`, "500"},
	}
	for _, drv := range pgDrivers {
		for _, r := range races {
			t.Run(drv+"/"+r.name, func(t *testing.T) {
				t.Parallel()
				db, td := mustOpen(t, drv)
				seedAccounts(t, db)
				since := td.maxID(t, "audit_log")
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				other, err := td.plain.BeginTx(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer other.Rollback()
				if _, err := other.Exec(r.other); err != nil {
					t.Fatal(err)
				}
				done := make(chan ccResult, 1)
				go func() { _, err := db.ExecContext(ctx, r.upsert); done <- ccResult{err: err} }()
				ccAwaitBlocked(t, ctx, td.plain, ccBackendPID(t, ctx, other), done)
				if err := other.Commit(); err != nil {
					t.Fatal(err)
				}
				if res := <-done; res.err != nil {
					t.Fatalf("the upsert that waited: %v", res.err)
				}
				recs := td.trail(t, "audit_log", since)
				if len(recs) != 1 || recs[0].Action != "UPDATE" || fmt.Sprint(recs[0].Old["balance"]) != r.old {
					t.Fatalf("want one UPDATE from the committed balance %s, got %v", r.old, recs)
				}
			})
		}
	}
}

// Inside a savepoint, an upsert of a row its transaction already locked or
// wrote (an earlier upsert, an UPDATE, SELECT … FOR UPDATE, a child row whose
// foreign key locked it) is recorded like any other: nothing is concurrent
// (issue 14, item 16: these failed with ErrConflict every time).
func TestUpsertInASavepointOfARowTheTransactionTouched(t *testing.T) {
	touches := []string{
		`INSERT INTO accounts (id, region, balance) VALUES (1, 'eu', 7) ON CONFLICT (id) DO UPDATE SET balance = excluded.balance`,
		`UPDATE accounts SET balance = 7 WHERE id = 1`,
		`SELECT * FROM accounts WHERE id = 1 FOR UPDATE`,
		`SELECT * FROM accounts WHERE id = 1 FOR KEY SHARE`,
		`INSERT INTO kids (id, account_id) VALUES (1, 1)`,
	}
	forEachPGDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		seedAccounts(t, db)
		mustExec(t, db, `CREATE TABLE kids (id int PRIMARY KEY, account_id int REFERENCES accounts)`)
		for _, touch := range touches {
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			before := td.snap(t, "accounts", "id")
			since := td.maxID(t, "audit_log")
			for _, q := range []string{touch, `SAVEPOINT item`,
				`INSERT INTO accounts (id, region, balance) VALUES (1, 'eu', 8) ON CONFLICT (id) DO UPDATE SET balance = accounts.balance + 1`,
				`RELEASE SAVEPOINT item`} {
				if _, err := tx.Exec(q); err != nil {
					t.Fatalf("after %s: %s: %v", touch, q, err)
				}
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			var accounts []record
			for _, r := range td.trail(t, "audit_log", since) {
				if r.Table == "accounts" {
					accounts = append(accounts, r)
				}
			}
			if after := td.snap(t, "accounts", "id"); !reflect.DeepEqual(replay(t, before, accounts, "id"), after) {
				t.Fatalf("after %s: replaying %v does not give %v", touch, accounts, after)
			}
			mustExec(t, td.plain, `DELETE FROM kids`)
		}
	})
}

// An upsert into a partitioned table is recorded too (issue 14, item 17:
// it failed with PostgreSQL's "cannot retrieve a system column").
func TestUpsertIntoAPartitionedTable(t *testing.T) {
	forEachPGDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		mustExec(t, db, `CREATE TABLE pt (id int, region text, balance int, PRIMARY KEY (id, region)) PARTITION BY LIST (region)`,
			`CREATE TABLE pt_eu PARTITION OF pt FOR VALUES IN ('eu')`, `CREATE TABLE pt_us PARTITION OF pt FOR VALUES IN ('us')`,
			`INSERT INTO pt VALUES (1, 'eu', 10)`)
		checkChange(t, td, "pt", []string{"id", "region"}, func() {
			mustExec(t, db, `INSERT INTO pt VALUES (1, 'eu', 1), (2, 'us', 2) ON CONFLICT (id, region) DO UPDATE SET balance = pt.balance + excluded.balance`)
		})
	})
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
