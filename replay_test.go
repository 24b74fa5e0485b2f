package sqlaudit_test

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sqlaudit/sqlaudit"
)

var replayOps = flag.Int("replay-ops", 10000, "operations of the concurrent replay test (all workers together)")

// Replay equivalence under concurrency: K workers run random INSERTs,
// UPDATEs and DELETEs — single rows, ranges, hot rows several workers fight
// over, transactions that commit and that roll back — through the audit
// driver. Afterwards, replaying the trail in id order from the initial
// snapshot must give the final table exactly, and every UPDATE and DELETE
// record's old values must equal the replayed row just before it (replay
// checks that). Per row, id order is commit order: a writer allocates its
// record ids after it has the row lock, which it keeps to commit.
func TestReplayOfConcurrentRandomWritesRebuildsTheTable(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	cases := []struct{ drv, isolation string }{
		{"audit-pgx", "READ COMMITTED"}, {"audit-postgres", "READ COMMITTED"},
		{"audit-pgx", "REPEATABLE READ"}, {"audit-postgres", "REPEATABLE READ"}, {"audit-sqlite3", ""},
		{"audit-mysql", "REPEATABLE READ"}, {"audit-mysql", "READ COMMITTED"},
	}
	for _, c := range cases {
		t.Run(c.drv+"/"+c.isolation, func(t *testing.T) {
			params := []string{}
			if isSQLite(c.drv) {
				params = append(params, "_txlock=immediate", "_journal_mode=WAL")
			}
			if isMySQL(c.drv) && c.isolation == "READ COMMITTED" { // the session default, for autocommit statements too
				params = append(params, "tx_isolation=%27READ-COMMITTED%27")
			}
			db, td := mustOpen(t, c.drv, params...)
			db.SetMaxOpenConns(6)
			mustExec(t, db, `CREATE TABLE acc (id integer PRIMARY KEY, grp integer NOT NULL, v integer NOT NULL, note text)`)
			mustExec(t, td.plain, `INSERT INTO acc SELECT i, i % 10, 0, NULL FROM (SELECT 1 AS i`+seriesTail(200)+`) s`)
			if isMySQL(c.drv) {
				mustExec(t, db, mysqlReplayDDL)
			}
			before := td.snap(t, "acc", "id")
			since := td.maxID(t, "audit_log")
			stats := runRandomWriters(t, db, c.drv, c.isolation, 4, *replayOps/4, false)
			after := td.snap(t, "acc", "id")
			recs := td.trail(t, "audit_log", since)
			final := replay(t, before, recs, "id")
			lost, extra, inexact := compareSnaps(final, after)
			t.Logf("%s %s: operations %d (committed %d, rolled back %d, failed %d), records %d, lost %d, extra %d, inexact %d",
				c.drv, c.isolation, stats.ops.Load(), stats.committed.Load(), stats.rolledBack.Load(), stats.failed.Load(), len(recs), lost, extra, inexact)
			if lost+extra+inexact != 0 {
				t.Fatalf("the trail does not rebuild the table: lost %d, extra %d, inexact %d", lost, extra, inexact)
			}
		})
	}
}

// seriesTail builds " UNION ALL SELECT 2 … n" (portable to SQLite).
func seriesTail(n int) string {
	s := ""
	for i := 2; i <= n; i++ {
		s += fmt.Sprintf(" UNION ALL SELECT %d", i)
	}
	return s
}

// compareSnaps counts rows missing from got, rows only in got, and rows
// whose values differ.
func compareSnaps(got, want snapshot) (lost, extra, inexact int) {
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			lost++
		case !reflect.DeepEqual(g, w):
			inexact++
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			extra++
		}
	}
	return lost, extra, inexact
}

type writerStats struct{ ops, committed, rolledBack, failed atomic.Int64 }

