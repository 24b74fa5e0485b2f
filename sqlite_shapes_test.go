package sqlaudit_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/sqlaudit/sqlaudit"
)

// SQLite shapes recorded by row capture (issue 3): REPLACE in all its
// forms, upserts, keys that move, conflict clauses, foreign-key actions.
// Every step is checked by the differential oracle on every table it may
// change; hostile identifiers throughout.
func TestSQLiteShapesAreRecordedExactly(t *testing.T) {
	forEachSQLite(t, func(t *testing.T, drv string) {
		const customers = `"Kunden ü"`
		cases := []struct {
			name  string
			setup []string
			keys  map[string][]string // the tables the steps may change, by key
			steps []string
			check func(t *testing.T, recs []record)
		}{
			{
				name: "REPLACE INTO an existing key records the DELETE of the old row and the INSERT of the new",
				setup: []string{`CREATE TABLE "Kunden ü" (id INTEGER PRIMARY KEY, "e-mail" TEXT UNIQUE, "it's" TEXT)`,
					`INSERT INTO "Kunden ü" VALUES (1, 'a@x', 'eins'), (2, 'b@x', 'zwei'), (3, 'c@x', 'drei')`},
				keys:  map[string][]string{customers: {"id"}},
				steps: []string{`REPLACE INTO "Kunden ü" (id, "e-mail", "it's") VALUES (1, 'a@x', 'neu''s')`},
				check: actions("DELETE", "INSERT"),
			},
			{
				name: "INSERT OR REPLACE conflicting on a unique column deletes that other row",
				setup: []string{`CREATE TABLE "Kunden ü" (id INTEGER PRIMARY KEY, "e-mail" TEXT UNIQUE, "it's" TEXT)`,
					`INSERT INTO "Kunden ü" VALUES (1, 'a@x', 'eins'), (2, 'b@x', 'zwei')`},
				keys:  map[string][]string{customers: {"id"}},
				steps: []string{`INSERT OR REPLACE INTO "Kunden ü" VALUES (5, 'b@x', 'moved'), (6, 'new@x', NULL)`},
				check: actions("DELETE", "INSERT", "INSERT"),
			},
			{
				name: "UPDATE OR REPLACE taking another row's unique value deletes that row",
				setup: []string{`CREATE TABLE "Kunden ü" (id INTEGER PRIMARY KEY, "e-mail" TEXT UNIQUE, "it's" TEXT)`,
					`INSERT INTO "Kunden ü" VALUES (1, 'a@x', 'eins'), (3, 'c@x', 'drei')`},
				keys:  map[string][]string{customers: {"id"}},
				steps: []string{`UPDATE OR REPLACE "Kunden ü" SET "e-mail" = 'c@x' WHERE id = 1`},
				check: actions("DELETE", "UPDATE"),
			},
			{
				name: "a table declaring ON CONFLICT REPLACE: INSERT and UPDATE record the rows they push out",
				setup: []string{`CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT UNIQUE ON CONFLICT REPLACE, n INTEGER)`,
					`INSERT INTO tags VALUES (1, 'a', 1), (2, 'b', 2)`},
				keys:  map[string][]string{"tags": {"id"}},
				steps: []string{`INSERT INTO tags VALUES (9, 'a', 9)`, `UPDATE tags SET name = 'b' WHERE id = 9`, `INSERT INTO tags VALUES (10, 'c', 0)`},
			},
			{
				name: "upsert: each row recorded as the INSERT or the UPDATE it was, DO UPDATE … WHERE skips get none",
				setup: []string{`CREATE TABLE stock ("Säule" TEXT, sku INTEGER, n INTEGER, note TEXT, PRIMARY KEY ("Säule", sku)) WITHOUT ROWID`,
					`INSERT INTO stock VALUES ('a', 1, 5, NULL), ('a', 2, 6, 'x'), ('b', 1, 7, NULL)`},
				keys: map[string][]string{"stock": {"Säule", "sku"}},
				steps: []string{`INSERT INTO stock VALUES ('a', 1, 50, 'up'), ('c', 1, 1, 'new') ON CONFLICT ("Säule", sku) DO UPDATE SET n = excluded.n, note = excluded.note`,
					`INSERT INTO stock AS s VALUES ('a', 2, 99, NULL), ('b', 1, 99, NULL) ON CONFLICT DO UPDATE SET n = excluded.n WHERE s.note IS NULL`,
					`INSERT INTO stock SELECT "Säule", sku + 10, n, note FROM stock WHERE true ON CONFLICT DO UPDATE SET n = n + 1 RETURNING sku, n`,
					`INSERT INTO stock VALUES ('a', 1, 50, 'up') ON CONFLICT DO UPDATE SET n = excluded.n`, // changes nothing
					`INSERT INTO stock VALUES ('a', 1, 0, NULL) ON CONFLICT DO NOTHING`},
			},
			{
				name:  "an UPDATE that moves rows to other keys is recorded under the old key",
				setup: []string{`CREATE TABLE "Ω [t]" (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO "Ω [t]" VALUES (1, 'a'), (2, 'b'), (3, 'c')`},
				keys:  map[string][]string{`"Ω [t]"`: {"id"}},
				steps: []string{`UPDATE "Ω [t]" SET id = id + 100, v = v || '!' WHERE id < 3`, `UPDATE "Ω [t]" SET rowid = 7 WHERE id = 3`},
			},
			{
				name: "ON DELETE CASCADE, SET NULL and ON UPDATE CASCADE: the child rows are recorded",
				setup: []string{`CREATE TABLE parents (id INTEGER PRIMARY KEY, code TEXT UNIQUE, name TEXT)`,
					`CREATE TABLE kids (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parents (id) ON DELETE CASCADE ON UPDATE CASCADE, pcode TEXT REFERENCES parents (code) ON UPDATE CASCADE ON DELETE SET NULL)`,
					`INSERT INTO parents VALUES (1, 'p1', 'one'), (2, 'p2', 'two'), (3, 'p3', 'three')`,
					`INSERT INTO kids VALUES (10, 1, 'p1'), (11, 1, 'p2'), (12, 2, 'p2'), (13, 3, 'p3')`},
				keys: map[string][]string{"parents": {"id"}, "kids": {"id"}},
				steps: []string{`DELETE FROM parents WHERE id = 1`, `UPDATE parents SET code = 'P2' WHERE id = 2`,
					`UPDATE parents SET id = 20 WHERE id = 2`, `DELETE FROM parents WHERE code = 'P2'`, `REPLACE INTO parents VALUES (3, 'p3', 'again')`},
			},
			{
				name: "a cascade through a self-referencing tree records every level",
				setup: []string{`CREATE TABLE nodes (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES nodes (id) ON DELETE CASCADE, label TEXT)`,
					`INSERT INTO nodes VALUES (1, NULL, 'root'), (2, 1, 'a'), (3, 2, 'b'), (4, 3, 'c'), (5, NULL, 'other')`},
				keys:  map[string][]string{"nodes": {"id"}},
				steps: []string{`DELETE FROM nodes WHERE id = 1`},
				check: actions("DELETE", "DELETE", "DELETE", "DELETE"),
			},
			{
				name: "OR FAIL keeps and records the rows changed before the failing one",
				setup: []string{`CREATE TABLE u (id INTEGER PRIMARY KEY, v INTEGER UNIQUE)`,
					`INSERT INTO u VALUES (1, 1), (2, 2), (3, 30)`},
				keys:  map[string][]string{"u": {"id"}},
				steps: []string{`UPDATE OR FAIL u SET v = v + 1 WHERE id IN (3, 1, 2)`, `UPDATE OR ABORT u SET v = 7 WHERE id = 3`},
			},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				db, td := mustOpen(t, drv, "_foreign_keys=1")
				mustExec(t, td.plain, c.setup...)
				for _, s := range c.steps {
					recs := checkChangeAll(t, td, c.keys, func() {
						rows, err := db.Query(s)
						if err != nil {
							if errors.Is(err, sqlaudit.ErrUnsupported) || errors.Is(err, sqlaudit.ErrRecord) {
								t.Fatalf("%s: %v", s, err)
							}
							return // the database's own error (OR FAIL, OR ABORT): the oracle checks what stayed
						}
						rows.Close()
					})
					for _, r := range recs {
						if r.Query != s {
							t.Errorf("record %d names the statement %q, want %q", r.ID, r.Query, s)
						}
					}
					if c.check != nil && len(c.steps) == 1 {
						c.check(t, recs)
					}
				}
			})
		}
	})
}

