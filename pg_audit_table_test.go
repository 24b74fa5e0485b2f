package sqlaudit_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/sqlaudit/sqlaudit"
)

// Records go to the one audit table the database's first connection found,
// whatever a later session's search_path says: a tenant schema with its own
// audit_log does not receive them, and a search_path without the audit
// table's schema does not break writes (issue 14, item 10).
func TestPostgreSQLRecordsGoToOneAuditTableWhateverTheSearchPath(t *testing.T) {
	for _, drv := range pgDrivers {
		t.Run(drv, func(t *testing.T) {
			db, td := mustOpen(t, drv)
			seedAccounts(t, db)
			tenant := td.schema() + "_tenant"
			mustExec(t, td.plain, `CREATE SCHEMA `+tenant, `CREATE TABLE `+tenant+`.audit_log (LIKE `+td.schema()+`.audit_log INCLUDING ALL)`,
				`CREATE TABLE `+tenant+`.accounts (LIKE `+td.schema()+`.accounts INCLUDING ALL)`,
				`INSERT INTO `+tenant+`.accounts SELECT * FROM `+td.schema()+`.accounts`)
			t.Cleanup(func() { td.plain.Exec(`DROP SCHEMA ` + tenant + ` CASCADE`) })
			ctx := context.Background()
			conn, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			before := td.maxID(t, "audit_log")
			for _, path := range []string{tenant + ", " + td.schema(), tenant} {
				if _, err := conn.ExecContext(ctx, `SET search_path = `+path); err != nil {
					t.Fatal(err)
				}
				if _, err := conn.ExecContext(ctx, `UPDATE accounts SET note = 'path `+path+`' WHERE id = 1`); err != nil {
					t.Fatalf("search_path %s: %v", path, err)
				}
			}
			var stray int
			if err := td.plain.QueryRow(`SELECT count(*) FROM ` + tenant + `.audit_log`).Scan(&stray); err != nil {
				t.Fatal(err)
			}
			recs := td.trail(t, "audit_log", before)
			if stray != 0 || len(recs) != 2 {
				t.Fatalf("the tenant's audit_log got %d records, the trail %d; want 0 and 2", stray, len(recs))
			}
			for _, r := range recs {
				if r.Table != tenant+".accounts" {
					t.Errorf("record of table %q, want the tenant's accounts (the table the UPDATE changed)", r.Table)
				}
			}
		})
	}
}

// A search_path that names no existing schema keeps the first connection
// from creating the audit table; reads still work, and a write fails with
// ErrRecord saying what is missing (issue 14, item 19).
func TestPostgreSQLMissingAuditTableBreaksWritesNotReads(t *testing.T) {
	for _, drv := range pgDrivers {
		t.Run(drv, func(t *testing.T) {
			_, td := mustOpen(t, drv)
			mustExec(t, td.plain, accountsDDL)
			dsn := strings.Replace(td.dsn, "search_path="+td.schema(), "search_path=no_such_schema_"+td.schema(), 1)
			db, err := sql.Open(drv, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var one int
			if err := db.QueryRow(`SELECT 1`).Scan(&one); err != nil {
				t.Fatalf("a read through a connection that could not create the audit table: %v", err)
			}
			_, err = db.Exec(`INSERT INTO ` + td.schema() + `.accounts (id, region) VALUES (1, 'eu')`)
			if !errors.Is(err, sqlaudit.ErrRecord) || !strings.Contains(err.Error(), "audit table") {
				t.Fatalf("a write without an audit table: %v, want ErrRecord naming the audit table", err)
			}
			var n int
			if err := td.plain.QueryRow(`SELECT count(*) FROM accounts`).Scan(&n); err != nil || n != 0 {
				t.Fatalf("rows after the refused write: %d (%v), want 0", n, err)
			}
		})
	}
}

// COMMIT AND CHAIN leaves a transaction open: a write after it that the
// wrapper runs in two statements (a cascading DELETE) belongs to it, and the
// application's ROLLBACK undoes it with its records (issue 14, item 14: pgx
// committed it in the wrapper's own transaction, lib/pq broke the
// connection).
func TestPostgreSQLCommitAndChainKeepsTheTransactionOpen(t *testing.T) {
	for _, drv := range pgDrivers {
		t.Run(drv, func(t *testing.T) {
			db, td := mustOpen(t, drv)
			mustExec(t, db, `CREATE TABLE parents (id int PRIMARY KEY)`,
				`CREATE TABLE kids (id int PRIMARY KEY, parent_id int REFERENCES parents ON DELETE CASCADE)`,
				`INSERT INTO parents VALUES (1)`, `INSERT INTO kids VALUES (10, 1)`)
			ctx := context.Background()
			conn, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			since := td.maxID(t, "audit_log")
			for _, q := range []string{`BEGIN`, `SELECT 1`, `COMMIT AND CHAIN`, `DELETE FROM parents WHERE id = 1`, `ROLLBACK`} {
				if _, err := conn.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			var parents, kids int
			if err := td.plain.QueryRow(`SELECT (SELECT count(*) FROM parents), (SELECT count(*) FROM kids)`).Scan(&parents, &kids); err != nil {
				t.Fatal(err)
			}
			if recs := td.trail(t, "audit_log", since); parents != 1 || kids != 1 || len(recs) != 0 {
				t.Fatalf("after ROLLBACK: %d parents, %d kids, records %v; want 1, 1 and none", parents, kids, recs)
			}
			if _, err := conn.ExecContext(ctx, `SELECT 1`); err != nil {
				t.Fatalf("the connection after the chained transaction: %v", err)
			}
		})
	}
}

// A statement with as many placeholders as PostgreSQL takes (65,535) runs
// audited as it runs plainly: the wrapper's own values then travel in the
// text, not as parameters (issue 14, item 21). One row: every record
// carries the statement's text.
func TestPostgreSQLStatementsWithTheMostPlaceholders(t *testing.T) {
	forEachPGDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		mustExec(t, db, `CREATE TABLE wide (id int PRIMARY KEY, n int)`)
		for _, n := range []int{65534, 65535} {
			var q strings.Builder
			q.WriteString(`INSERT INTO wide (id, n) VALUES ($1, cardinality(ARRAY[`)
			args := make([]any, n)
			args[0] = n
			for i := 1; i < n; i++ {
				if i > 1 {
					q.WriteString(", ")
				}
				q.WriteString("$" + strconv.Itoa(i+1) + "::int")
				args[i] = i
			}
			q.WriteString(`]))`)
			since := td.maxID(t, "audit_log")
			ctx := sqlaudit.WithActor(context.Background(), "o'brien")
			if _, err := db.ExecContext(ctx, q.String(), args...); err != nil {
				t.Fatalf("%d placeholders: %v", n, err)
			}
			recs := td.trail(t, "audit_log", since)
			if len(recs) != 1 || recs[0].Actor == nil || *recs[0].Actor != "o'brien" || fmt.Sprint(recs[0].New["n"]) != strconv.Itoa(n-1) {
				t.Fatalf("%d placeholders: records %v", n, recs)
			}
		}
	})
}
