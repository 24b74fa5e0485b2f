package relay_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sqlaudit/sqlaudit"
	"github.com/sqlaudit/sqlaudit/internal/dbtest"
)

// TestLateCommitIsHeldBackNotSkipped: a record of a transaction that
// commits after a later-starting one is neither skipped nor overtaken:
// while it runs, nothing after it is final; once it commits, both come, in
// the trail's order. (SQLite's write lock makes the case impossible there.)
func TestLateCommitIsHeldBackNotSkipped(t *testing.T) {
	for _, driver := range []string{"audit-pgx", "audit-postgres", "audit-mysql"} {
		t.Run(driver, func(t *testing.T) {
			d := dbtest.Open(t, driver)
			ctx := context.Background()
			mustExec(t, d, ctx, "CREATE TABLE t (id INTEGER PRIMARY KEY)")
			base := finalIDs(t, d, nil)
			var prev int64
			for round := range 12 { // the case again and again: a stale horizon shows sooner or later
				early, err := d.Audit.BeginTx(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := early.Exec(fmt.Sprintf("INSERT INTO t VALUES (%d)", 2*round)); err != nil {
					t.Fatal(err)
				}
				mustExec(t, d, ctx, fmt.Sprintf("INSERT INTO t VALUES (%d)", 2*round+1))
				var late, ontime int64
				d.Plain.QueryRow("SELECT max(id) FROM audit_log").Scan(&ontime) // the early one's is not visible yet
				got := finalIDs(t, d, base)
				if slices.Contains(got, ontime) {
					t.Fatalf("round %d: record %d was final while an older transaction still ran: %v", round, ontime, got)
				}
				if err := early.Commit(); err != nil {
					t.Fatal(err)
				}
				d.Plain.QueryRow(fmt.Sprintf("SELECT max(id) FROM audit_log WHERE id < %d AND id > %d", ontime, prev)).Scan(&late)
				prev = ontime
				// the horizon is the server's: another client's transaction
				// (another test's, on a shared server) holds it back as well
				deadline := time.Now().Add(3 * time.Minute)
				for got = finalIDs(t, d, base); !slices.Contains(got, ontime) && time.Now().Before(deadline); got = finalIDs(t, d, base) {
					time.Sleep(20 * time.Millisecond)
				}
				i, j := slices.Index(got, late), slices.Index(got, ontime)
				if i < 0 || j < 0 || i > j {
					if driver == "audit-mysql" {
						rows, _ := d.Plain.Query("SELECT trx_started, trx_mysql_thread_id, trx_state, NOW(6) FROM information_schema.INNODB_TRX")
						for rows.Next() {
							var a, b, c, e string
							rows.Scan(&a, &b, &c, &e)
							t.Log("running:", a, b, c, e)
						}
						rows.Close()
					}
					t.Fatalf("round %d: final %v: want the early transaction's %d before %d", round, got, late, ontime)
				}
			}
		})
	}
}

// finalIDs is every final record id after base's, in Final's order.
func finalIDs(t *testing.T, d *dbtest.DB, base []int64) []int64 {
	t.Helper()
	ps, err := sqlaudit.Final(context.Background(), d.Audit, sqlaudit.Position{}, 100000)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, p := range ps {
		if !slices.Contains(base, p.ID) {
			ids = append(ids, p.ID)
		}
	}
	return ids
}
