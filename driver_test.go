package sqlaudit_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lib/pq"
	"github.com/mattn/go-sqlite3"

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
	if isSQLite(drv) || isMySQL(drv) {
		return "?"
	}
	return "$" + string(rune('0'+n))
}

const accountsDDL = `CREATE TABLE accounts (id integer PRIMARY KEY, region text NOT NULL, balance numeric, note text)`

// seedAccounts creates accounts with rows 1..3 (eu, eu, us) through db.
func seedAccounts(t *testing.T, db *sql.DB) {
	t.Helper()
	mustExec(t, db, accountsDDL, `INSERT INTO accounts (id, region, balance) VALUES (1, 'eu', 10), (2, 'eu', 20), (3, 'us', 30)`)
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

func TestRecordCarriesActorMetadataQueryAndTransaction(t *testing.T) {
	forEachDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		seedAccounts(t, db)
		since := td.maxID(t, "audit_log")
		ctx := sqlaudit.WithMetadata(sqlaudit.WithActor(context.Background(), "bob"), map[string]any{"request_id": "r-1"})
		q := `UPDATE accounts SET note = 'n' WHERE region = 'eu'`
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM accounts WHERE id = 3`); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(context.Background(), `UPDATE accounts SET note = 'm' WHERE id = 1`); err != nil {
			t.Fatal(err)
		}
		recs := td.trail(t, "audit_log", since)
		if len(recs) != 4 {
			t.Fatalf("want 4 records, got %d", len(recs))
		}
		for _, r := range recs[:3] {
			if r.Actor == nil || *r.Actor != "bob" || r.Metadata["request_id"] != "r-1" {
				t.Errorf("record %d: actor %v metadata %v, want bob and request_id r-1", r.ID, r.Actor, r.Metadata)
			}
			if r.TxID != recs[0].TxID {
				t.Errorf("records of one transaction have tx_id %d and %d", recs[0].TxID, r.TxID)
			}
		}
		if recs[0].Query != q {
			t.Errorf("query recorded as %q, want the text as sent %q", recs[0].Query, q)
		}
		last := recs[3]
		if last.Actor != nil || last.Metadata != nil {
			t.Errorf("without WithActor the actor and metadata must be NULL, got %v %v", last.Actor, last.Metadata)
		}
		if last.TxID == recs[0].TxID {
			t.Errorf("an autocommit statement shares tx_id %d with an earlier transaction", last.TxID)
		}
		if got := last.RowKey["id"]; got == nil || got.(interface{ String() string }).String() != "1" {
			t.Errorf("row_key %v, want {\"id\": 1}", last.RowKey)
		}
	})
}

func TestRolledBackTransactionLeavesNoRecords(t *testing.T) {
	forEachDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		seedAccounts(t, db)
		since := td.maxID(t, "audit_log")
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{`UPDATE accounts SET balance = 0`, `DELETE FROM accounts WHERE id = 1`, `INSERT INTO accounts (id, region) VALUES (9, 'x')`} {
			if _, err := tx.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		if recs := td.trail(t, "audit_log", since); len(recs) != 0 {
			t.Fatalf("rollback left %d records", len(recs))
		}
	})
}

func TestRowsAffectedMatchesThePlainDriver(t *testing.T) {
	forEachDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		seedAccounts(t, db)
		for _, q := range []string{
			`UPDATE accounts SET balance = balance + 1 WHERE region = 'eu'`,
			`UPDATE accounts SET balance = balance WHERE region = 'eu'`, // PostgreSQL, SQLite: matched rows; MySQL: changed rows
			`UPDATE accounts SET balance = 1 WHERE id = 99`,
			`DELETE FROM accounts WHERE region = 'us'`,
			`INSERT INTO accounts (id, region) VALUES (7, 'a'), (8, 'b')`,
		} {
			// The plain driver shows the count, then undoes the statement.
			plainTx, err := td.plain.Begin()
			if err != nil {
				t.Fatal(err)
			}
			plainRes, err := plainTx.Exec(q)
			if err != nil {
				t.Fatalf("plain %s: %v", q, err)
			}
			want, _ := plainRes.RowsAffected()
			plainTx.Rollback()
			res, err := db.Exec(q)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			if n, _ := res.RowsAffected(); n != want {
				t.Errorf("%s: RowsAffected %d, want %d as the plain driver", q, n, want)
			}
		}
	})
}

// queryAll returns the column names and rows of q, as strings.
func queryAll(t *testing.T, q interface {
	Query(string, ...any) (*sql.Rows, error)
}, query string, args ...any) ([]string, [][]string) {
	t.Helper()
	rows, err := q.Query(query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = v.String
			if !v.Valid {
				row[i] = "NULL"
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return cols, out
}

func TestReturningRowsMatchThePlainDriver(t *testing.T) {
	forEachDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		seedAccounts(t, db)
		queries := []string{
			`UPDATE accounts SET balance = balance * 2 WHERE region = 'eu' RETURNING *`,
			`UPDATE accounts AS a SET note = 'r' WHERE a.id = 1 RETURNING id, balance + 1 AS next, note, id * 2`,
			`INSERT INTO accounts (id, region) VALUES (5, 'x'), (6, 'y') RETURNING id, region, balance`,
			`DELETE FROM accounts WHERE id >= 5 RETURNING *`,
			`UPDATE accounts SET note = NULL WHERE id = 3`, // Query without RETURNING: no rows
		}
		if isMySQL(drv) { // MariaDB has no UPDATE … RETURNING
			queries = append(queries[2:4], `INSERT INTO accounts (id, region) VALUES (9, 'z') RETURNING balance, id`,
				`DELETE FROM accounts WHERE id = 9 RETURNING id * 2, region`, queries[4])
		}
		for _, q := range queries {
			// The plain driver shows what the statement returns, then undoes it.
			tx, err := td.plain.Begin()
			if err != nil {
				t.Fatal(err)
			}
			wantCols, wantRows := queryAll(t, tx, q)
			tx.Rollback()
			cols, rows := queryAll(t, db, q)
			if fmt.Sprint(cols, sortRows(rows)) != fmt.Sprint(wantCols, sortRows(wantRows)) {
				t.Errorf("%s\n got %v %v\nwant %v %v", q, cols, rows, wantCols, wantRows)
			}
		}
	})
}

func sortRows(rows [][]string) [][]string {
	sort.Slice(rows, func(i, j int) bool { return strings.Join(rows[i], "\x00") < strings.Join(rows[j], "\x00") })
	return rows
}

func TestConstraintViolationIsTheDriversOwnError(t *testing.T) {
	forEachDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		seedAccounts(t, db)
		since := td.maxID(t, "audit_log")
		_, err := db.Exec(`INSERT INTO accounts (id, region) VALUES (1, 'dup')`)
		if err == nil {
			t.Fatal("duplicate key accepted")
		}
		var pqErr *pq.Error
		var pgErr *pgconn.PgError
		var liteErr sqlite3.Error
		var myErr *mysql.MySQLError
		switch drv {
		case "audit-mysql":
			if !errors.As(err, &myErr) || myErr.Number != 1062 {
				t.Fatalf("want *mysql.MySQLError 1062, got %T %v", err, err)
			}
		case "audit-postgres":
			if !errors.As(err, &pqErr) || pqErr.Code != "23505" {
				t.Fatalf("want *pq.Error 23505, got %T %v", err, err)
			}
		case "audit-pgx":
			if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
				t.Fatalf("want *pgconn.PgError 23505, got %T %v", err, err)
			}
		case "audit-sqlite3":
			if !errors.As(err, &liteErr) || liteErr.ExtendedCode != sqlite3.ErrConstraintPrimaryKey {
				t.Fatalf("want sqlite3.Error primary key constraint, got %T %v", err, err)
			}
		default:
			if code, ok := sqliteErrorCode(err); !ok || code != int(sqlite3.ErrConstraintPrimaryKey) {
				t.Fatalf("want the driver's own primary key constraint error, got %T %v", err, err)
			}
		}
		_, err = db.Exec(`UPDATE accounts SET region = NULL WHERE id = 2`)
		if err == nil {
			t.Fatal("NOT NULL violation accepted")
		}
		if recs := td.trail(t, "audit_log", since); len(recs) != 0 {
			t.Fatalf("failed statements left %d records", len(recs))
		}
	})
}

func TestRecordWriteFailureFailsTheStatement(t *testing.T) {
	forEachDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		seedAccounts(t, db)
		// Make the audit table refuse one actor's records.
		trap := `CREATE TRIGGER refuse BEFORE INSERT ON audit_log WHEN NEW.actor = 'mallory' BEGIN SELECT RAISE(ABORT, 'no records for mallory'); END`
		switch {
		case isMySQL(drv):
			trap = `ALTER TABLE audit_log ADD CONSTRAINT no_mallory CHECK (NOT actor <=> 'mallory')`
		case !isSQLite(drv):
			trap = `ALTER TABLE audit_log ADD CONSTRAINT no_mallory CHECK (actor IS DISTINCT FROM 'mallory')`
		}
		mustExec(t, td.plain, trap)
		before := td.snap(t, "accounts", "id")
		ctx := sqlaudit.WithActor(context.Background(), "mallory")
		for _, q := range []string{`UPDATE accounts SET balance = 0`, `DELETE FROM accounts WHERE id = 1`, `INSERT INTO accounts (id, region) VALUES (4, 'x')`} {
			_, err := db.ExecContext(ctx, q)
			if err == nil || !strings.Contains(err.Error(), "mallory") && !strings.Contains(err.Error(), "audit_log") {
				t.Fatalf("%s: want an error naming the audit table, got %v", q, err)
			}
		}
		if after := td.snap(t, "accounts", "id"); !reflect.DeepEqual(before, after) {
			t.Fatalf("statements whose records failed changed the table:\n%v\n%v", before, after)
		}
	})
}

// An application may run its transactions as text on one connection; the
// records of each transaction share a tx_id, savepoints included.
func TestTransactionsSentAsTextShareATransactionID(t *testing.T) {
	forEachDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		seedAccounts(t, db)
		since := td.maxID(t, "audit_log")
		ctx := context.Background()
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		begin := "BEGIN"
		if isSQLite(drv) {
			begin = "BEGIN IMMEDIATE"
		}
		for _, q := range []string{
			begin, `UPDATE accounts SET note = 'a' WHERE id = 1`, `SAVEPOINT s1`, `UPDATE accounts SET note = 'b' WHERE id = 2`,
			`RELEASE SAVEPOINT s1`, `COMMIT`,
			"BEGIN", `UPDATE accounts SET note = 'c' WHERE id = 3`, `COMMIT`,
		} {
			if _, err := c.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		recs := td.trail(t, "audit_log", since)
		if len(recs) != 3 || recs[0].TxID != recs[1].TxID || recs[2].TxID == recs[0].TxID {
			t.Fatalf("want tx_ids a, a, b; got %+v", recs)
		}
	})
}
