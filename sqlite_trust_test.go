package sqlaudit_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sqlaudit/sqlaudit"
)

// Issue 14's SQLite classes: each a change the trail once missed or got
// wrong, checked by the differential oracle on every SQLite driver.

// Columns compare byte for byte, whatever their collation: a NOCASE or
// RTRIM column changed in case or trailing spaces is a change, also as a
// key and beside other changed columns.
func TestSQLiteCollationsDoNotHideChanges(t *testing.T) {
	forEachSQLite(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		mustExec(t, db, `CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT COLLATE NOCASE, pad TEXT COLLATE RTRIM, n INTEGER)`,
			`INSERT INTO users VALUES (1, 'alice@example.com', 'a', 1)`,
			`CREATE TABLE tags (name TEXT COLLATE NOCASE PRIMARY KEY, n INTEGER) WITHOUT ROWID`, `INSERT INTO tags VALUES ('go', 1)`)
		for _, q := range []string{`UPDATE users SET email = 'Alice@Example.com'`, `UPDATE users SET email = 'ALICE@example.com', n = 2`,
			`UPDATE users SET pad = 'a  '`, `UPDATE users SET n = 1`} {
			recs := checkChange(t, td, "users", []string{"id"}, func() { mustExec(t, db, q) })
			if len(recs) != 1 {
				t.Errorf("%s: %d records, want 1", q, len(recs))
			}
		}
		checkChangeAll(t, td, map[string][]string{"tags": {"name"}}, func() { mustExec(t, db, `UPDATE tags SET name = 'Go'`) }) // a key change, under the old key
	})
}

// Values are recorded as stored: text written with json() or json_set()
// is text, not an embedded object; an integer becoming a real in a column
// without affinity is a change.
func TestSQLiteStoredValuesAreRecordedAsStored(t *testing.T) {
	forEachSQLite(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		mustExec(t, db, `CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT, v)`, `INSERT INTO docs VALUES (1, '{"a":1}', 1)`)
		recs := checkChange(t, td, "docs", []string{"id"}, func() { mustExec(t, db, `UPDATE docs SET body = json_set(body, '$.b', 2)`) })
		if s, ok := recs[0].New["body"].(string); !ok || s != `{"a":1,"b":2}` {
			t.Fatalf("json_set text recorded as %T %v, want the stored text", recs[0].New["body"], recs[0].New["body"])
		}
		checkChange(t, td, "docs", []string{"id"}, func() { mustExec(t, db, `INSERT INTO docs VALUES (2, json('[1, 2]'), 2)`) })
		recs = checkChange(t, td, "docs", []string{"id"}, func() { mustExec(t, db, `UPDATE docs SET v = 1.0 WHERE id = 1`) })
		if len(recs) != 1 {
			t.Fatalf("integer 1 → real 1.0 in a column without affinity: %d records, want 1", len(recs))
		}
	})
}

// Text that is not valid UTF-8 is recorded byte for byte: the stored
// change has a record whose old and new texts differ as the stored bytes do.
func TestSQLiteInvalidUTF8IsRecordedByteForByte(t *testing.T) {
	forEachSQLite(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		mustExec(t, db, `CREATE TABLE b (id INTEGER PRIMARY KEY, s TEXT)`, `INSERT INTO b VALUES (1, CAST(x'41ff' AS TEXT))`)
		since := td.maxID(t, "audit_log")
		mustExec(t, db, `UPDATE b SET s = CAST(x'41fe' AS TEXT)`)
		var oldV, newV []byte
		if err := td.plain.QueryRow(`SELECT CAST(old_values AS BLOB), CAST(new_values AS BLOB) FROM audit_log WHERE id > ?`, since).Scan(&oldV, &newV); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(oldV), "A\xff") || !strings.Contains(string(newV), "A\xfe") {
			t.Fatalf("records %q → %q, want the stored bytes A\\xff → A\\xfe", oldV, newV)
		}
	})
}

