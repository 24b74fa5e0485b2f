package sqlaudit_test

// Concurrency: property 1 of the core issue against a real PostgreSQL at
// READ COMMITTED. One record per row actually inserted, updated or deleted,
// with its true before and after images, also while other transactions
// write the same rows: a row that comes to match the WHERE clause while the
// statement waits on a lock is never changed without a record, and a
// blocked statement records the value it actually overwrote.

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/sqlaudit/sqlaudit"
	"github.com/sqlaudit/sqlaudit/internal/dbtest"
)

// ccPGDrivers are the audit drivers whose concurrency the tests prove; SQLite
// has no concurrent writers.
var ccPGDrivers = dbtest.Selection("audit-postgres", "audit-pgx")

func ccForEachPGDriver(t *testing.T, f func(t *testing.T, drv string)) {
	for _, drv := range ccPGDrivers {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			f(t, drv)
		})
	}
}

// The table of these tests: ten accounts, 1..9 in 'eu', 10 in 'us'.
const (
	ccAccountsDDL = `CREATE TABLE accounts (id integer PRIMARY KEY, region text NOT NULL, balance numeric, note text)`
	ccSeed        = `INSERT INTO accounts SELECT g, CASE WHEN g <= 9 THEN 'eu' ELSE 'us' END, g * 10, NULL FROM generate_series(1, 10) g`
)

var ccReadCommitted = &sql.TxOptions{Isolation: sql.LevelReadCommitted}