// runRandomWriters runs workers × perWorker random operations; failures the
// database reports for concurrency (deadlock, serialization, busy) count as
// failed operations, anything else fails the test unless tolerant (when
// connections die under the workers).
func runRandomWriters(t *testing.T, db *sql.DB, drv, isolation string, workers, perWorker int, tolerant bool) *writerStats {
	stats := &writerStats{}
	var nextID atomic.Int64
	nextID.Store(10000)
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			actor := sqlaudit.WithActor(ctx, fmt.Sprintf("worker-%d", w))
			for i := 0; i < perWorker && ctx.Err() == nil; {
				n := 1 + rng.IntN(3)
				err := randomTx(actor, db, drv, isolation, rng, &nextID, n, stats)
				i += n
				stats.ops.Add(int64(n))
				if err != nil && !tolerant && !retryable(err) {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				if err != nil {
					stats.failed.Add(1)
				}
			}
		}(w)
	}
	wg.Wait()
	return stats
}

// randomTx runs n random statements: alone in autocommit, or together in a
// transaction that commits or (one in five) rolls back.
func randomTx(ctx context.Context, db *sql.DB, drv, isolation string, rng *rand.Rand, nextID *atomic.Int64, n int, stats *writerStats) error {
	if n == 1 {
		_, err := db.ExecContext(ctx, randomStatement(drv, rng, nextID))
		if err == nil {
			stats.committed.Add(1)
		}
		return err
	}
	opts := &sql.TxOptions{}
	if isolation == "REPEATABLE READ" {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		stmts := []string{randomStatement(drv, rng, nextID)}
		if rng.IntN(4) == 0 { // a savepoint around it, kept or rolled back (nested ORM transactions)
			end := "RELEASE SAVEPOINT item"
			if rng.IntN(3) == 0 {
				end = "ROLLBACK TO SAVEPOINT item"
			}
			stmts = []string{"SAVEPOINT item", stmts[0], end}
		}
		for _, q := range stmts {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				tx.Rollback()
				return err
			}
		}
	}
	if rng.IntN(5) == 0 {
		stats.rolledBack.Add(1)
		return tx.Rollback()
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	stats.committed.Add(1)
	return nil
}

// randomStatement picks a write: hot rows 1–5 half the time.
func randomStatement(drv string, rng *rand.Rand, nextID *atomic.Int64) string {
	id := 1 + rng.IntN(200)
	if rng.IntN(2) == 0 {
		id = 1 + rng.IntN(5)
	}
	switch rng.IntN(10) {
	case 0, 1:
		return fmt.Sprintf(`INSERT INTO acc (id, grp, v) VALUES (%d, %d, %d)`, nextID.Add(1), rng.IntN(10), rng.IntN(100))
	case 2:
		return fmt.Sprintf(`DELETE FROM acc WHERE id = %d`, id)
	case 3:
		return fmt.Sprintf(`UPDATE acc SET v = v + 1, note = 'range' WHERE grp = %d AND id BETWEEN %d AND %d`, rng.IntN(10), id, id+20)
	case 4:
		return fmt.Sprintf(`UPDATE acc SET grp = %d WHERE id = %d`, rng.IntN(10), id) // rows move in and out of predicates
	case 5: // an upsert of a hot row that may have been deleted: inserted or updated
		if isMySQL(drv) {
			return mysqlRandomUpsert(rng, id)
		}
		upsert := `INSERT INTO acc (id, grp, v) VALUES (%d, %d, %d) ON CONFLICT (id) DO UPDATE SET v = acc.v + excluded.v`
		if isMySQL(drv) {
			upsert = `INSERT INTO acc (id, grp, v) VALUES (%d, %d, %d) ON DUPLICATE KEY UPDATE v = v + VALUES(v)`
		}
		return fmt.Sprintf(upsert, id, rng.IntN(10), 1+rng.IntN(3))
	default:
		if isMySQL(drv) && rng.IntN(3) == 0 {
			return mysqlRandomFloatUpdate(rng, id)
		}
		return fmt.Sprintf(`UPDATE acc SET v = v + %d WHERE id = %d`, 1+rng.IntN(3), id)
	}
}