// A table without a primary key is keyed by its rowid under a name no
// column takes; when every name is a column's, writes are refused.
func TestSQLiteRowidKeyIsNeverAColumn(t *testing.T) {
	forEachSQLite(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		mustExec(t, db, `CREATE TABLE r (rowid TEXT, v INTEGER)`, `INSERT INTO r VALUES ('same', 1), ('same', 2)`)
		since := td.maxID(t, "audit_log")
		mustExec(t, db, `UPDATE r SET v = v + 10, rowid = 'other'`)
		recs := td.trail(t, "audit_log", since)
		if len(recs) != 2 || recs[0].RowKey["_rowid_"] == nil || recs[0].RowKey["_rowid_"] == recs[1].RowKey["_rowid_"] || recs[0].New["rowid"] != "other" {
			t.Fatalf("two rows under one key: %+v", recs)
		}
		mustExec(t, db, `CREATE TABLE h (rowid, _rowid_, oid)`)
		if _, err := db.Exec(`INSERT INTO h VALUES (1, 2, 3)`); !errors.Is(err, sqlaudit.ErrUnsupported) {
			t.Fatalf("a table whose rowid every name hides: want ErrUnsupported, got %v", err)
		}
	})
}

// Tables whose names start with _sqa are the application's, and audited.
func TestSQLiteTablesNamedLikeTheWrappersAreAudited(t *testing.T) {
	forEachSQLite(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		mustExec(t, db, `CREATE TABLE _sqa_orders (id INTEGER PRIMARY KEY, v TEXT)`, `CREATE TABLE _sqa_x (id INTEGER PRIMARY KEY)`)
		checkChange(t, td, "_sqa_orders", []string{"id"}, func() { mustExec(t, db, `INSERT INTO _sqa_orders VALUES (1, 'a')`) })
		checkChange(t, td, "_sqa_x", []string{"id"}, func() { mustExec(t, db, `INSERT INTO _sqa_x VALUES (1)`) })
	})
}

// The database's own triggers on an excluded table, and a TEMP trigger of
// the application's on a fresh connection, change audited tables: those
// changes are recorded.
func TestSQLiteTriggersIntoAuditedTablesAreRecorded(t *testing.T) {
	forEachSQLite(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv, "audit_exclude=events")
		mustExec(t, db, `CREATE TABLE events (id INTEGER PRIMARY KEY, n INTEGER)`, `CREATE TABLE totals (id INTEGER PRIMARY KEY, n INTEGER)`,
			`INSERT INTO totals VALUES (1, 0)`,
			`CREATE TRIGGER count_events AFTER INSERT ON events BEGIN UPDATE totals SET n = n + NEW.n WHERE id = 1; END`)
		checkChange(t, td, "totals", []string{"id"}, func() { mustExec(t, db, `INSERT INTO events VALUES (1, 5)`) })
		fresh, err := sql.Open(drv, td.dsn+"&audit_exclude=scratch")
		if err != nil {
			t.Fatal(err)
		}
		defer fresh.Close()
		fresh.SetMaxOpenConns(1)
		mustExec(t, fresh, `CREATE TEMP TABLE scratch (id INTEGER PRIMARY KEY, n INTEGER)`,
			`CREATE TEMP TRIGGER spill AFTER INSERT ON scratch BEGIN UPDATE main.totals SET n = n + NEW.n WHERE id = 1; END`)
		checkChange(t, td, "totals", []string{"id"}, func() { mustExec(t, fresh, `INSERT INTO scratch VALUES (1, 7)`) })
	})
}

// VACUUM may renumber rowids, which key the records of tables without a
// primary key: refused while such a table is audited; VACUUM INTO runs.
func TestSQLiteVacuumThatWouldRenumberRowidKeysIsRefused(t *testing.T) {
	forEachSQLite(t, func(t *testing.T, drv string) {
		db, _ := mustOpen(t, drv)
		mustExec(t, db, `CREATE TABLE k (id INTEGER PRIMARY KEY, v TEXT)`)
		mustExec(t, db, `VACUUM`)
		mustExec(t, db, `CREATE TABLE nokey (v TEXT)`, `INSERT INTO nokey VALUES ('a'), ('b')`, `DELETE FROM nokey WHERE v = 'a'`)
		if _, err := db.Exec(`VACUUM`); !errors.Is(err, sqlaudit.ErrUnsupported) || !strings.Contains(err.Error(), "rowid") {
			t.Fatalf("VACUUM with a rowid-keyed audited table: want ErrUnsupported naming the rowid, got %v", err)
		}
		if _, err := db.Exec(`VACUUM main`); !errors.Is(err, sqlaudit.ErrUnsupported) {
			t.Fatalf("VACUUM main: want ErrUnsupported, got %v", err)
		}
		mustExec(t, db, `VACUUM INTO '`+filepath.Join(t.TempDir(), "copy.db")+`'`)
	})
}

