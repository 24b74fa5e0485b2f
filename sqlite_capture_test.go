package sqlaudit_test

import (
	"fmt"
	"strings"
	"testing"
)

// The SQLite dialect captures rows in two ways, direct (the triggers write
// the records) and staged (the triggers copy the rows, one INSERT writes
// the records after the statement); the package's tests run every eligible
// write alternately in both (export_test.go). These are the cases that
// only one of them meets.

// A wide table is recorded in both modes: its changed columns take several
// mask words in the staging table (62 columns each).
func TestSQLiteWideTablesAreRecorded(t *testing.T) {
	forEachSQLite(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		cols := make([]string, 400)
		for i := range cols {
			cols[i] = fmt.Sprintf("c%d INTEGER", i)
		}
		mustExec(t, db, `CREATE TABLE wide (id INTEGER PRIMARY KEY, `+strings.Join(cols, ", ")+`)`)
		for _, q := range []string{
			`INSERT INTO wide (id, c0, c399) VALUES (1, 1, 1), (2, 2, 2), (3, 3, 3)`,
			`UPDATE wide SET c399 = c399 + 1, c200 = 7, c61 = 1, c62 = 1`,
			`UPDATE wide SET c399 = c399 + 1, c200 = 7, c61 = 1, c62 = 1`,
			`DELETE FROM wide WHERE id < 3`,
		} {
			checkChange(t, td, "wide", []string{"id"}, func() { mustExec(t, db, q) })
		}
	})
}

// An UPDATE that sets columns to what they hold changes rows (changes()
// counts them) but writes no record, in either mode; one that changes a
// few of them records those.
func TestSQLiteUpdatesThatChangeNothingWriteNoRecords(t *testing.T) {
	forEachSQLite(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		mustExec(t, db, `CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER, b TEXT)`,
			`INSERT INTO t VALUES (1, 1, 'x'), (2, 2, 'y'), (3, 3, 'z')`)
		for i := 0; i < 2; i++ {
			recs := checkChange(t, td, "t", []string{"id"}, func() { mustExec(t, db, `UPDATE t SET a = a, b = b`) })
			if len(recs) != 0 {
				t.Fatalf("run %d: %d records of an UPDATE that changed nothing", i, len(recs))
			}
			recs = checkChange(t, td, "t", []string{"id"}, func() { mustExec(t, db, `UPDATE t SET b = CASE id WHEN 2 THEN b || '!' ELSE b END`) })
			if len(recs) != 1 {
				t.Fatalf("run %d: %d records, want 1", i, len(recs))
			}
		}
	})
}