type ccQuerier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// ccSnap is td.snap through any querier, e.g. an open transaction that sees
// its own uncommitted changes; rows are keyed by id.
func ccSnap(t testing.TB, ctx context.Context, q ccQuerier, table string) snapshot {
	t.Helper()
	rows, err := q.QueryContext(ctx, `SELECT to_jsonb(x)::text FROM `+table+` x`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := snapshot{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		row := decodeJSON(t, s)
		out[keyOf(row, []string{"id"})] = row
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// ccBackendPID is the server process of the connection tx runs on.
func ccBackendPID(t testing.TB, ctx context.Context, tx *sql.Tx) int {
	t.Helper()
	var pid int
	if err := tx.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	return pid
}

type ccResult struct {
	n    int64 // rows affected, or rows read
	err  error
	keys []int // for a query: the ids it returned
}

// ccAwaitBlocked polls the server until some backend waits for a lock held
// by the backend blocker: proof, not a guess from sleeping, that the
// statement started in the background is blocked. It fails the test when
// the statement finishes first or ctx expires.
func ccAwaitBlocked(t testing.TB, ctx context.Context, db *sql.DB, blocker int, done <-chan ccResult) {
	t.Helper()
	for {
		var n int
		err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND $1::int = ANY(pg_blocking_pids(pid))`, blocker).Scan(&n)
		if err != nil {
			t.Fatalf("polling pg_stat_activity: %v", err)
		}
		if n > 0 {
			return
		}
		select {
		case r := <-done:
			t.Fatalf("the statement finished (n=%d, err=%v) without waiting for the lock held by backend %d", r.n, r.err, blocker)
		case <-ctx.Done():
			t.Fatalf("no backend waited for the locks of backend %d: %v", blocker, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func ccAwait(t testing.TB, ctx context.Context, done <-chan ccResult) ccResult {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-ctx.Done():
		t.Fatalf("the statement did not finish: %v", ctx.Err())
		return ccResult{}
	}
}

// ccBlockedRun is what one interleaving produced.
type ccBlockedRun struct {
	initial  snapshot // before T1
	afterT1  snapshot // T1's changes committed: what the statement overwrote
	final    snapshot
	trail    []record
	affected int64
}

// ccRunBlocked seeds td, lets a plain transaction T1 run t1 and hold its
// locks, starts stmt through db, proves it blocked on T1, commits T1 and
// waits for stmt (or rolls T1 back, when t1RollsBack). db may be the audited handle or td.plain (the same
// interleaving without sqlaudit, for comparison).
func ccRunBlocked(t *testing.T, ctx context.Context, db *sql.DB, td *testDB, t1 []string, t1RollsBack bool, stmt string) ccBlockedRun {
	t.Helper()
	mustExec(t, td.plain, ccAccountsDDL, ccSeed)
	var run ccBlockedRun
	run.initial = ccSnap(t, ctx, td.plain, "accounts")

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

	done := make(chan ccResult, 1)
	go func() {
		res, err := db.ExecContext(sqlaudit.WithActor(ctx, "auditor"), stmt)
		var n int64
		if err == nil {
			n, err = res.RowsAffected()
		}
		done <- ccResult{n: n, err: err}
	}()
	ccAwaitBlocked(t, ctx, td.plain, pid, done)

	if t1RollsBack {
		run.afterT1 = run.initial
		if err := tx1.Rollback(); err != nil {
			t.Fatal(err)
		}
	} else {
		// T1 sees its own changes: this is the committed state the
		// blocked statement resumes from.
		run.afterT1 = ccSnap(t, ctx, tx1, "accounts")
		if err := tx1.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	r := ccAwait(t, ctx, done)
	if r.err != nil {
		t.Fatalf("%s: %v", stmt, r.err)
	}
	run.affected = r.n
	run.final = ccSnap(t, ctx, td.plain, "accounts")
	run.trail = td.trail(t, "audit_log", 0)
	return run
}

// ccIDs are the ids of the rows the records are about, ascending.
func ccIDs(t testing.TB, recs []record) []int {
	t.Helper()
	var ids []int
	for _, r := range recs {
		var id int
		if _, err := fmt.Sscan(fmt.Sprint(r.RowKey["id"]), &id); err != nil {
			t.Fatalf("record %d: row key %v", r.ID, r.RowKey)
		}
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}

func ccRange(from, to int, except ...int) []int {
	var out []int
next:
	for i := from; i <= to; i++ {
		for _, e := range except {
			if i == e {
				continue next
			}
		}
		out = append(out, i)
	}
	return out
}

func TestBlockedUpdateRecordsTheValueItOverwrote(t *testing.T) {
	const (
		update = `UPDATE accounts SET balance = balance + 1 WHERE region = 'eu'`
		del    = `DELETE FROM accounts WHERE region = 'eu'`
	)
	// The rewritten UPDATE joins the target to its locked rows by primary
	// key, comparing the key of the row version in the statement's snapshot
	// with the key of the latest, locked version: a row whose key a
	// concurrent transaction changed matches no locked row and is skipped,
	// where PostgreSQL alone follows the update chain and changes it.
	const keyJoin = "a row whose primary key changed under the statement is not updated (PostgreSQL alone updates it)"
	cases := []struct {
		name string
		t1   []string // T1's statements; it holds their locks while stmt runs
		// T1 rolls back instead of committing
		t1RollsBack bool
		stmt        string
		// the rows the statement must change, and for some of them the
		// balance it must record as overwritten (T1's, not its snapshot's)
		want    []int
		wantOld map[int]string
		// knownDivergence, when set, says why the statement changes other
		// rows with sqlaudit than without it in this interleaving; the
		// trail must still be exact for the rows it did change.
		knownDivergence string
	}{
		{
			name: "a row that comes to match while the update waits is neither changed nor left without a record",
			t1:   []string{`UPDATE accounts SET balance = 100 WHERE id = 1`, `UPDATE accounts SET region = 'eu' WHERE id = 10`},
			stmt: update, want: ccRange(1, 9), wantOld: map[int]string{1: "100"},
		},
		{
			name: "a row that stops matching while the update waits is not changed",
			t1:   []string{`UPDATE accounts SET region = 'us' WHERE id = 5`},
			stmt: update, want: ccRange(1, 9, 5),
		},
		{
			name: "a value changed under the update is recorded as the value it overwrote",
			t1:   []string{`UPDATE accounts SET balance = 1000, note = 't1' WHERE id IN (2, 3)`},
			stmt: update, want: ccRange(1, 9), wantOld: map[int]string{2: "1000", 3: "1000", 4: "40"},
		},
		{
			name: "a row deleted while the update waits gets no record",
			t1:   []string{`DELETE FROM accounts WHERE id = 4`},
			stmt: update, want: ccRange(1, 9, 4),
		},
		{
			name: "a row inserted while the update waits is not changed and gets no record",
			t1:   []string{`INSERT INTO accounts VALUES (11, 'eu', 110, NULL)`, `UPDATE accounts SET balance = 0 WHERE id = 1`},
			stmt: update, want: ccRange(1, 9), wantOld: map[int]string{1: "0"},
		},
		{
			name: "rows that come to match and stop matching at once",
			t1:   []string{`UPDATE accounts SET region = CASE WHEN id = 10 THEN 'eu' ELSE 'us' END, balance = balance * 2 WHERE id IN (7, 10)`},
			stmt: update, want: ccRange(1, 9, 7),
		},
		{
			name: "a primary key changed while the update waits leaves the trail exact",
			t1:   []string{`UPDATE accounts SET id = 100 WHERE id = 6`},
			stmt: update, knownDivergence: keyJoin,
		},
		{
			name: "primary keys swapped while the update waits leave the trail exact",
			t1:   []string{`UPDATE accounts SET id = -2 WHERE id = 2`, `UPDATE accounts SET id = 2 WHERE id = 3`, `UPDATE accounts SET id = 3 WHERE id = -2`},
			stmt: update, knownDivergence: keyJoin,
		},
		{
			name: "a blocked update that moves rows out of its own predicate records the values it overwrote",
			t1:   []string{`UPDATE accounts SET balance = 7 WHERE id = 3`, `UPDATE accounts SET region = 'eu' WHERE id = 10`},
			stmt: `UPDATE accounts SET region = 'us', balance = balance * 2 WHERE region = 'eu'`,
			want: ccRange(1, 9), wantOld: map[int]string{3: "7"},
		},
		{
			name: "a blocked delete follows a primary key changed while it waits and records the row it deleted",
			t1:   []string{`UPDATE accounts SET id = 100 WHERE id = 6`},
			stmt: del, want: append(ccRange(1, 9, 6), 100),
		},
		{
			name: "a row changed by a transaction that rolls back is recorded with its committed value",
			t1:   []string{`UPDATE accounts SET balance = 1000 WHERE id = 2`, `UPDATE accounts SET region = 'eu' WHERE id = 10`}, t1RollsBack: true,
			stmt: update, want: ccRange(1, 9), wantOld: map[int]string{2: "20"},
		},
		{
			name: "an insert that waits on a conflicting insert records only the rows it inserted",
			t1:   []string{`INSERT INTO accounts VALUES (11, 'us', 999, 't1')`},
			stmt: `INSERT INTO accounts VALUES (11, 'eu', 110, NULL), (12, 'eu', 120, NULL) ON CONFLICT DO NOTHING`, want: []int{12},
		},
		{
			name: "an insert that waits on a conflicting insert rolled back records both rows",
			t1:   []string{`INSERT INTO accounts VALUES (11, 'us', 999, 't1')`}, t1RollsBack: true,
			stmt: `INSERT INTO accounts VALUES (11, 'eu', 110, NULL), (12, 'eu', 120, NULL) ON CONFLICT DO NOTHING`, want: []int{11, 12},
		},
		{
			name: "a blocked delete records the row it actually deleted",
			t1:   []string{`UPDATE accounts SET balance = 100, note = 't1' WHERE id = 1`, `UPDATE accounts SET region = 'eu' WHERE id = 10`},
			stmt: del, want: ccRange(1, 9), wantOld: map[int]string{1: "100"},
		},
		{
			name: "a row that stops matching while the delete waits is not deleted",
			t1:   []string{`UPDATE accounts SET region = 'us' WHERE id = 5`},
			stmt: del, want: ccRange(1, 9, 5),
		},
		{
			name: "a row deleted while the delete waits gets no record",
			t1:   []string{`DELETE FROM accounts WHERE id = 4`},
			stmt: del, want: ccRange(1, 9, 4),
		},
		{
			name: "a row inserted while the delete waits is not deleted",
			t1:   []string{`INSERT INTO accounts VALUES (11, 'eu', 110, NULL)`, `UPDATE accounts SET balance = 0 WHERE id = 1`},
			stmt: del, want: ccRange(1, 9), wantOld: map[int]string{1: "0"},
		},
	}
	ccForEachPGDriver(t, func(t *testing.T, drv string) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()

				db, td := mustOpen(t, drv)
				var iso string
				if err := db.QueryRowContext(ctx, `SHOW transaction_isolation`).Scan(&iso); err != nil || iso != "read committed" {
					t.Fatalf("isolation %q (%v), want read committed", iso, err)
				}
				got := ccRunBlocked(t, ctx, db, td, c.t1, c.t1RollsBack, c.stmt)

				// The snapshot before T1 is not what the statement overwrote.
				if !c.t1RollsBack && reflect.DeepEqual(got.initial, got.afterT1) {
					t.Fatal("T1 changed nothing")
				}
				// One record per row changed, each with the values the
				// statement actually overwrote (T1's) and wrote.
				assertTrail(t, got.trail, expected("accounts", got.afterT1, got.final))
				if final := replay(t, got.afterT1, got.trail, "id"); !reflect.DeepEqual(final, got.final) {
					t.Fatalf("replaying the trail from the state T1 committed gives\n%v\nwant\n%v", final, got.final)
				}
				if int64(len(got.trail)) != got.affected {
					t.Fatalf("%d records for %d rows affected", len(got.trail), got.affected)
				}
				for _, r := range got.trail {
					id := ccIDs(t, []record{r})[0]
					if want, ok := c.wantOld[id]; ok && fmt.Sprint(r.Old["balance"]) != want {
						t.Fatalf("row %d: recorded old balance %v, want %s (the value T1 committed)", id, r.Old["balance"], want)
					}
					if r.Actor == nil || *r.Actor != "auditor" {
						t.Fatalf("record %d: actor %v", r.ID, r.Actor)
					}
				}

				// The same interleaving without sqlaudit, in a second fresh
				// schema: sqlaudit changes exactly what the statement
				// changes without it.
				_, tdPlain := mustOpen(t, drv)
				plain := ccRunBlocked(t, ctx, tdPlain.plain, tdPlain, c.t1, c.t1RollsBack, c.stmt)
				same := plain.affected == got.affected && reflect.DeepEqual(plain.final, got.final)
				if c.knownDivergence != "" {
					if same {
						t.Logf("the known divergence (%s) no longer occurs: drop knownDivergence", c.knownDivergence)
					}
					t.Logf("known divergence: %s: without sqlaudit %d rows %v changed, with it %d rows %v; the trail is exact",
						c.knownDivergence, plain.affected, ccChangedIDs(t, plain.afterT1, plain.final), got.affected, ccIDs(t, got.trail))
					return
				}
				if !same {
					t.Fatalf("without sqlaudit the statement affects %d rows, leaving\n%v\nwith it %d rows, leaving\n%v",
						plain.affected, plain.final, got.affected, got.final)
				}
				if ids := ccIDs(t, got.trail); !reflect.DeepEqual(ids, c.want) {
					t.Fatalf("records for rows %v, want %v", ids, c.want)
				}
			})
		}
	})
}
