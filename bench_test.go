package sqlaudit_test

import (
	"database/sql"
	"testing"
)

// BenchmarkSelectByKey compares a read through each audit driver with the
// same read through its plain driver: reads must pay nothing measurable.
// Compare the plain/audited pairs of one run (benchstat), not absolute times.
func BenchmarkSelectByKey(b *testing.B) {
	for _, drv := range auditDrivers {
		b.Run(drv, func(b *testing.B) {
			audited, td := mustOpen(b, drv)
			mustExec(b, audited, accountsDDL, `INSERT INTO accounts (id, region, balance) VALUES (1, 'eu', 10)`)
			q := `SELECT region, balance FROM accounts WHERE id = ` + ph(drv, 1)
			for _, v := range []struct {
				name string
				db   *sql.DB
			}{{"plain", td.plain}, {"audited", audited}} {
				b.Run(v.name, func(b *testing.B) {
					var region string
					var balance float64
					for b.Loop() {
						if err := v.db.QueryRow(q, 1).Scan(&region, &balance); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// BenchmarkUpdateOneRow is the audited write against the plain one; the
// full comparison with triggers and the naive sequence is issue 5's.
func BenchmarkUpdateOneRow(b *testing.B) {
	for _, drv := range auditDrivers {
		b.Run(drv, func(b *testing.B) {
			audited, td := mustOpen(b, drv)
			mustExec(b, audited, accountsDDL, `INSERT INTO accounts (id, region, balance) VALUES (1, 'eu', 10)`)
			q := `UPDATE accounts SET balance = balance + 1 WHERE id = ` + ph(drv, 1)
			for _, v := range []struct {
				name string
				db   *sql.DB
			}{{"plain", td.plain}, {"audited", audited}} {
				b.Run(v.name, func(b *testing.B) {
					for b.Loop() {
						if _, err := v.db.Exec(q, 1); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
