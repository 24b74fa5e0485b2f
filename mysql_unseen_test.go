package sqlaudit_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/sqlaudit/sqlaudit"
	"github.com/sqlaudit/sqlaudit/auditmysql"
)

// Statements that change rows inside the server, where the wrapper cannot
// see them — a compound statement (BEGIN NOT ATOMIC … END, a labelled block,
// IF …), CALL of a procedure, EXECUTE IMMEDIATE, PREPARE … FROM — are
// refused by default and change nothing, where the plain driver changes
// rows; under audit_unsupported=warn they run as the plain driver runs them,
// with a warning. A refused compound statement is not taken for a BEGIN: the
// next write commits on its own.
func TestMySQLWritesInsideTheServerAreRefusedNotRunUnaudited(t *testing.T) {
	cases := []struct{ name, q string }{
		{"compound statement", "BEGIN NOT ATOMIC UPDATE accounts SET balance = balance + 1; END"},
		{"REPEAT outside a program", "REPEAT UPDATE accounts SET balance = balance + 1; UNTIL 1 END REPEAT"},
		{"IF outside a program", "IF 1 = 1 THEN UPDATE accounts SET balance = balance + 1; END IF"},
		{"CALL", "CALL bump()"},
		{"EXECUTE IMMEDIATE", "EXECUTE IMMEDIATE 'UPDATE accounts SET balance = balance + 1'"},
		{"PREPARE … FROM", "PREPARE s FROM 'UPDATE accounts SET balance = balance + 1'"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			db, td := mustOpen(t, "audit-mysql")
			seedAccounts(t, db)
			mustExec(t, td.plain, `CREATE PROCEDURE bump() UPDATE accounts SET balance = balance + 1`)
			before, since := td.snap(t, "accounts", "id"), td.maxID(t, "audit_log")
			if _, err := db.Exec(c.q); !errors.Is(err, sqlaudit.ErrUnsupported) {
				t.Fatalf("want ErrUnsupported, got %v", err)
			}
			if after := td.snap(t, "accounts", "id"); !reflect.DeepEqual(before, after) {
				t.Fatalf("a refused statement changed rows: %v", after)
			}
			// Not a BEGIN: this write commits on its own, with its record.
			checkChange(t, td, "accounts", []string{"id"}, func() {
				mustExec(t, db, `UPDATE accounts SET note = 'after' WHERE id = 1`)
			})

			// The plain driver changes rows (PREPARE only stores the statement).
			var logs bytes.Buffer
			warn, err := auditmysql.Open(td.dsn, sqlaudit.Options{Unsupported: sqlaudit.Warn, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer warn.Close()
			for _, h := range []struct {
				name string
				run  func(string) error
			}{
				{"plain", func(q string) error { _, err := td.plain.Exec(q); return err }},
				{"warn", func(q string) error { _, err := warn.Exec(q); return err }},
			} {
				before := td.snap(t, "accounts", "id")
				if err := h.run(c.q); err != nil {
					t.Fatalf("%s: %v", h.name, err)
				}
				changed := !reflect.DeepEqual(before, td.snap(t, "accounts", "id"))
				if changed == strings.HasPrefix(c.q, "PREPARE") {
					t.Errorf("%s: changed rows %v", h.name, changed)
				}
			}
			if !strings.Contains(logs.String(), "unaudited") {
				t.Errorf("the warn policy logged no warning: %q", logs.String())
			}
			if got := len(td.trail(t, "audit_log", since)); got != 1 {
				t.Errorf("%d records, want the one UPDATE's", got)
			}
		})
	}
}

// XA transactions are the application's transactions: audited writes run
// inside them (under a savepoint) and commit or roll back with them. (The
// wrapper once began a transaction of its own inside XA, which MariaDB
// refuses.) COMMIT AND CHAIN begins the next transaction at once.
func TestMySQLXAAndChainedTransactionsAreTheCallers(t *testing.T) {
	db, td := mustOpen(t, "audit-mysql")
	seedAccounts(t, db)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	exec := func(qs ...string) {
		t.Helper()
		for _, q := range qs {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	balance := func(id int) (b int) {
		t.Helper()
		if err := td.plain.QueryRow(`SELECT balance FROM accounts WHERE id = ?`, id).Scan(&b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	checkChange(t, td, "accounts", []string{"id"}, func() {
		exec(`XA START 'x1'`, `UPDATE accounts SET balance = 11 WHERE id = 1`, `INSERT INTO accounts (id, region) VALUES (4, 'xa')`,
			`XA END 'x1'`, `XA PREPARE 'x1'`, `XA COMMIT 'x1'`)
	})
	checkChange(t, td, "accounts", []string{"id"}, func() {
		exec(`XA START 'x2'`, `UPDATE accounts SET balance = 99 WHERE id = 2`, `XA END 'x2'`, `XA ROLLBACK 'x2'`)
	})
	if balance(2) != 20 {
		t.Fatal("XA ROLLBACK did not undo the write")
	}
	// The write after COMMIT AND CHAIN is in the chained transaction: the
	// ROLLBACK undoes it and its record.
	checkChange(t, td, "accounts", []string{"id"}, func() {
		exec(`BEGIN`, `UPDATE accounts SET balance = 12 WHERE id = 1`, `COMMIT AND CHAIN`, `UPDATE accounts SET balance = 13 WHERE id = 1`, `ROLLBACK`)
	})
	if balance(1) != 12 {
		t.Fatalf("balance %d, want 12: the write after COMMIT AND CHAIN was committed on its own", balance(1))
	}
}