// A second writer waits for the first to commit, as with the plain driver,
// instead of failing at once with "database is locked".
func TestSQLiteSecondWriterWaitsForTheBusyTimeout(t *testing.T) {
	forEachSQLite(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		seedAccounts(t, db)
		twoWriters := func(h *sql.DB) {
			tx1, err := h.Begin()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx1.Exec(`UPDATE accounts SET balance = balance + 1 WHERE id = 1`); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			var err2 error
			wg.Add(1)
			go func() {
				defer wg.Done()
				tx2, err := h.Begin()
				if err != nil {
					err2 = err
					return
				}
				if _, err2 = tx2.Exec(`UPDATE accounts SET balance = balance + 2 WHERE id = 1`); err2 != nil {
					tx2.Rollback()
					return
				}
				err2 = tx2.Commit()
			}()
			time.Sleep(100 * time.Millisecond)
			if err := tx1.Commit(); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			if err2 != nil {
				t.Fatalf("the second writer failed instead of waiting: %v", err2)
			}
		}
		twoWriters(td.plain) // the control: plain waits
		since := td.maxID(t, "audit_log")
		before := td.snap(t, "accounts", "id")
		twoWriters(db)
		if recs := td.trail(t, "audit_log", since); len(recs) != 2 || !reflect.DeepEqual(replay(t, before, recs, "id"), td.snap(t, "accounts", "id")) {
			t.Fatalf("two writers: records %+v do not replay to the table", recs)
		}
	})
}

// A column added to an attached database's table by another connection is
// seen: the statement runs again with the new triggers and records it.
func TestSQLiteColumnAddedToAnAttachedTableByAnotherConnectionIsRecorded(t *testing.T) {
	forEachSQLite(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		db.SetMaxOpenConns(1)
		aux := filepath.Join(t.TempDir(), "aux.db")
		mustExec(t, db, `ATTACH '`+aux+`' AS aux`, `CREATE TABLE aux.items (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO aux.items VALUES (1, 'a')`,
			`UPDATE aux.items SET v = 'b'`)
		other, err := sql.Open(plainDriver[drv], "file:"+aux)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		mustExec(t, other, `ALTER TABLE items ADD COLUMN extra TEXT`)
		since := td.maxID(t, "audit_log")
		mustExec(t, db, `UPDATE aux.items SET extra = 'x', v = 'c'`)
		recs := td.trail(t, "audit_log", since)
		if len(recs) != 1 || recs[0].New["extra"] != "x" || recs[0].Table != "aux.items" {
			t.Fatalf("records after another connection added a column: %+v", recs)
		}
	})
}

// Results of statements the wrapper passes through are the plain driver's
// on a fresh connection too (its setup leaves changes() at 0).
func TestSQLiteFreshConnectionResultsAreThePlainDrivers(t *testing.T) {
	forEachSQLite(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		for _, h := range []*sql.DB{db, td.plain} {
			c, err := h.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{`SAVEPOINT s1`, `RELEASE s1`, `CREATE TABLE IF NOT EXISTS z (id INTEGER PRIMARY KEY)`} {
				res, err := c.ExecContext(context.Background(), q)
				if err != nil {
					t.Fatal(err)
				}
				if n, _ := res.RowsAffected(); n != 0 {
					t.Errorf("%s: RowsAffected %d on a fresh connection, want 0", q, n)
				}
			}
			c.Close()
		}
	})
}
