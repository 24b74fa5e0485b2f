package sqlaudit_test

import (
	"context"
	"testing"

	"github.com/sqlaudit/sqlaudit"
)

// forEachDriver runs f as a subtest on every audit driver.
func forEachDriver(t *testing.T, f func(t *testing.T, drv string)) {
	for _, drv := range auditDrivers {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			f(t, drv)
		})
	}
}

// ph returns the n-th placeholder in the driver's style.
func ph(drv string, n int) string {
	if isSQLite(drv) {
		return "?"
	}
	return "$" + string(rune('0'+n))
}

const accountsDDL = `CREATE TABLE accounts (id integer PRIMARY KEY, region text NOT NULL, balance numeric, note text)`

func seedAccounts(t *testing.T, db interface {
	Exec(string, ...any) (any, error)
}) {
}

func TestWritesAreRecordedExactly(t *testing.T) {
	forEachDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		mustExec(t, db, accountsDDL)
		ctx := sqlaudit.WithActor(context.Background(), "alice")
		steps := []struct {
			name string
			q    string
			args []any
		}{
			{"multi-row insert", `INSERT INTO accounts (id, region, balance) VALUES (1, 'eu', 10), (2, 'eu', 20), (3, 'us', 30)`, nil},
			{"bulk update by predicate", `UPDATE accounts SET balance = balance - ` + ph(drv, 1) + ` WHERE region = ` + ph(drv, 2), []any{5, "eu"}},
			{"update that changes nothing", `UPDATE accounts SET balance = balance WHERE region = 'eu'`, nil},
			{"update to NULL", `UPDATE accounts SET note = NULL, balance = NULL WHERE id = 3`, nil},
			{"update from NULL", `UPDATE accounts SET note = 'x' WHERE id = 3`, nil},
			{"delete", `DELETE FROM accounts WHERE id = ` + ph(drv, 1), []any{2}},
			{"aliased update", `UPDATE accounts AS a SET region = 'apac' WHERE a.id = 1`, nil},
			{"update without WHERE", `UPDATE accounts SET note = 'all'`, nil},
			{"delete without WHERE", `DELETE FROM accounts`, nil},
		}
		for _, s := range steps {
			checkChange(t, td, "accounts", []string{"id"}, func() {
				if _, err := db.ExecContext(ctx, s.q, s.args...); err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
			})
		}
	})
}
