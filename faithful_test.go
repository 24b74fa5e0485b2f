package sqlaudit_test

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/lib/pq"

	"github.com/sqlaudit/sqlaudit"
)

func TestPreparedStatementIsAuditedOnEveryExecution(t *testing.T) {
	forEachDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		seedAccounts(t, db)
		st, err := db.Prepare(`UPDATE accounts SET balance = balance + 1 WHERE id = ` + ph(drv, 1))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		for _, id := range []int{1, 2, 1} {
			checkChange(t, td, "accounts", []string{"id"}, func() {
				if _, err := st.Exec(id); err != nil {
					t.Fatal(err)
				}
			})
		}
	})
}

func TestStatementPreparedOutsideATransactionIsAuditedInsideIt(t *testing.T) {
	forEachDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		seedAccounts(t, db)
		st, err := db.Prepare(`DELETE FROM accounts WHERE id = ` + ph(drv, 1))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		since := td.maxID(t, "audit_log")
		tx, _ := db.Begin()
		if _, err := tx.Stmt(st).Exec(1); err != nil {
			t.Fatal(err)
		}
		tx.Rollback()
		if recs := td.trail(t, "audit_log", since); len(recs) != 0 {
			t.Fatalf("Tx.Stmt in a rolled back transaction left %d records", len(recs))
		}
		checkChange(t, td, "accounts", []string{"id"}, func() {
			tx, _ := db.Begin()
			if _, err := tx.Stmt(st).Exec(2); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		})
	})
}

func TestNULLArgumentsAndValuesAreRecorded(t *testing.T) {
	forEachDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		seedAccounts(t, db)
		recs := checkChange(t, td, "accounts", []string{"id"}, func() {
			if _, err := db.Exec(`UPDATE accounts SET note = `+ph(drv, 1)+`, balance = `+ph(drv, 2)+` WHERE id = 1`, nil, sql.NullInt64{}); err != nil {
				t.Fatal(err)
			}
		})
		if len(recs) != 1 || recs[0].New["balance"] != nil || recs[0].Old["balance"] == nil {
			t.Fatalf("want balance 10 -> null, got %+v", recs)
		}
	})
}

func TestSQLiteNamedArguments(t *testing.T) {
	db, td := mustOpen(t, "audit-sqlite3")
	seedAccounts(t, db)
	checkChange(t, td, "accounts", []string{"id"}, func() {
		_, err := db.Exec(`UPDATE accounts SET note = :note, balance = @bal WHERE region = $region AND id > :min`,
			sql.Named("min", 1), sql.Named("region", "eu"), sql.Named("bal", 7), sql.Named("note", "named"))
		if err != nil {
			t.Fatal(err)
		}
	})
	checkChange(t, td, "accounts", []string{"id"}, func() {
		if _, err := db.Exec(`UPDATE accounts SET note = ?2 WHERE id = ?1`, 3, "numbered"); err != nil {
			t.Fatal(err)
		}
	})
	var note string
	td.plain.QueryRow(`SELECT note FROM accounts WHERE id = 2`).Scan(&note)
	if note != "named" {
		t.Fatalf("named arguments bound wrongly: note %q", note)
	}
}

// Driver-specific argument types reach the driver through its own
// NamedValueChecker: pq.Array for lib/pq, Go slices for pgx.
func TestDriverSpecificArgumentTypes(t *testing.T) {
	for drv, arg := range map[string]any{"audit-postgres": pq.Array([]int64{1, 3}), "audit-pgx": []int64{1, 3}} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			db, td := mustOpen(t, drv)
			seedAccounts(t, db)
			recs := checkChange(t, td, "accounts", []string{"id"}, func() {
				if _, err := db.Exec(`UPDATE accounts SET note = 'arr' WHERE id = ANY($1)`, arg); err != nil {
					t.Fatal(err)
				}
			})
			if len(recs) != 2 {
				t.Fatalf("want 2 records, got %d", len(recs))
			}
		})
	}
}

