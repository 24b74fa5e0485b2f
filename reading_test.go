package sqlaudit_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/sqlaudit/sqlaudit"
	"github.com/sqlaudit/sqlaudit/internal/dbtest"
)

// syncBuffer is a log destination for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A table named in audit_include, audit_exclude or audit_redact that does
// not exist is warned about at connect: a mistyped audit_exclude=userz
// would otherwise audit users without a word.
func TestOptionsNamingNoTableAreWarnedAbout(t *testing.T) {
	for _, drv := range auditDrivers {
		t.Run(drv, func(t *testing.T) {
			_, td := mustOpen(t, drv)
			mustExec(t, td.plain, `CREATE TABLE users (id INTEGER PRIMARY KEY, password_hash TEXT)`)
			var logs syncBuffer
			opts := sqlaudit.Options{Exclude: []string{"userz", "users"}, Redact: []string{"users.password_hash", "accountz.pin"},
				Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			db := mustOpenDB(t, drv, td.dsn, opts)
			if err := db.Ping(); err != nil {
				t.Fatal(err)
			}
			got := logs.String()
			for _, want := range []string{"option=audit_exclude table=userz", "option=audit_redact table=accountz"} {
				if !strings.Contains(got, want) {
					t.Errorf("no warning %q in:\n%s", want, got)
				}
			}
			if strings.Contains(got, "table=users ") || strings.Count(got, "does not exist") != 2 {
				t.Errorf("warnings about existing tables:\n%s", got)
			}
		})
	}
}

// A tamper message names the seal and the record it knows, never "record 0".
func TestTamperMessagesNameOnlyWhatIsKnown(t *testing.T) {
	for _, c := range []struct {
		e    sqlaudit.TamperError
		want string
	}{
		{sqlaudit.TamperError{Seq: 2, RecordID: 2, Reason: "edited"}, "tampered with at seal 2 (record 2): edited"},
		{sqlaudit.TamperError{Seq: 3, Reason: "a seal is missing"}, "tampered with at seal 3: a seal is missing"},
		{sqlaudit.TamperError{RecordID: 9, Reason: "inserted after sealing"}, "tampered with at record 9: inserted after sealing"},
	} {
		if got := c.e.Error(); !strings.HasSuffix(got, c.want) || strings.Contains(got, "record 0") {
			t.Errorf("%+v: %q, want …%q", c.e, got, c.want)
		}
	}
}

// The first audited statement on a new MariaDB connection records all its
// rows under one transaction (MariaDB took the transaction's session
// variable, not yet created, for NULL throughout that statement).
func TestMySQLFirstWriteOfAConnectionIsOneTransaction(t *testing.T) {
	if !dbtest.Selected("audit-mysql") {
		t.Skip("audit-mysql is not among SQLAUDIT_DRIVERS")
	}
	_, td := mustOpen(t, "audit-mysql")
	mustExec(t, td.plain, `CREATE TABLE items (id INTEGER PRIMARY KEY, qty INTEGER)`, `INSERT INTO items VALUES (1, 1), (2, 1), (3, 1)`)
	db, err := sql.Open("audit-mysql", td.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustExec(t, db, `UPDATE items SET qty = qty + 1`)
	var txs, recs int
	if err := td.plain.QueryRow(`SELECT count(DISTINCT tx_id), count(*) FROM audit_log WHERE table_name = 'items'`).Scan(&txs, &recs); err != nil {
		t.Fatal(err)
	}
	if recs != 3 || txs != 1 {
		t.Errorf("%d records in %d transactions, want 3 in 1", recs, txs)
	}
}

// Seal on a database without an audit table says so and creates no seal
// table beside nothing.
func TestSealWithoutAnAuditTableLeavesNothing(t *testing.T) {
	for _, drv := range auditDrivers {
		t.Run(drv, func(t *testing.T) {
			_, td := mustOpen(t, drv)
			db := mustOpenDB(t, drv, td.dsn, sqlaudit.Options{Table: "no_audit", NoCreate: true})
			_, err := sqlaudit.Seal(context.Background(), db)
			if err == nil || !strings.Contains(err.Error(), "sqlaudit migrate") {
				t.Fatalf("Seal: %v", err)
			}
			var n int
			q := `SELECT count(*) FROM information_schema.tables WHERE table_name = 'no_audit_seal'`
			if isSQLite(drv) {
				q = `SELECT count(*) FROM sqlite_master WHERE name = 'no_audit_seal'`
			}
			if err := td.plain.QueryRow(q).Scan(&n); err != nil || n != 0 {
				t.Errorf("seal tables left: %d %v", n, err)
			}
		})
	}
}

// An audit table dropped while the application runs: every later write
// fails with ErrRecord naming the audit table, and changes nothing (the
// database's own "does not exist" alone says nothing of the trail).
func TestDroppedAuditTableFailsWritesWithErrRecord(t *testing.T) {
	for _, drv := range auditDrivers {
		t.Run(drv, func(t *testing.T) {
			db, td := mustOpen(t, drv)
			mustExec(t, td.plain, accountsDDL)
			mustExec(t, db, `INSERT INTO accounts (id, region) VALUES (1, 'eu')`)
			mustExec(t, td.plain, `DROP TABLE audit_log`)
			for _, q := range []string{
				`INSERT INTO accounts (id, region) VALUES (2, 'us')`,
				`UPDATE accounts SET region = 'us' WHERE id = 1`,
				`DELETE FROM accounts WHERE id = 1`,
			} {
				_, err := db.Exec(q)
				if !errors.Is(err, sqlaudit.ErrRecord) || !strings.Contains(err.Error(), "audit table") {
					t.Errorf("%s after the audit table was dropped: %v, want ErrRecord naming the audit table", q, err)
				}
			}
			var n int
			var region string
			if err := td.plain.QueryRow(`SELECT count(*), min(region) FROM accounts`).Scan(&n, &region); err != nil || n != 1 || region != "eu" {
				t.Errorf("accounts after the refused writes: %d rows, region %q (%v); want 1, eu", n, region, err)
			}
		})
	}
}
