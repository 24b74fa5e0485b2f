package sqlaudit_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sqlaudit/sqlaudit"
)

// The same unqualified name can mean different tables in different
// sessions or after SET search_path: the write goes where the session's
// resolution sends it, and the record names that table.
func TestTableNamesResolveAsTheSessionResolvesThem(t *testing.T) {
	for _, drv := range []string{"audit-postgres", "audit-pgx"} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			db, td := mustOpen(t, drv)
			s1, s2 := "sp1_"+td.schema(), "sp2_"+td.schema()
			for _, s := range []string{s1, s2} {
				mustExec(t, td.plain, `CREATE SCHEMA `+s, `CREATE TABLE `+s+`.accounts (id int PRIMARY KEY, v text)`, `INSERT INTO `+s+`.accounts VALUES (1, '`+s+`')`)
				t.Cleanup(func() { td.plain.Exec(`DROP SCHEMA ` + s + ` CASCADE`) })
			}
			ctx := context.Background()
			c, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			since := td.maxID(t, "audit_log")
			for _, q := range []string{`SET search_path TO ` + s1 + `, ` + td.schema(), `UPDATE accounts SET v = v || '+' WHERE id = 1`,
				`SET search_path TO ` + s2 + `, ` + td.schema(), `UPDATE accounts SET v = v || '+' WHERE id = 1`,
				// set_config() in a SELECT is not seen by the wrapper: the statement checks the name still resolves.
				`SELECT set_config('search_path', '` + s1 + `, ` + td.schema() + `', false)`} {
				if _, err := c.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			// The statement finds the name resolving elsewhere, changes nothing,
			// and runs again at once with the catalog read anew.
			if _, err := c.ExecContext(ctx, `UPDATE accounts SET v = v || '!' WHERE id = 1`); err != nil {
				t.Fatalf("after set_config: %v", err)
			}
			// Inside a transaction the changed resolution fails it, nothing changed.
			if _, err := c.ExecContext(ctx, `SELECT set_config('search_path', '`+s2+`, `+td.schema()+`', false)`); err != nil {
				t.Fatal(err)
			}
			tx, err := c.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = tx.ExecContext(ctx, `UPDATE accounts SET v = v || '?' WHERE id = 1`)
			tx.Rollback()
			if !errors.Is(err, sqlaudit.ErrConflict) {
				t.Fatalf("after set_config, in a transaction: want ErrConflict, got %v", err)
			}
			var v1, v2 string
			td.plain.QueryRow(`SELECT v FROM ` + s1 + `.accounts`).Scan(&v1)
			td.plain.QueryRow(`SELECT v FROM ` + s2 + `.accounts`).Scan(&v2)
			if v1 != s1+"+!" || v2 != s2+"+" {
				t.Fatalf("values %q, %q: a write went to the wrong schema", v1, v2)
			}
			recs := td.trail(t, "audit_log", since)
			if len(recs) != 3 || recs[0].Table != s1+".accounts" || recs[1].Table != s2+".accounts" || recs[2].Table != s1+".accounts" {
				t.Fatalf("records name the wrong tables: %+v", recs)
			}
		})
	}
}

// Excluding one table never lets a statement that also writes others through.
func TestExcludedTableOpensNoWayAround(t *testing.T) {
	forEachDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv, "audit_exclude=sessions")
		seedAccounts(t, db)
		mustExec(t, db, `CREATE TABLE sessions (id integer PRIMARY KEY)`)
		if isSQLite(drv) {
			return // SQLite runs multi-statement strings one by one, each audited (sqlite_test.go)
		}
		cases := []string{`DELETE FROM sessions WHERE id = 20; DELETE FROM accounts`, `SELECT 1; DELETE FROM accounts`,
			`WITH d AS (DELETE FROM accounts RETURNING id) INSERT INTO sessions SELECT id FROM d`, `TRUNCATE sessions CASCADE`}
		if isMySQL(drv) { // multi-table DELETE is audited there (TestMySQLMultiTableWritesAreRecordedExactly)
			cases = cases[:2]
		}
		for _, q := range cases {
			if _, err := db.Exec(q); !errors.Is(err, sqlaudit.ErrUnsupported) {
				t.Errorf("%s: want ErrUnsupported, got %v", q, err)
			}
		}
		if n := len(td.snap(t, "accounts", "id")); n != 3 {
			t.Fatalf("accounts has %d rows left", n)
		}
	})
}

// The actor and metadata travel as extra parameters after the caller's: a
// statement whose arguments do not match its placeholders is refused
// rather than bound off by one, and pgx's NamedArgs (which make pgx rewrite
// the statement) are refused.
func TestArgumentsMustMatchPlaceholders(t *testing.T) {
	for _, drv := range []string{"audit-postgres", "audit-pgx"} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			db, _ := mustOpen(t, drv)
			seedAccounts(t, db)
			ctx := sqlaudit.WithActor(context.Background(), "alice")
			if _, err := db.ExecContext(ctx, `UPDATE accounts SET note = $2 WHERE id = $1`, 1); !errors.Is(err, sqlaudit.ErrUnsupported) {
				t.Errorf("too few arguments: want ErrUnsupported, got %v", err)
			}
			if _, err := db.ExecContext(ctx, `UPDATE accounts SET note = $1 WHERE id = 1`, "a", "b"); !errors.Is(err, sqlaudit.ErrUnsupported) {
				t.Errorf("too many arguments: want ErrUnsupported, got %v", err)
			}
			if drv == "audit-pgx" {
				_, err := db.ExecContext(ctx, `UPDATE accounts SET note = @n WHERE id = @id`, pgx.NamedArgs{"n": "x", "id": 1})
				if !errors.Is(err, sqlaudit.ErrUnsupported) {
					t.Errorf("pgx.NamedArgs: want ErrUnsupported, got %v", err)
				}
			}
		})
	}
}