func TestTransactionOptionsReachTheDriver(t *testing.T) {
	for _, drv := range []string{"audit-postgres", "audit-pgx"} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			db, _ := mustOpen(t, drv)
			seedAccounts(t, db)
			tx, err := db.BeginTx(context.Background(), &sql.TxOptions{Isolation: sql.LevelSerializable, ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			var level string
			tx.QueryRow(`SHOW transaction_isolation`).Scan(&level)
			if level != "serializable" {
				t.Errorf("isolation %q, want serializable", level)
			}
			if _, err := tx.Exec(`UPDATE accounts SET note = 'ro'`); err == nil {
				t.Error("a write in a read-only transaction succeeded")
			}
		})
	}
}

// A cancelled statement never leaves a change without its records. A
// context cancelled before the call changes nothing; one that expires while
// the statement waits on a lock either cancels it (lib/pq sends a cancel
// request) or abandons it to the server (pgx closes the connection by
// default, and the server may still complete it): either way the trail must
// equal the true difference.
func TestCancelledStatementLeavesNoUnrecordedChange(t *testing.T) {
	forEachDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		seedAccounts(t, db)
		before := td.snap(t, "accounts", "id")
		since := td.maxID(t, "audit_log")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := db.ExecContext(ctx, `UPDATE accounts SET balance = 0`); !errors.Is(err, context.Canceled) {
			t.Fatalf("want context.Canceled, got %v", err)
		}
		if after := td.snap(t, "accounts", "id"); len(td.trail(t, "audit_log", since)) != 0 || !reflect.DeepEqual(before, after) {
			t.Fatal("a statement cancelled before it ran left changes or records")
		}
		if isSQLite(drv) {
			return
		}
		lock, _ := td.plain.Begin()
		defer lock.Rollback()
		if _, err := lock.Exec(`UPDATE accounts SET note = 'locked' WHERE id = 1`); err != nil {
			t.Fatal(err)
		}
		q := `UPDATE accounts SET balance = -1 WHERE region = 'eu'`
		ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		if _, err := db.ExecContext(ctx, q); err == nil {
			t.Fatal("a statement blocked on a lock succeeded although its context expired")
		}
		lock.Rollback()
		waitIdle(t, td, "balance = -1")
		after := td.snap(t, "accounts", "id")
		assertTrail(t, td.trail(t, "audit_log", since), expected("accounts", before, after))
	})
}

// waitIdle waits until no backend runs a statement containing marker.
func waitIdle(t *testing.T, td *testDB, marker string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var n int
		q := `SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND strpos(query, $1) > 0 AND pid <> pg_backend_pid()`
		if isMySQL(td.driver) {
			q = `SELECT count(*) FROM information_schema.PROCESSLIST WHERE COMMAND = 'Query' AND INSTR(INFO, ?) > 0 AND ID <> CONNECTION_ID()`
		}
		err := td.plain.QueryRow(q, marker).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	t.Fatal("the abandoned statement is still running after 10 s")
}