// retryable reports the errors concurrency causes by design: deadlock,
// serialization failure, SQLite busy, and the wrapper's own ErrConflict.
func retryable(err error) bool {
	if errors.Is(err, sqlaudit.ErrConflict) {
		return true
	}
	for _, s := range []string{"40001", "40P01", "deadlock", "could not serialize", "database is locked", "busy", "lock wait timeout"} {
		if strings.Contains(strings.ToLower(err.Error()), strings.ToLower(s)) {
			return true
		}
	}
	return false
}

// Faults: backends are killed (pg_terminate_backend) at random moments —
// before, during and after statements, record writes and COMMITs — while
// the workers write. A killed statement's outcome may be unknown to its
// caller, but never splits a change from its records: the trail still
// rebuilds the table exactly.
func TestKilledBackendsNeverSplitChangesFromRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	for _, drv := range []string{"audit-pgx", "audit-postgres", "audit-mysql"} {
		t.Run(drv, func(t *testing.T) {
			// The killer finds the pool's backends by application_name, so
			// that it never reaches another test run's connections.
			app, params := fmt.Sprintf("sqa_killed_%d", os.Getpid()), []string(nil)
			if !isMySQL(drv) {
				params = append(params, "application_name="+app)
			}
			db, td := mustOpen(t, drv, params...)
			db.SetMaxOpenConns(4)
			mustExec(t, db, `CREATE TABLE acc (id integer PRIMARY KEY, grp integer NOT NULL, v integer NOT NULL, note text)`)
			mustExec(t, td.plain, `INSERT INTO acc SELECT i, i % 10, 0, NULL FROM (SELECT 1 AS i`+seriesTail(200)+`) s`)
			before := td.snap(t, "acc", "id")
			since := td.maxID(t, "audit_log")
			var kills atomic.Int64
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() { // the killer: a backend of this test's audited pool, every few ms
				defer close(done)
				rng := rand.New(rand.NewPCG(7, 7))
				for {
					select {
					case <-stop:
						return
					case <-time.After(time.Duration(1+rng.IntN(8)) * time.Millisecond):
					}
					kills.Add(killOne(td, app))
				}
			}()
			stats := runRandomWriters(t, db, drv, "", 4, 1500, true)
			close(stop)
			<-done
			waitIdle(t, td, "acc")
			after := td.snap(t, "acc", "id")
			recs := td.trail(t, "audit_log", since)
			lost, extra, inexact := compareSnaps(replay(t, before, recs, "id"), after)
			t.Logf("%s: %d backends killed, operations %d (failed %d), records %d, lost %d, extra %d, inexact %d",
				drv, kills.Load(), stats.ops.Load(), stats.failed.Load(), len(recs), lost, extra, inexact)
			if kills.Load() < 200 {
				t.Errorf("only %d backends were killed; want at least 200 trials", kills.Load())
			}
			if lost+extra+inexact != 0 {
				t.Fatalf("a killed backend split a change from its records: lost %d, extra %d, inexact %d", lost, extra, inexact)
			}
		})
	}
}

// killOne kills one connection of the test's audited pool (on PostgreSQL
// the backends named app; on MariaDB those on the test's own database), and
// reports whether it found one.
func killOne(td *testDB, app string) int64 {
	var n int64
	if !isMySQL(td.driver) {
		td.plain.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM (SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = $1
			ORDER BY random() LIMIT 1) p`, app).Scan(&n)
		return n
	}
	var id int64
	err := td.plain.QueryRow(`SELECT ID FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND ID <> CONNECTION_ID()
		AND COMMAND IN ('Query', 'Execute', 'Sleep') ORDER BY RAND() LIMIT 1`).Scan(&id)
	if err != nil {
		return 0
	}
	if _, err := td.plain.Exec(fmt.Sprintf("KILL CONNECTION %d", id)); err != nil {
		return 0
	}
	return 1
}