// actions checks the records' actions, in order.
func actions(want ...string) func(t *testing.T, recs []record) {
	return func(t *testing.T, recs []record) {
		t.Helper()
		var got []string
		for _, r := range recs {
			got = append(got, r.Action)
		}
		if len(got) != len(want) {
			t.Fatalf("actions %v, want %v", got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("actions %v, want %v", got, want)
			}
		}
	}
}

// A write to an excluded parent whose foreign-key actions change an audited
// child records the child rows (the parent's own rows stay unrecorded).
func TestSQLiteExcludedParentCascadingIntoAuditedChildIsRecorded(t *testing.T) {
	forEachSQLite(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv, "_foreign_keys=1", "audit_exclude=parents")
		mustExec(t, td.plain, `CREATE TABLE parents (id INTEGER PRIMARY KEY, name TEXT)`,
			`CREATE TABLE kids (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parents (id) ON DELETE CASCADE)`,
			`INSERT INTO parents VALUES (1, 'p'), (2, 'q')`, `INSERT INTO kids VALUES (10, 1), (11, 1), (12, 2)`)
		recs := checkChangeAll(t, td, map[string][]string{"kids": {"id"}}, func() { mustExec(t, db, `DELETE FROM parents WHERE id = 1`) })
		if len(recs) != 2 {
			t.Fatalf("want the two kids' DELETEs, got %+v", recs)
		}
		checkChangeAll(t, td, map[string][]string{"kids": {"id"}}, func() { mustExec(t, db, `UPDATE parents SET name = 'x'`) })
	})
}

