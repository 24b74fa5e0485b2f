package sqlaudit_test

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/sqlaudit/sqlaudit"
)

// Foreign-key actions under concurrent writers at READ COMMITTED. A child
// that a concurrent transaction inserts must lock its parent FOR KEY SHARE;
// the wrapper locks the rows that fire actions before the write takes its
// snapshot, so such a child is either seen and recorded, or the statement
// fails with ErrConflict (a row that came to match after the locking) and
// changes nothing.

var raceFamilyDDL = []string{
	`CREATE TABLE parents (id integer PRIMARY KEY, region text NOT NULL, note text)`,
	`CREATE TABLE kids (id integer PRIMARY KEY, parent_id integer REFERENCES parents ON DELETE CASCADE, name text)`,
	`CREATE TABLE toys (id integer PRIMARY KEY, kid_id integer REFERENCES kids ON DELETE SET NULL)`,
	`INSERT INTO parents VALUES (1, 'eu', NULL), (2, 'eu', NULL), (3, 'us', NULL)`,
	`INSERT INTO kids VALUES (10, 1, 'a'), (11, 2, 'b')`,
	`INSERT INTO toys VALUES (100, 10)`,
}

var raceFamily = []tableSpec{
	{"parents", "parents", []string{"id"}, nil},
	{"kids", "kids", []string{"id"}, nil},
	{"toys", "toys", []string{"id"}, nil},
}

// raceRun is one interleaving: others run their statements in open
// transactions; stmt starts and blocks on the first of them; each is then
// committed in turn, the statement proven blocked on the next one first.
type raceRun struct {
	before, final []snapshot
	err           error
	trail         []record
}

func runRace(t *testing.T, ctx context.Context, db *sql.DB, td *testDB, others [][]string, stmt string) raceRun {
	t.Helper()
	mustExec(t, td.plain, raceFamilyDDL...)
	var txs []*sql.Tx
	var pids []int
	for _, stmts := range others {
		tx, err := td.plain.BeginTx(ctx, ccReadCommitted)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		txs, pids = append(txs, tx), append(pids, ccBackendPID(t, ctx, tx))
	}
	done := make(chan ccResult, 1)
	go func() {
		_, err := db.ExecContext(sqlaudit.WithActor(ctx, "auditor"), stmt)
		done <- ccResult{err: err}
	}()
	var run raceRun
	for i, tx := range txs {
		ccAwaitBlocked(t, ctx, td.plain, pids[i], done)
		if i == len(txs)-1 {
			// The last transaction sees the state the statement resumes
			// from: everything committed, and its own changes.
			for _, s := range raceFamily {
				run.before = append(run.before, ccSnapKeyed(t, ctx, tx, s.sql, s.key))
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	run.err = ccAwait(t, ctx, done).err
	for _, s := range raceFamily {
		run.final = append(run.final, td.snap(t, s.sql, s.key...))
	}
	run.trail = td.trail(t, "audit_log", 0)
	return run
}

func TestForeignKeyActionsUnderConcurrentWriters(t *testing.T) {
	cases := []struct {
		name   string
		others [][]string // transactions open when the statement starts, committed in order
		stmt   string
		// conflict: the statement must fail with ErrConflict, change
		// nothing, and succeed when run again
		conflict bool
	}{
		{
			name:   "a child inserted by a transaction that commits while the delete waits is recorded",
			others: [][]string{{`INSERT INTO kids VALUES (12, 1, 'late')`}},
			stmt:   `DELETE FROM parents WHERE region = 'eu'`,
		},
		{
			name:   "a grandchild inserted while the delete waits is recorded",
			others: [][]string{{`INSERT INTO toys VALUES (101, 11)`}},
			stmt:   `DELETE FROM parents WHERE id = 2`,
		},
		{
			name:   "a child re-pointed to the parent while the update waits is recorded",
			others: [][]string{{`UPDATE kids SET parent_id = 1 WHERE id = 11`}},
			stmt:   `DELETE FROM parents WHERE id = 1`,
		},
		{
			name:   "a child changed while the delete waits is recorded with the values it had",
			others: [][]string{{`UPDATE kids SET name = 'changed' WHERE id = 10`, `UPDATE parents SET note = 'x' WHERE id = 1`}},
			stmt:   `DELETE FROM parents WHERE id = 1`,
		},
		{
			name: "a parent that comes to match after the locking, with a child committed meanwhile, fails with ErrConflict",
			others: [][]string{
				{`UPDATE parents SET note = 't1' WHERE id = 1`, `UPDATE parents SET region = 'eu' WHERE id = 3`},
				{`INSERT INTO kids VALUES (13, 3, 'unseen')`},
			},
			stmt: `DELETE FROM parents WHERE region = 'eu'`, conflict: true,
		},
	}
	ccForEachPGDriver(t, func(t *testing.T, drv string) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				db, td := mustOpen(t, drv)
				got := runRace(t, ctx, db, td, c.others, c.stmt)
				if c.conflict {
					if !errors.Is(got.err, sqlaudit.ErrConflict) {
						t.Fatalf("want ErrConflict, got %v", got.err)
					}
					if len(got.trail) != 0 || !reflect.DeepEqual(got.before, got.final) {
						t.Fatalf("the refused statement left %d records or changed rows", len(got.trail))
					}
					checkTables(t, td, raceFamily, func() { mustExec(t, db, c.stmt) })
					return
				}
				if got.err != nil {
					t.Fatalf("%s: %v", c.stmt, got.err)
				}
				// The trail is the exact difference from the state the
				// other transactions committed.
				var want []record
				for i, s := range raceFamily {
					var mine []record
					for _, r := range got.trail {
						if r.Table == s.name {
							mine = append(mine, r)
						}
					}
					if final := replay(t, got.before[i], mine, s.key...); !reflect.DeepEqual(final, got.final[i]) {
						t.Fatalf("%s: replaying the trail gives\n%v\nwant\n%v", s.name, final, got.final[i])
					}
					want = append(want, expected(s.name, got.before[i], got.final[i])...)
				}
				assertTrail(t, got.trail, want)
				// The same interleaving without sqlaudit ends the same.
				_, tdPlain := mustOpen(t, drv)
				plain := runRace(t, ctx, tdPlain.plain, tdPlain, c.others, c.stmt)
				if plain.err != nil || !reflect.DeepEqual(plain.final, got.final) {
					t.Fatalf("without sqlaudit (%v):\n%v\nwith it:\n%v", plain.err, plain.final, got.final)
				}
			})
		}
	})
}

