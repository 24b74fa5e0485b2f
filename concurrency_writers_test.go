package sqlaudit_test

// Concurrency, continued: the naive SELECT-then-UPDATE sequence against the
// one-statement rewrite, and many writers on hot rows replayed from the
// trail.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/sqlaudit/sqlaudit"
)

// ccChangedIDs are the rows that differ between two snapshots, ascending.
func ccChangedIDs(t testing.TB, before, after snapshot) []int {
	t.Helper()
	var recs []record
	for k, row := range before {
		if !reflect.DeepEqual(row, after[k]) {
			recs = append(recs, record{RowKey: row})
		}
	}
	for k, row := range after {
		if _, ok := before[k]; !ok {
			recs = append(recs, record{RowKey: row})
		}
	}
	return ccIDs(t, recs)
}

func TestNaiveSelectThenUpdateLosesRows(t *testing.T) {
	// T1 changes row 1 (so the application's SELECT … FOR UPDATE waits for
	// it) and moves row 10 into 'eu' (so the UPDATE, whose READ COMMITTED
	// snapshot is taken after T1 committed, changes a row the SELECT, whose
	// snapshot predates T1's commit, never returned).
	t1 := []string{`UPDATE accounts SET balance = 100 WHERE id = 1`, `UPDATE accounts SET region = 'eu' WHERE id = 10`}

	type appRun struct {
		read           []int // rows the SELECT … FOR UPDATE returned
		afterT1, final snapshot
		trail          []record
		affected       int64
		changed        []int // rows the UPDATE actually changed
	}
	// app is the application: BEGIN; SELECT … FOR UPDATE; UPDATE; COMMIT at
	// READ COMMITTED, through db, interleaved with T1 as above.
	app := func(t *testing.T, ctx context.Context, db *sql.DB, td *testDB) appRun {
		mustExec(t, td.plain, ccAccountsDDL, ccSeed)
		tx1, err := td.plain.BeginTx(ctx, ccReadCommitted)
		if err != nil {
			t.Fatal(err)
		}
		defer tx1.Rollback()
		for _, s := range t1 {
			if _, err := tx1.ExecContext(ctx, s); err != nil {
				t.Fatalf("T1: %s: %v", s, err)
			}
		}
		pid := ccBackendPID(t, ctx, tx1)

		actx := sqlaudit.WithActor(ctx, "app")
		tx, err := db.BeginTx(actx, ccReadCommitted)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		done := make(chan ccResult, 1)
		go func() {
			var r ccResult
			rows, err := tx.QueryContext(actx, `SELECT id FROM accounts WHERE region = 'eu' FOR UPDATE`)
			if err != nil {
				done <- ccResult{err: err}
				return
			}
			defer rows.Close()
			for rows.Next() {
				var id int
				if r.err = rows.Scan(&id); r.err != nil {
					break
				}
				r.keys = append(r.keys, id)
			}
			if r.err == nil {
				r.err = rows.Err()
			}
			done <- r
		}()
		ccAwaitBlocked(t, ctx, td.plain, pid, done)
		var run appRun
		run.afterT1 = ccSnap(t, ctx, tx1, "accounts")
		if err := tx1.Commit(); err != nil {
			t.Fatal(err)
		}
		r := ccAwait(t, ctx, done)
		if r.err != nil {
			t.Fatalf("SELECT … FOR UPDATE: %v", r.err)
		}
		run.read = r.keys
		sort.Ints(run.read)
		res, err := tx.ExecContext(actx, `UPDATE accounts SET balance = balance + 1 WHERE region = 'eu'`)
		if err != nil {
			t.Fatal(err)
		}
		if run.affected, err = res.RowsAffected(); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		run.final = ccSnap(t, ctx, td.plain, "accounts")
		run.trail = td.trail(t, "audit_log", 0)
		run.changed = ccChangedIDs(t, run.afterT1, run.final)
		return run
	}

	ccForEachPGDriver(t, func(t *testing.T, drv string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()

		// Naive auditing records the rows the SELECT returned.
		_, td := mustOpen(t, drv)
		naive := app(t, ctx, td.plain, td)
		audited := 0
		for _, id := range naive.read {
			if len(ccRange(id, id, naive.changed...)) == 0 { // id is in changed
				audited++
			}
		}
		if want := ccRange(1, 9); !reflect.DeepEqual(naive.read, want) {
			t.Fatalf("SELECT … FOR UPDATE read rows %v, want %v", naive.read, want)
		}
		if want := ccRange(1, 10); !reflect.DeepEqual(naive.changed, want) || naive.affected != 10 {
			t.Fatalf("the UPDATE changed rows %v (%d affected), want %v", naive.changed, naive.affected, want)
		}
		if audited == len(naive.changed) {
			t.Fatal("the naive sequence lost no row in this interleaving")
		}

		// sqlaudit records the rows the UPDATE changed, in the same
		// application code and interleaving.
		db, td := mustOpen(t, drv)
		got := app(t, ctx, db, td)
		if !reflect.DeepEqual(got.read, naive.read) || !reflect.DeepEqual(got.changed, naive.changed) {
			t.Fatalf("with sqlaudit the application read %v and changed %v; without, %v and %v", got.read, got.changed, naive.read, naive.changed)
		}
		assertTrail(t, got.trail, expected("accounts", got.afterT1, got.final))
		if final := replay(t, got.afterT1, got.trail, "id"); !reflect.DeepEqual(final, got.final) {
			t.Fatalf("replaying the trail gives\n%v\nwant\n%v", final, got.final)
		}
		if ids := ccIDs(t, got.trail); !reflect.DeepEqual(ids, got.changed) || int64(len(ids)) != got.affected {
			t.Fatalf("records for rows %v, the UPDATE changed %v (%d affected)", ids, got.changed, got.affected)
		}
		t.Logf("naive: %d of %d rows audited; sqlaudit: %d of %d", audited, len(naive.changed), len(got.trail), len(got.changed))
	})
}