// REPLACE deletions only fire triggers with recursive_triggers on. The
// wrapper turns it on for the statement, except when the database has
// triggers of its own (they would fire differently): then the statement is
// refused unless the application turned it on itself.
func TestSQLiteReplaceWithTheDatabasesOwnTriggers(t *testing.T) {
	forEachSQLite(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		db.SetMaxOpenConns(1)
		mustExec(t, td.plain, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `CREATE TABLE counts (id INTEGER PRIMARY KEY, n INTEGER)`, `INSERT INTO counts VALUES (1, 0)`,
			`INSERT INTO t VALUES (1, 'a')`, `CREATE TRIGGER t_del AFTER DELETE ON t BEGIN UPDATE counts SET n = n + 1; END`)
		before := td.snap(t, "t", "id")
		if _, err := db.Exec(`REPLACE INTO t VALUES (1, 'b')`); !errors.Is(err, sqlaudit.ErrUnsupported) {
			t.Fatalf("want ErrUnsupported, got %v", err)
		}
		if after := td.snap(t, "t", "id"); after[`{"id":1}`]["v"] != before[`{"id":1}`]["v"] {
			t.Fatal("the refused REPLACE changed the table")
		}
		mustExec(t, db, `PRAGMA recursive_triggers = ON`)
		checkChangeAll(t, td, map[string][]string{"t": {"id"}, "counts": {"id"}}, func() { mustExec(t, db, `REPLACE INTO t VALUES (1, 'b')`) })
		var rec int
		db.QueryRow(`SELECT recursive_triggers FROM pragma_recursive_triggers`).Scan(&rec)
		if rec != 1 {
			t.Fatal("the wrapper changed the application's recursive_triggers")
		}
	})
}

// Rows the database's own triggers change in audited tables are recorded
// with the statement that fired them; a statement run unaudited (policy
// warn) records nothing, not even under the previous statement's context.
func TestSQLiteRowsChangedByTriggersAndUnauditedStatements(t *testing.T) {
	forEachSQLite(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv, "audit_unsupported=warn")
		db.SetMaxOpenConns(1)
		mustExec(t, td.plain, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `CREATE TABLE log (id INTEGER PRIMARY KEY, what TEXT)`,
			`CREATE TRIGGER t_log AFTER UPDATE ON t BEGIN INSERT INTO log (what) VALUES ('updated ' || NEW.id); END`, `INSERT INTO t VALUES (1, 'a'), (2, 'b')`)
		keys := map[string][]string{"t": {"id"}, "log": {"id"}}
		recs := checkChangeAll(t, td, keys, func() { mustExec(t, db, `UPDATE t SET v = 'x' WHERE id = 1`) })
		if len(recs) != 2 {
			t.Fatalf("want the UPDATE and the trigger's INSERT, got %+v", recs)
		}
		since := td.maxID(t, "audit_log")
		mustExec(t, db, `UPDATE t SET v = 'g' WHERE v GLOB 'x*'`) // the parser cannot read GLOB: runs unaudited, warned
		if got := td.trail(t, "audit_log", since); len(got) != 0 {
			t.Fatalf("an unaudited statement left records: %+v", got)
		}
		checkChangeAll(t, td, keys, func() { mustExec(t, db, `DELETE FROM t WHERE id = 2`) })
		// Statements on the driver's own connection (sql.Conn.Raw) are not seen.
		c, err := db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		mustConnExec(t, c, `UPDATE t SET v = 'audited' WHERE id = 1`)
		since = td.maxID(t, "audit_log")
		err = c.Raw(func(dc any) error {
			raw := dc.(interface{ Unwrap() driver.Conn }).Unwrap()
			_, err := raw.(driver.ExecerContext).ExecContext(context.Background(), `UPDATE t SET v = 'raw' WHERE id = 1`, nil)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := td.trail(t, "audit_log", since); len(got) != 0 {
			t.Fatalf("a statement on the raw connection was recorded under the last audited one: %+v", got)
		}
	})
}

