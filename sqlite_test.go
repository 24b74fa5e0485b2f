package sqlaudit_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/sqlaudit/sqlaudit"
)

// SQLite specifics found in review: predicates that are not deterministic,
// last_insert_rowid() in a predicate, rowid assignments, TEMP tables
// shadowing main ones, transactions begun with SAVEPOINT.
func TestSQLitePredicatesAreEvaluatedOnce(t *testing.T) {
	forEachSQLite(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		seedAccounts(t, db)
		for i := 0; i < 50; i++ {
			checkChange(t, td, "accounts", []string{"id"}, func() {
				mustExec(t, db, `UPDATE accounts SET balance = balance + 1 WHERE abs(random()) % 2 = 0`)
			})
		}
		c, err := db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.ExecContext(context.Background(), `INSERT INTO accounts (id, region) VALUES (7, 'x')`); err != nil {
			t.Fatal(err)
		}
		checkChange(t, td, "accounts", []string{"id"}, func() {
			if _, err := c.ExecContext(context.Background(), `UPDATE accounts SET note = 'last' WHERE id = last_insert_rowid()`); err != nil {
				t.Fatal(err)
			}
		})
		var note string
		var last int64
		td.plain.QueryRow(`SELECT coalesce(note, '') FROM accounts WHERE id = 7`).Scan(&note)
		c.QueryRowContext(context.Background(), `SELECT last_insert_rowid()`).Scan(&last)
		want, wantLast := "last", int64(7)
		if drv == "audit-ncruces" { // ncruces sets last_insert_rowid() to 0 before every Exec, plain too
			want, wantLast = "", 0
		}
		if note != want || last != wantLast {
			t.Fatalf("note %q, last_insert_rowid %d (want %q, %d): the wrapper's own writes moved last_insert_rowid", note, last, want, wantLast)
		}
	})
}

// SQL's changes() and last_insert_rowid() read as after the caller's own
// statement, not the wrapper's record writes.
func TestSQLiteChangesAndLastInsertRowidAreTheCallers(t *testing.T) {
	forEachSQLite(t, func(t *testing.T, drv string) {
		db, _ := mustOpen(t, drv)
		seedAccounts(t, db)
		ctx := context.Background()
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, s := range []struct {
			q             string
			changes, last int64
		}{
			{`INSERT INTO accounts (id, region) VALUES (8, 'a'), (9, 'b')`, 2, 9},
			{`UPDATE accounts SET note = 'x' WHERE id < 3`, 2, 9},
			{`DELETE FROM accounts WHERE id >= 8`, 2, 9},
		} {
			if _, err := c.ExecContext(ctx, s.q); err != nil {
				t.Fatal(err)
			}
			var changes, last int64
			if err := c.QueryRowContext(ctx, `SELECT changes(), last_insert_rowid()`).Scan(&changes, &last); err != nil {
				t.Fatal(err)
			}
			if drv == "audit-ncruces" && !strings.HasPrefix(s.q, "INSERT") {
				s.last = 0 // ncruces sets last_insert_rowid() to 0 before every Exec, plain too
			}
			if changes != s.changes || last != s.last {
				t.Errorf("%s: changes() %d, last_insert_rowid() %d; want %d, %d", s.q, changes, last, s.changes, s.last)
			}
		}
	})
}

// A table without a primary key is keyed by its rowid: an UPDATE assigning
// the rowid would change the key records are found by, and is refused; on a
// table whose INTEGER PRIMARY KEY the rowid aliases, it is a key change,
// recorded under the old key.
func TestSQLiteRowidAssignments(t *testing.T) {
	forEachSQLite(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		mustExec(t, td.plain, `CREATE TABLE nokey (v TEXT)`, `CREATE TABLE u (id INTEGER PRIMARY KEY, v TEXT)`,
			`INSERT INTO nokey VALUES ('a')`, `INSERT INTO u VALUES (1, 'a')`)
		for _, q := range []string{`UPDATE nokey SET rowid = 100`, `UPDATE nokey SET _rowid_ = 5, v = 'b'`, `UPDATE OR REPLACE nokey SET oid = 5`} {
			if _, err := db.Exec(q); !errors.Is(err, sqlaudit.ErrUnsupported) {
				t.Errorf("%s: want ErrUnsupported, got %v", q, err)
			}
		}
		checkChangeAll(t, td, map[string][]string{"u": {"id"}}, func() { mustExec(t, db, `UPDATE u SET rowid = 100 WHERE id = 1`) })
		checkChangeAll(t, td, map[string][]string{"u": {"id"}}, func() { mustExec(t, db, `UPDATE u SET _rowid_ = 5`) })
	})
}