// pgx code that reaches its *stdlib.Conn through sql.Conn.Raw unwraps the
// audit connection first.
func TestRawConnectionUnwraps(t *testing.T) {
	db, _ := mustOpen(t, "audit-pgx")
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Raw(func(dc any) error {
		u, ok := dc.(interface{ Unwrap() driver.Conn })
		if !ok {
			return errors.New("audit connection has no Unwrap")
		}
		if _, ok := u.Unwrap().(*stdlib.Conn); !ok {
			return errors.New("Unwrap did not return *stdlib.Conn")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PingContext(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A COMMIT whose outcome the client cannot know — sent, then the connection
// breaks before the answer arrives — is reported as ambiguous, neither as
// success nor as a plain failure; the change and its records stay together
// whatever the outcome. A proxy between the driver and PostgreSQL drops the
// server's answer to COMMIT and cuts the connection. A COMMIT the server
// answered (even with a FATAL error) is not ambiguous.
func TestBrokenCommitIsReportedAsAmbiguous(t *testing.T) {
	for _, drv := range []string{"audit-postgres", "audit-pgx"} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			_, td := mustOpen(t, drv)
			mustExec(t, td.plain, accountsDDL, `INSERT INTO accounts (id, region, balance) VALUES (1, 'eu', 10)`)
			proxy := newCommitCutter(t, pgHostPort(t))
			u, err := url.Parse(td.dsn)
			if err != nil {
				t.Fatal(err)
			}
			u.Host = proxy
			db, err := sql.Open(drv, u.String())
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			before := td.snap(t, "accounts", "id")
			since := td.maxID(t, "audit_log")
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(`UPDATE accounts SET balance = 0 WHERE id = 1`); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(); !errors.Is(err, sqlaudit.ErrAmbiguousCommit) {
				t.Fatalf("want ErrAmbiguousCommit, got %v", err)
			}
			after := td.snap(t, "accounts", "id")
			recs := td.trail(t, "audit_log", since)
			assertTrail(t, recs, expected("accounts", before, after))
			if len(recs) != 1 {
				t.Fatalf("the COMMIT went through; want its record, got %d", len(recs))
			}
		})
	}
}

// newCommitCutter relays TCP to target and, when the server answers a
// COMMIT (its CommandComplete tag), drops that answer and closes the
// connection: the transaction is committed, the client never learns it.
func newCommitCutter(t *testing.T, target string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				return
			}
			go func() { io.Copy(server, client); server.Close() }()
			go func() {
				defer client.Close()
				defer server.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := server.Read(buf)
					if n > 0 && bytes.Contains(buf[:n], []byte("COMMIT\x00")) {
						return
					}
					if n > 0 {
						client.Write(buf[:n])
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// A COMMIT the server answers with an error is a plain failure, not an
// ambiguous one: here the server terminates the connection before COMMIT.
func TestCommitTheServerRefusedIsNotAmbiguous(t *testing.T) {
	for _, drv := range []string{"audit-pgx"} {
		t.Run(drv, func(t *testing.T) {
			db, td := mustOpen(t, drv)
			seedAccounts(t, db)
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			var pid int
			if err := tx.QueryRow(`SELECT pg_backend_pid()`).Scan(&pid); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(`UPDATE accounts SET balance = 0 WHERE id = 1`); err != nil {
				t.Fatal(err)
			}
			mustExec(t, td.plain, fmt.Sprintf(`SELECT pg_terminate_backend(%d)`, pid))
			time.Sleep(100 * time.Millisecond)
			if err := tx.Commit(); err == nil || errors.Is(err, sqlaudit.ErrAmbiguousCommit) {
				t.Fatalf("want the server's FATAL error, got %v", err)
			}
		})
	}
}

// Committing a transaction an error aborted is a certain rollback, as the
// plain driver says: the same error, never ErrAmbiguousCommit (lib/pq and
// pgx answer without a SQLSTATE; issue 14, item 17).
func TestCommitOfAnAbortedTransactionIsTheDriversOwnError(t *testing.T) {
	for _, drv := range pgDrivers {
		t.Run(drv, func(t *testing.T) {
			db, td := mustOpen(t, drv)
			seedAccounts(t, db)
			commit := func(db *sql.DB) error {
				tx, err := db.Begin()
				if err != nil {
					t.Fatal(err)
				}
				if _, err := tx.Exec(`UPDATE accounts SET balance = 1 WHERE id = 1`); err != nil {
					t.Fatal(err)
				}
				if _, err := tx.Exec(`SELECT 1/0`); err == nil {
					t.Fatal("division by zero succeeded")
				}
				return tx.Commit()
			}
			want, got := commit(td.plain), commit(db)
			if want == nil || got == nil || errors.Is(got, sqlaudit.ErrAmbiguousCommit) || got.Error() != want.Error() {
				t.Fatalf("commit of an aborted transaction: %v, want the plain driver's %v", got, want)
			}
			for _, r := range td.trail(t, "audit_log", 0) {
				if r.Action == "UPDATE" {
					t.Fatalf("the rolled-back UPDATE left a record: %s", r)
				}
			}
		})
	}
}