func mustConnExec(t *testing.T, c *sql.Conn, q string) {
	t.Helper()
	if _, err := c.ExecContext(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// Results are the plain driver's: RowsAffected, LastInsertId, changes(),
// last_insert_rowid() and RETURNING rows, for every shape.
func TestSQLiteResultsAreThePlainDrivers(t *testing.T) {
	forEachSQLite(t, func(t *testing.T, drv string) {
		setup := []string{`CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, n INTEGER)`, `INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3)`}
		steps := []string{
			`INSERT INTO t (k, n) VALUES ('d', 4), ('e', 5)`,
			`REPLACE INTO t VALUES (1, 'a', 10)`,
			`INSERT OR REPLACE INTO t (k, n) VALUES ('b', 20)`,
			`INSERT INTO t (k, n) VALUES ('c', 30), ('z', 0) ON CONFLICT (k) DO UPDATE SET n = excluded.n`,
			`INSERT INTO t (k, n) VALUES ('c', 31) ON CONFLICT (k) DO UPDATE SET n = excluded.n RETURNING id, n`,
			`UPDATE OR REPLACE t SET k = 'a' WHERE k = 'd' RETURNING *`,
			`INSERT OR IGNORE INTO t (k, n) VALUES ('a', 0)`,
			`DELETE FROM t WHERE n > 20 RETURNING k`,
			`DELETE FROM t`,
		}
		audited, td := mustOpen(t, drv)
		mustExec(t, td.plain, setup...)
		plain, err := sql.Open(plainDriver[drv], "file:"+filepath.Join(t.TempDir(), "plain.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer plain.Close()
		mustExec(t, plain, setup...)
		ctx := context.Background()
		var conns [2]*sql.Conn
		for i, db := range []*sql.DB{audited, plain} {
			if conns[i], err = db.Conn(ctx); err != nil {
				t.Fatal(err)
			}
			defer conns[i].Close()
		}
		run := func(c *sql.Conn, s string, query bool) string {
			out := ""
			if query {
				rows, err := c.QueryContext(ctx, s)
				if err != nil {
					t.Fatalf("%s: %v", s, err)
				}
				for rows.Next() {
					var a, b, d any
					dest := []any{&a, &b, &d}
					cols, _ := rows.Columns()
					if err := rows.Scan(dest[:len(cols)]...); err != nil {
						t.Fatal(err)
					}
					out += fmt.Sprint(a, b, d, ";")
				}
				if err := rows.Close(); err != nil {
					t.Fatal(err)
				}
			} else {
				res, err := c.ExecContext(ctx, s)
				if err != nil {
					t.Fatalf("%s: %v", s, err)
				}
				n, _ := res.RowsAffected()
				id, _ := res.LastInsertId()
				out = fmt.Sprint("rows ", n, " id ", id)
			}
			var ch, last int64
			if err := c.QueryRowContext(ctx, `SELECT changes(), last_insert_rowid()`).Scan(&ch, &last); err != nil {
				t.Fatal(err)
			}
			return out + fmt.Sprint(" changes() ", ch, " last_insert_rowid() ", last)
		}
		for _, query := range []bool{true, false} {
			for _, s := range steps {
				var got [2]string
				for i, c := range conns {
					got[i] = run(c, s, query)
				}
				if got[0] != got[1] {
					t.Errorf("%s (Query %v):\naudited %s\nplain   %s", s, query, got[0], got[1])
				}
			}
			for _, c := range conns {
				run(c, setup[1], false)
			}
		}
	})
}