// TestConcurrentWritersOnHotRows has four writers increment five hot rows
// through the audit driver, in autocommit statements and in explicit
// transactions (some rolled back), and proves the whole trail replays from
// the initial state to the final one, every record's old values being the
// replayed row.
//
// Replaying in id order is sound. id is allocated (nextval, not
// transactional, monotonic across sessions) when the record is inserted,
// which in the one-statement CTE is after the statement has locked and
// updated the row: the record's row comes out of the UPDATE's RETURNING.
// Two committed writers of the same row are serialised by its row lock: the
// second acquires it only after the first committed (or rolled back), so
// the second's nextval for that row happens after every nextval of the
// first. Hence, per row, id order is commit order, which is the order the
// images chain in; across rows the order does not matter, each record
// touching one row. Ids are not commit order globally (transactions on
// different rows interleave; rolled-back ones leave gaps), and neither is
// tx_id (xids are assigned at a transaction's first write, not at commit),
// so neither could be used for a global order; replay checks the per-row
// claim, failing on the first record whose old values differ from the
// replayed row.
func TestConcurrentWritersOnHotRows(t *testing.T) {
	ccForEachPGDriver(t, func(t *testing.T, drv string) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		db, td := mustOpen(t, drv)
		mustExec(t, td.plain, ccAccountsDDL, `INSERT INTO accounts SELECT g, 'hot', 0, NULL FROM generate_series(1, 5) g`)
		initial := ccSnap(t, ctx, td.plain, "accounts")

		const (
			writers    = 4
			statements = 50 // audited UPDATEs per writer
			hotRows    = 5
			update     = `UPDATE accounts SET balance = balance + 1 WHERE id = $1`
		)
		var (
			mu        sync.Mutex
			committed int // UPDATEs committed
			units     int // committed transactions, autocommit statements included
			rolled    int // UPDATEs rolled back
		)
		// A monitor counts the writers it finds waiting for a lock, to show
		// the writers do contend (every writer holds a lock on accounts, so
		// a waiting backend holding one is one of them).
		stop := make(chan struct{})
		waits := make(chan int, 1)
		go func() {
			seen := 0
			for {
				select {
				case <-stop:
					waits <- seen
					return
				default:
				}
				var n int
				if err := td.plain.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity a
					WHERE a.wait_event_type = 'Lock' AND EXISTS (
						SELECT FROM pg_locks l WHERE l.pid = a.pid AND l.relation = 'accounts'::regclass)`).Scan(&n); err == nil {
					seen += n
				}
			}
		}()
		start := time.Now()
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
				actx := sqlaudit.WithActor(ctx, fmt.Sprintf("writer-%d", w))
				exec := func(ex interface {
					ExecContext(context.Context, string, ...any) (sql.Result, error)
				}, id int) error {
					res, err := ex.ExecContext(actx, update, id)
					if err != nil {
						return err
					}
					if n, err := res.RowsAffected(); err != nil || n != 1 {
						return fmt.Errorf("row %d: %d rows affected (%v)", id, n, err)
					}
					return nil
				}
				var c, u, r int
				defer func() {
					mu.Lock()
					committed, units, rolled = committed+c, units+u, rolled+r
					mu.Unlock()
				}()
				for n := 0; n < statements; {
					p := rng.IntN(10)
					if p < 5 { // an autocommit statement
						if err := exec(db, 1+rng.IntN(hotRows)); err != nil {
							t.Errorf("writer %d: %v", w, err)
							return
						}
						n, c, u = n+1, c+1, u+1
						continue
					}
					// An explicit transaction of 1..3 UPDATEs, taking its
					// row locks in ascending order so writers cannot deadlock.
					ids := make([]int, 1+rng.IntN(3))
					for i := range ids {
						ids[i] = 1 + rng.IntN(hotRows)
					}
					sort.Ints(ids)
					tx, err := db.BeginTx(actx, ccReadCommitted)
					if err != nil {
						t.Errorf("writer %d: %v", w, err)
						return
					}
					for _, id := range ids {
						if err := exec(tx, id); err != nil {
							tx.Rollback()
							t.Errorf("writer %d: %v", w, err)
							return
						}
						// Let other writers queue on the locks this one holds.
						time.Sleep(time.Duration(rng.IntN(1000)) * time.Microsecond)
					}
					n += len(ids)
					if p < 8 {
						if err := tx.Commit(); err != nil {
							t.Errorf("writer %d: %v", w, err)
							return
						}
						c, u = c+len(ids), u+1
					} else {
						if err := tx.Rollback(); err != nil {
							t.Errorf("writer %d: %v", w, err)
							return
						}
						r += len(ids)
					}
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		close(stop)
		lockWaits := <-waits
		if t.Failed() {
			return
		}
		if lockWaits == 0 {
			t.Fatal("no writer was ever seen waiting for another's row lock: the test proves nothing")
		}

		final := ccSnap(t, ctx, td.plain, "accounts")
		trail := td.trail(t, "audit_log", 0)
		if len(trail) != committed {
			t.Fatalf("%d records for %d committed UPDATEs", len(trail), committed)
		}
		txs := map[int64]bool{}
		for _, r := range trail {
			txs[r.TxID] = true
			if r.Action != "UPDATE" || len(r.Old) != 1 || len(r.New) != 1 {
				t.Fatalf("record %d: %s old %v new %v, want an UPDATE of balance only", r.ID, r.Action, r.Old, r.New)
			}
			var o, n int
			fmt.Sscan(fmt.Sprint(r.Old["balance"]), &o)
			fmt.Sscan(fmt.Sprint(r.New["balance"]), &n)
			if n != o+1 {
				t.Fatalf("record %d: balance %v -> %v, want an increment", r.ID, r.Old["balance"], r.New["balance"])
			}
		}
		if len(txs) != units {
			t.Fatalf("records from %d transactions, %d committed", len(txs), units)
		}
		if got := replay(t, initial, trail, "id"); !reflect.DeepEqual(got, final) {
			t.Fatalf("replaying the trail in id order gives\n%v\nwant\n%v", got, final)
		}
		sum := 0
		for _, row := range final {
			var b int
			fmt.Sscan(fmt.Sprint(row["balance"]), &b)
			sum += b
		}
		if sum != committed {
			t.Fatalf("balances sum to %d after %d committed increments", sum, committed)
		}
		t.Logf("%d committed UPDATEs in %d transactions (%d rolled back) on %d hot rows in %v, %d lock waits sampled: %d records, trail replays exactly",
			committed, units, rolled, hotRows, elapsed.Round(time.Millisecond), lockWaits, len(trail))
	})
}

// Deadlocks and serialization failures reach the caller as the driver's own
// retryable errors (SQLSTATE 40P01 / 40001, reachable with errors.As), and
// the failed transaction leaves no records.
func TestDeadlocksAndSerializationFailuresReachTheCaller(t *testing.T) {
	for _, drv := range ccPGDrivers {
		t.Run(drv, func(t *testing.T) {
			db, td := mustOpen(t, drv)
			seedAccounts(t, db)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			since := td.maxID(t, "audit_log")
			a, _ := db.BeginTx(ctx, nil)
			b, _ := db.BeginTx(ctx, nil)
			mustTx := func(tx *sql.Tx, q string) {
				if _, err := tx.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			mustTx(a, `UPDATE accounts SET balance = 1 WHERE id = 1`)
			mustTx(b, `UPDATE accounts SET balance = 2 WHERE id = 2`)
			errs := make(chan error, 2)
			go func() { _, err := a.ExecContext(ctx, `UPDATE accounts SET balance = 1 WHERE id = 2`); errs <- err }()
			time.Sleep(200 * time.Millisecond)
			_, errB := b.ExecContext(ctx, `UPDATE accounts SET balance = 2 WHERE id = 1`)
			errA := <-errs
			loser, winner, err := b, a, errB
			if errA != nil {
				loser, winner, err = a, b, errA
			}
			if code := sqlState(err); code != "40P01" {
				t.Fatalf("want the driver's deadlock error 40P01, got %v", err)
			}
			loser.Rollback()
			if err := winner.Commit(); err != nil {
				t.Fatal(err)
			}
			// Only the winner's two UPDATEs are recorded, in one transaction.
			if recs := td.trail(t, "audit_log", since); len(recs) != 2 || recs[0].TxID != recs[1].TxID {
				t.Fatalf("want the winner's 2 records, got %+v", recs)
			}

			// A serialization failure under REPEATABLE READ.
			r1, _ := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
			var v int
			r1.QueryRowContext(ctx, `SELECT count(*) FROM accounts`).Scan(&v)
			mustExec(t, db, `UPDATE accounts SET note = 'moved on' WHERE id = 3`)
			_, err = r1.ExecContext(ctx, `UPDATE accounts SET note = 'stale' WHERE id = 3`)
			if code := sqlState(err); code != "40001" {
				t.Fatalf("want the driver's serialization failure 40001, got %v", err)
			}
			r1.Rollback()
		})
	}
}

// sqlState reads the SQLSTATE of lib/pq's and pgx's errors alike.
func sqlState(err error) string {
	var s interface{ SQLState() string }
	if errors.As(err, &s) {
		return s.SQLState()
	}
	return ""
}