func TestSQLiteTempTablesShadowMainOnes(t *testing.T) {
	forEachSQLite(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		seedAccounts(t, db)
		ctx := context.Background()
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		since := td.maxID(t, "audit_log")
		for _, q := range []string{`UPDATE accounts SET note = 'main' WHERE id = 1`, `CREATE TEMP TABLE accounts (id INTEGER PRIMARY KEY, region TEXT, balance NUMERIC, note TEXT)`,
			`INSERT INTO accounts VALUES (1, 'tmp', 0, NULL)`, `UPDATE accounts SET note = 'temp' WHERE id = 1`} {
			if _, err := c.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		recs := td.trail(t, "audit_log", since)
		if len(recs) != 3 || recs[0].Table != "accounts" || recs[1].Table != "temp.accounts" || recs[2].Table != "temp.accounts" || recs[2].New["note"] != "temp" {
			t.Fatalf("records: %+v", recs)
		}
	})
}

func TestSQLiteTransactionsBegunWithSavepointGetTheirOwnID(t *testing.T) {
	forEachSQLite(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		seedAccounts(t, db)
		ctx := context.Background()
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		since := td.maxID(t, "audit_log")
		for _, q := range []string{`SAVEPOINT a`, `UPDATE accounts SET note = '1' WHERE id = 1`, `RELEASE a`,
			`SAVEPOINT b`, `UPDATE accounts SET note = '2' WHERE id = 1`, `RELEASE b`} {
			if _, err := c.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if recs := td.trail(t, "audit_log", since); len(recs) != 2 || recs[0].TxID == recs[1].TxID {
			t.Fatalf("two transactions share a tx_id: %+v", recs)
		}
	})
}

// The wrapper's TEMP objects created inside a transaction vanish with its
// rollback; the next audited write on the connection recreates them.
func TestSQLiteWritesAfterARolledBackFirstWrite(t *testing.T) {
	forEachSQLite(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		seedAccounts(t, db)
		db.SetMaxOpenConns(1)
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(`UPDATE accounts SET note = 'gone' WHERE id = 1`); err != nil {
			t.Fatal(err)
		}
		tx.Rollback()
		for i := 0; i < 2; i++ {
			checkChange(t, td, "accounts", []string{"id"}, func() { mustExec(t, db, `UPDATE accounts SET balance = balance + 1 WHERE id = 1`) })
		}
	})
}

// go-sqlite3 runs a multi-statement string one statement at a time, each
// with its share of the arguments: the wrapper does the same and audits
// each statement; one it cannot audit stops the string there, as an error
// would.
func TestSQLiteMultiStatementStringsAreAuditedStatementByStatement(t *testing.T) {
	forEachSQLite(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv, "audit_exclude=sessions")
		seedAccounts(t, db)
		mustExec(t, db, `CREATE TABLE sessions (id integer PRIMARY KEY)`)
		checkChange(t, td, "accounts", []string{"id"}, func() {
			_, err := db.Exec(`INSERT INTO accounts (id, region) VALUES (?, ?); UPDATE accounts SET note = ? WHERE id = ?;
				DELETE FROM accounts WHERE id = 3; INSERT INTO sessions VALUES (1)`, 9, "x", "n", 1)
			if err != nil {
				t.Fatal(err)
			}
		})
		checkChange(t, td, "accounts", []string{"id"}, func() {
			mustExec(t, db, `BEGIN; UPDATE accounts SET balance = 1 WHERE id = 1; UPDATE accounts SET balance = 2 WHERE id = 2; COMMIT`)
		})
		_, err := db.Exec(`UPDATE accounts SET note = 'first' WHERE id = 1; DELETE FROM accounts WHERE region GLOB 'r*'; UPDATE accounts SET note = 'never' WHERE id = 2`)
		if !errors.Is(err, sqlaudit.ErrUnsupported) {
			t.Fatalf("want the GLOB statement refused, got %v", err)
		}
		var note string
		td.plain.QueryRow(`SELECT coalesce(note, '') FROM accounts WHERE id = 2`).Scan(&note)
		if note == "never" {
			t.Fatal("the statements after the refused one ran")
		}
		if _, err := db.Exec(`UPDATE accounts SET note = :n WHERE id = 1; DELETE FROM accounts WHERE id = 2`, sql.Named("n", "x")); !errors.Is(err, sqlaudit.ErrUnsupported) {
			t.Fatalf("named arguments: want ErrUnsupported, got %v", err)
		}
	})
}
