package sqlaudit_test

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sqlaudit/sqlaudit"
)

// On MariaDB an UPDATE or DELETE runs as one compound statement. A failure
// inside it is the server's own error, and inside the caller's transaction
// it undoes only the failed statement: the transaction goes on, earlier work
// and its records intact.
func TestMySQLFailedStatementInATransactionKeepsEarlierWork(t *testing.T) {
	db, td := mustOpen(t, "audit-mysql")
	mustExec(t, db, `CREATE TABLE accounts (id int PRIMARY KEY, email varchar(40) UNIQUE, balance int)`,
		`INSERT INTO accounts VALUES (1, 'a@x', 10), (2, 'b@x', 20), (3, 'c@x', 30)`)
	before, since := td.snap(t, "accounts", "id"), td.maxID(t, "audit_log")
	func() {
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		for _, q := range []string{`UPDATE accounts SET balance = balance + 1`, `DELETE FROM accounts WHERE id = 2`} {
			if _, err := tx.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		// Row 1 is changed before row 3 collides with it: the undo must
		// restore row 1 as well.
		_, err = tx.Exec(`UPDATE accounts SET email = 'a@x', balance = 0 ORDER BY id`)
		mustBeMySQLError(t, err, 1062)
		if _, err := tx.Exec(`UPDATE accounts SET email = 'z@x' WHERE id = 1`); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}()
	// Several statements change the same rows: the trail replays to the
	// final state (the net difference would merge them).
	recs := td.trail(t, "audit_log", since)
	if after := td.snap(t, "accounts", "id"); !reflect.DeepEqual(replay(t, before, recs, "id"), after) {
		t.Fatalf("replaying the trail does not give the final state %v", after)
	}
	if len(recs) != 5 || recs[0].TxID != recs[4].TxID {
		t.Fatalf("want the transaction's 5 records under one tx_id: %+v", recs)
	}
}

// A deadlock makes InnoDB roll back the whole transaction of its victim;
// the victim's caller gets the deadlock (1213), not an error of the undo.
func TestMySQLDeadlockReachesTheCallerAsTheServerError(t *testing.T) {
	db, td := mustOpen(t, "audit-mysql")
	seedAccounts(t, db)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	since := td.maxID(t, "audit_log")
	a, _ := db.BeginTx(ctx, nil)
	b, _ := db.BeginTx(ctx, nil)
	for tx, q := range map[*sql.Tx]string{a: `UPDATE accounts SET balance = 1 WHERE id = 1`, b: `UPDATE accounts SET balance = 2 WHERE id = 2`} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	errs := make(chan error, 1)
	go func() { _, err := a.ExecContext(ctx, `UPDATE accounts SET balance = 1 WHERE id = 2`); errs <- err }()
	time.Sleep(200 * time.Millisecond)
	_, errB := b.ExecContext(ctx, `DELETE FROM accounts WHERE id = 1`)
	errA := <-errs
	winner, err := a, errB
	if errA != nil {
		winner, err = b, errA
	}
	mustBeMySQLError(t, err, 1213)
	if err := winner.Commit(); err != nil {
		t.Fatal(err)
	}
	if recs := td.trail(t, "audit_log", since); len(recs) != 2 || recs[0].TxID != recs[1].TxID {
		t.Fatalf("want the winner's 2 records, got %+v", recs)
	}
}

func mustBeMySQLError(t testing.TB, err error, number uint16) {
	t.Helper()
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != number {
		t.Fatalf("want *mysql.MySQLError %d, got %T %v", number, err, err)
	}
}

// When the audit table refuses the records, the statement fails with
// ErrRecord, the server's error inside it, and changes nothing.
func TestMySQLRecordFailureIsErrRecord(t *testing.T) {
	db, td := mustOpen(t, "audit-mysql")
	seedAccounts(t, db)
	mustExec(t, td.plain, `ALTER TABLE audit_log ADD CONSTRAINT no_mallory CHECK (NOT actor <=> 'mallory')`)
	before := td.snap(t, "accounts", "id")
	ctx := sqlaudit.WithActor(context.Background(), "mallory")
	for _, q := range []string{`UPDATE accounts SET balance = 0`, `DELETE FROM accounts WHERE id = 1`} {
		_, err := db.ExecContext(ctx, q)
		var me *mysql.MySQLError
		if !errors.Is(err, sqlaudit.ErrRecord) || !errors.As(err, &me) {
			t.Fatalf("%s: want ErrRecord wrapping the server's error, got %v", q, err)
		}
	}
	if after := td.snap(t, "accounts", "id"); !reflect.DeepEqual(before, after) {
		t.Fatalf("statements whose records failed changed the table")
	}
}