// ccSnapKeyed is ccSnap for any key columns.
func ccSnapKeyed(t testing.TB, ctx context.Context, q ccQuerier, table string, key []string) snapshot {
	t.Helper()
	out := snapshot{}
	for _, row := range ccSnap(t, ctx, q, table) {
		out[keyOf(row, key)] = row
	}
	return out
}

// Under REPEATABLE READ both statements share the transaction's snapshot: a
// child committed after it is not seen, and the RI trigger that would
// delete it fails the statement with PostgreSQL's own serialization
// failure; the transaction leaves nothing.
func TestForeignKeyActionsAtRepeatableRead(t *testing.T) {
	ccForEachPGDriver(t, func(t *testing.T, drv string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db, td := mustOpen(t, drv)
		mustExec(t, td.plain, raceFamilyDDL...)
		other, err := td.plain.BeginTx(ctx, ccReadCommitted)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Rollback()
		if _, err := other.ExecContext(ctx, `INSERT INTO kids VALUES (12, 1, 'late')`); err != nil {
			t.Fatal(err)
		}
		done := make(chan ccResult, 1)
		go func() {
			tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
			if err == nil {
				defer tx.Rollback()
				_, err = tx.ExecContext(ctx, `DELETE FROM parents WHERE id = 1`)
			}
			done <- ccResult{err: err}
		}()
		ccAwaitBlocked(t, ctx, td.plain, ccBackendPID(t, ctx, other), done)
		if err := other.Commit(); err != nil {
			t.Fatal(err)
		}
		err = ccAwait(t, ctx, done).err
		var state interface{ SQLState() string }
		if !errors.As(err, &state) || state.SQLState() != "40001" {
			t.Fatalf("want PostgreSQL's serialization failure, got %v", err)
		}
		if n := len(td.trail(t, "audit_log", 0)); n != 0 {
			t.Fatalf("%d records", n)
		}
		checkTables(t, td, raceFamily, func() { mustExec(t, db, `DELETE FROM parents WHERE id = 1`) })
	})
}

// A descendant inserted under a tree row while the delete waits for it is
// found by the next locking round and recorded.
func TestTreeCascadeUnderAConcurrentInsert(t *testing.T) {
	ccForEachPGDriver(t, func(t *testing.T, drv string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db, td := mustOpen(t, drv)
		mustExec(t, td.plain, `CREATE TABLE tree (id integer PRIMARY KEY, up integer REFERENCES tree ON DELETE CASCADE)`,
			`INSERT INTO tree VALUES (1, NULL), (2, 1), (3, 2), (4, 3), (10, NULL)`)
		other, err := td.plain.BeginTx(ctx, ccReadCommitted)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Rollback()
		if _, err := other.ExecContext(ctx, `INSERT INTO tree VALUES (5, 4), (6, 5)`); err != nil {
			t.Fatal(err)
		}
		done := make(chan ccResult, 1)
		go func() {
			_, err := db.ExecContext(ctx, `DELETE FROM tree WHERE id = 1`)
			done <- ccResult{err: err}
		}()
		ccAwaitBlocked(t, ctx, td.plain, ccBackendPID(t, ctx, other), done)
		before := ccSnap(t, ctx, other, "tree") // what the delete resumes from
		if err := other.Commit(); err != nil {
			t.Fatal(err)
		}
		if r := ccAwait(t, ctx, done); r.err != nil {
			t.Fatal(r.err)
		}
		after := ccSnap(t, ctx, td.plain, "tree")
		recs := td.trail(t, "audit_log", 0)
		assertTrail(t, recs, expected("tree", before, after))
		if final := replay(t, before, recs, "id"); !reflect.DeepEqual(final, after) {
			t.Fatalf("replay gives %v, want %v", final, after)
		}
		if ids := ccIDs(t, recs); !reflect.DeepEqual(ids, []int{1, 2, 3, 4, 5, 6}) {
			t.Fatalf("records for %v", ids)
		}
	})
}
