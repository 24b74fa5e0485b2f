package sqlaudit_test

import (
	"errors"
	"testing"

	"github.com/sqlaudit/sqlaudit"
)

// Foreign-key actions change child rows inside the database, unseen: a
// statement that would make one change a row of an audited table is
// refused (nothing changes); one whose rows have no children runs and is
// recorded; an excluded child table does not stop it. (MariaDB; SQLite
// records the child rows instead: sqlite_shapes_test.go, PostgreSQL too:
// pg_cascade_test.go.)
func TestForeignKeyActionsOnAuditedTablesAreRefused(t *testing.T) {
	forEachMySQL(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv, "audit_exclude=notes")
		mustExec(t, td.plain,
			`CREATE TABLE parents (id integer PRIMARY KEY, name text)`,
			`CREATE TABLE kids (id integer PRIMARY KEY, parent_id integer REFERENCES parents (id) ON DELETE CASCADE ON UPDATE CASCADE)`,
			`CREATE TABLE notes (id integer PRIMARY KEY, parent_id integer REFERENCES parents (id) ON DELETE SET NULL)`,
			`INSERT INTO parents VALUES (1, 'with kids'), (2, 'no kids'), (3, 'with notes')`,
			`INSERT INTO kids VALUES (10, 1)`, `INSERT INTO notes VALUES (20, 3)`)
		before := td.snap(t, "kids", "id")
		for _, q := range []string{`DELETE FROM parents WHERE id = 1`, `UPDATE parents SET id = 100 WHERE id = 1`} {
			if _, err := db.Exec(q); !errors.Is(err, sqlaudit.ErrUnsupported) {
				t.Errorf("%s: want ErrUnsupported, got %v", q, err)
			}
		}
		if after := td.snap(t, "kids", "id"); len(after) != len(before) {
			t.Fatal("a refused cascade changed the child table")
		}
		checkChange(t, td, "parents", []string{"id"}, func() { mustExec(t, db, `UPDATE parents SET name = 'renamed' WHERE id = 1`) })
		checkChange(t, td, "parents", []string{"id"}, func() { mustExec(t, db, `DELETE FROM parents WHERE id IN (2, 3)`) })
	})
}

// An excluded parent whose foreign-key actions reach an audited table is
// refused for the statements that may fire them (MariaDB; SQLite and
// PostgreSQL record the child rows: TestSQLiteExcludedParentCascadingIntoAuditedChildIsRecorded,
// TestForeignKeyActionsThroughExcludedTables).
func TestExcludedParentCascadingIntoAuditedChildIsRefused(t *testing.T) {
	forEachMySQL(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv, "audit_exclude=parents")
		mustExec(t, td.plain,
			`CREATE TABLE parents (id integer PRIMARY KEY, name text)`,
			`CREATE TABLE kids (id integer PRIMARY KEY, parent_id integer REFERENCES parents (id) ON DELETE CASCADE)`,
			`INSERT INTO parents VALUES (1, 'p')`, `INSERT INTO kids VALUES (10, 1)`)
		if _, err := db.Exec(`DELETE FROM parents WHERE id = 1`); !errors.Is(err, sqlaudit.ErrUnsupported) {
			t.Fatalf("want ErrUnsupported, got %v", err)
		}
		mustExec(t, db, `UPDATE parents SET name = 'not audited' WHERE id = 1`, `INSERT INTO parents VALUES (2, 'q')`)
	})
}

// SQLite's DROP TABLE deletes the rows first, firing ON DELETE actions into
// audited tables: refused while such children exist (issue 7's GORM tests
// found it).
func TestSQLiteDropTableCascadingIntoAuditedRowsIsRefused(t *testing.T) {
	db, td := mustOpen(t, "audit-sqlite3")
	db.SetMaxOpenConns(1)
	mustExec(t, db, `PRAGMA foreign_keys = ON`,
		`CREATE TABLE parents (id integer PRIMARY KEY)`,
		`CREATE TABLE kids (id integer PRIMARY KEY, parent_id integer REFERENCES parents (id) ON DELETE CASCADE)`,
		`INSERT INTO parents VALUES (1)`, `INSERT INTO kids VALUES (10, 1)`)
	if _, err := db.Exec(`DROP TABLE parents`); !errors.Is(err, sqlaudit.ErrUnsupported) {
		t.Fatalf("want ErrUnsupported, got %v", err)
	}
	if n := len(td.snap(t, "kids", "id")); n != 1 {
		t.Fatalf("kids has %d rows", n)
	}
	mustExec(t, db, `DELETE FROM kids`, `DROP TABLE parents`)
}

// forEachMySQL is forEachDriver on MariaDB only.
func forEachMySQL(t *testing.T, f func(t *testing.T, drv string)) {
	forEachDriver(t, func(t *testing.T, drv string) {
		if isMySQL(drv) {
			f(t, drv)
		}
	})
}
