package sqlaudit_test

import (
	"context"
	"testing"

	"github.com/sqlaudit/sqlaudit"
)

// Connections that see the same table share one plan per statement: a pool
// of N connections does not rewrite each statement N times.
func TestConnectionsShareOnePlanPerStatement(t *testing.T) {
	for _, drv := range []string{"audit-pgx", "audit-postgres", "audit-mysql"} {
		t.Run(drv, func(t *testing.T) {
			audited, _ := mustOpen(t, drv)
			mustExec(t, audited, accountsDDL, `INSERT INTO accounts (id, region, balance) VALUES (1, 'eu', 10)`)
			ctx := context.Background()
			before, err := sqlaudit.PlansOf(audited)
			if err != nil {
				t.Fatal(err)
			}
			q := `UPDATE accounts SET balance = balance + 1 WHERE id = ` + ph(drv, 1)
			var conns []interface{ Close() error }
			for range 3 {
				c, err := audited.Conn(ctx) // three connections held at once: three sessions
				if err != nil {
					t.Fatal(err)
				}
				conns = append(conns, c)
				if _, err := c.ExecContext(ctx, q, 1); err != nil {
					t.Fatal(err)
				}
			}
			for _, c := range conns {
				c.Close()
			}
			after, err := sqlaudit.PlansOf(audited)
			if err != nil {
				t.Fatal(err)
			}
			if after-before != 1 {
				t.Fatalf("one UPDATE on three connections made %d plans, want 1", after-before)
			}
		})
	}
}
