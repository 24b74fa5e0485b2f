package sqlaudit_test

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sqlaudit/sqlaudit"
)

var loadDuration = flag.Duration("load-duration", 4*time.Second, "how long the load test runs per driver (the issue's long form: 60s)")

// Load and leaks: 16 goroutines on a pool of 8 connections write and read
// through the audit driver (loopback only, bounded in time). No goroutine
// or connection outlives the pool, the heap stays flat between the first
// and second half of the run, and nothing deadlocks (every call has a
// deadline).
func TestSustainedLoadLeaksNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	for _, drv := range auditDrivers {
		t.Run(drv, func(t *testing.T) {
			_, td := mustOpen(t, drv)
			mustExec(t, td.plain, `CREATE TABLE load_rows (id integer PRIMARY KEY, v integer NOT NULL)`)
			mustExec(t, td.plain, `INSERT INTO load_rows SELECT i, 0 FROM (SELECT 1 AS i`+seriesTail(100)+`) s`)
			ignore := goleak.IgnoreCurrent()
			db, err := sql.Open(drv, td.dsn)
			if err != nil {
				t.Fatal(err)
			}
			db.SetMaxOpenConns(8)
			ops, heap := runLoad(t, db, drv, *loadDuration)
			if st := db.Stats(); st.InUse != 0 || st.OpenConnections > 8 {
				t.Errorf("connections after the load: %+v", st)
			}
			db.Close()
			t.Logf("%s: %d operations in %v, heap in use %.1f MiB after the first half, %.1f MiB at the end",
				drv, ops, *loadDuration, float64(heap[0])/(1<<20), float64(heap[1])/(1<<20))
			if heap[1] > heap[0]*2+16<<20 {
				t.Errorf("the heap grew from %d to %d bytes", heap[0], heap[1])
			}
			goleak.VerifyNone(t, ignore)
		})
	}
}

// runLoad runs 16 goroutines until d has passed and returns the operations
// done and the heap in use at half time and at the end.
func runLoad(t *testing.T, db *sql.DB, drv string, d time.Duration) (int64, [2]uint64) {
	var ops atomic.Int64
	var heap [2]uint64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			ctx := sqlaudit.WithActor(context.Background(), fmt.Sprintf("load-%d", w))
			for i := 0; time.Now().Before(deadline); i++ {
				cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				err := loadOp(cctx, db, drv, w, i)
				cancel()
				if err != nil && !retryable(err) {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				ops.Add(1)
			}
		}(w)
	}
	time.Sleep(d / 2)
	heap[0] = heapInUse()
	wg.Wait()
	heap[1] = heapInUse()
	return ops.Load(), heap
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// loadOp is one operation: mostly single-row updates, some reads, some
// transactions.
func loadOp(ctx context.Context, db *sql.DB, drv string, w, i int) error {
	id := 1 + (w*31+i*7)%100
	switch i % 5 {
	case 0:
		var v int
		return db.QueryRowContext(ctx, `SELECT v FROM load_rows WHERE id = `+ph(drv, 1), id).Scan(&v)
	case 1:
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE load_rows SET v = v + 1 WHERE id = `+ph(drv, 1), id); err != nil {
			tx.Rollback()
			return err
		}
		return tx.Commit()
	default:
		_, err := db.ExecContext(ctx, `UPDATE load_rows SET v = v + 1 WHERE id = `+ph(drv, 1), id)
		return err
	}
}
