package sqlaudit_test

import "testing"

// TestWritesToAKeyOnlyTableAreRecorded: a table whose only column is its
// key is audited like any other (MariaDB's catalog sentinel for one column
// was ROW(NULL), a syntax error that failed every write to such a table).
func TestWritesToAKeyOnlyTableAreRecorded(t *testing.T) {
	forEachDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		mustExec(t, db, `CREATE TABLE tags (id INTEGER PRIMARY KEY)`,
			`INSERT INTO tags VALUES (1)`, `INSERT INTO tags VALUES (2), (3)`, `DELETE FROM tags WHERE id = 2`)
		var n int
		if err := td.plain.QueryRow(`SELECT count(*) FROM audit_log WHERE table_name LIKE '%tags'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 4 {
			t.Fatalf("%d records, want 4 (3 inserts, 1 delete)", n)
		}
	})
}
