package sqlaudit_test

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sqlaudit/sqlaudit"
	"github.com/sqlaudit/sqlaudit/internal/dbtest"
)

// pgDrivers are the audit drivers on PostgreSQL.
var pgDrivers = dbtest.Selection("audit-postgres", "audit-pgx")

func forEachPGDriver(t *testing.T, f func(t *testing.T, drv string)) {
	for _, drv := range pgDrivers {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			f(t, drv)
		})
	}
}

// tableSpec names one table of a multi-table oracle: how SQL names it, the
// name its records carry, and its key columns.
type tableSpec struct {
	sql, name string
	key       []string
	stable    []string // columns no statement changes, to pair rows across a key change; default key
}

// checkTables is checkChange over several tables: the trail change writes
// must equal the true difference of every table's snapshots, and replaying
// each table's records must rebuild it.
func checkTables(t testing.TB, td *testDB, specs []tableSpec, change func()) []record {
	t.Helper()
	since := td.maxID(t, "audit_log")
	before, stableBefore := make([]snapshot, len(specs)), make([]snapshot, len(specs))
	stable := func(s tableSpec) []string {
		if s.stable != nil {
			return s.stable
		}
		return s.key
	}
	for i, s := range specs {
		before[i], stableBefore[i] = td.snap(t, s.sql, s.key...), td.snap(t, s.sql, stable(s)...)
	}
	change()
	got := td.trail(t, "audit_log", since)
	var want []record
	for i, s := range specs {
		after := td.snap(t, s.sql, s.key...)
		want = append(want, expected(s.name, stableBefore[i], td.snap(t, s.sql, stable(s)...))...)
		var mine []record
		for _, r := range got {
			if r.Table == s.name {
				mine = append(mine, r)
			}
		}
		if final := replay(t, before[i], mine, s.key...); !reflect.DeepEqual(final, after) {
			t.Fatalf("%s: replaying the trail gives\n%v\nwant\n%v", s.name, final, after)
		}
	}
	assertTrail(t, got, want)
	return got
}

// The family of tables the foreign-key action tests write, with hostile
// identifiers: a parent, children by CASCADE, SET NULL and SET DEFAULT on
// delete and on update (of the key and of a unique column), a grandchild,
// and ON DELETE SET NULL of one column of a composite foreign key.
var fkFamilyDDL = []string{
	`CREATE TABLE "Parent Table" ("Id" integer PRIMARY KEY, "co de" text UNIQUE, name text, uid integer)`,
	`CREATE TABLE kids (id integer PRIMARY KEY, "parent""id" integer REFERENCES "Parent Table" ON DELETE CASCADE ON UPDATE CASCADE, name text)`,
	`CREATE TABLE "select" ("order" integer PRIMARY KEY, kid integer REFERENCES kids ON DELETE CASCADE, label text)`,
	`CREATE TABLE notes (id integer PRIMARY KEY, parent_code text REFERENCES "Parent Table" ("co de") ON DELETE SET NULL ON UPDATE CASCADE, body text)`,
	`CREATE TABLE "ünï cöde" (id integer PRIMARY KEY, parent_id integer DEFAULT 0 REFERENCES "Parent Table" ON DELETE SET DEFAULT ON UPDATE SET NULL)`,
	`CREATE TABLE tenants (tenant integer, id integer, uid integer, PRIMARY KEY (tenant, id), FOREIGN KEY (tenant) REFERENCES "Parent Table" ON DELETE CASCADE ON UPDATE CASCADE)`,
	`CREATE TABLE docs (id integer PRIMARY KEY, tenant integer NOT NULL, tid integer,
	   FOREIGN KEY (tenant, tid) REFERENCES tenants ON DELETE SET NULL (tid) ON UPDATE CASCADE)`,
	`INSERT INTO "Parent Table" SELECT i, CASE i WHEN 0 THEN 'zero' ELSE chr(96 + i) END, 'p' || i, i FROM generate_series(0, 4) i`,
	`INSERT INTO kids VALUES (10, 1, 'k10'), (11, 1, 'k11'), (12, 2, 'k12'), (13, NULL, 'orphan')`,
	`INSERT INTO "select" VALUES (100, 10, 'toy'), (101, 11, 'toy'), (102, 12, 'toy')`,
	`INSERT INTO notes VALUES (20, 'a', 'n'), (21, 'b', 'n'), (22, 'd', 'n')`,
	`INSERT INTO "ünï cöde" VALUES (30, 1), (31, 3)`,
	`INSERT INTO tenants VALUES (1, 1, 1), (1, 2, 2), (3, 1, 3)`,
	`INSERT INTO docs VALUES (40, 1, 1), (41, 1, 2), (42, 3, 1), (43, 2, NULL)`,
}

var fkFamily = []tableSpec{
	{`"Parent Table"`, "Parent Table", []string{"Id"}, []string{"uid"}},
	{`kids`, "kids", []string{"id"}, nil},
	{`"select"`, "select", []string{"order"}, nil},
	{`notes`, "notes", []string{"id"}, nil},
	{`"ünï cöde"`, "ünï cöde", []string{"id"}, nil},
	{`tenants`, "tenants", []string{"tenant", "id"}, []string{"uid"}},
	{`docs`, "docs", []string{"id"}, nil},
}

func TestForeignKeyActionsAreRecorded(t *testing.T) {
	cases := []struct{ name, stmt string }{
		{"a deleted parent's children and grandchildren are recorded as deleted, set null and set to default", `DELETE FROM "Parent Table" WHERE "Id" = 1`},
		{"deleting several parents records every child once", `DELETE FROM "Parent Table" WHERE "Id" IN (1, 2, 3, 4)`},
		{"a parent without children is recorded alone", `DELETE FROM "Parent Table" WHERE "Id" = 4`},
		{"DELETE USING fires the actions of the rows it deletes", `DELETE FROM "Parent Table" AS p USING (VALUES (2), (3)) AS v(x) WHERE p."Id" = v.x`},
		{"a changed key cascades to the children and sets others to null", `UPDATE "Parent Table" SET "Id" = "Id" + 100 WHERE "Id" IN (1, 3)`},
		{"a changed unique column cascades to the rows that reference it", `UPDATE "Parent Table" SET "co de" = upper("co de") WHERE "Id" < 3`},
		{"an update that keeps the referenced values fires nothing", `UPDATE "Parent Table" SET "Id" = "Id", name = 'same key' WHERE "Id" = 1`},
		{"an update of other columns fires nothing", `UPDATE "Parent Table" SET name = 'renamed'`},
		{"ON DELETE SET NULL of one column of a composite key", `DELETE FROM tenants WHERE id = 1`},
		{"a composite key changed cascades", `UPDATE tenants SET id = id + 10 WHERE tenant = 1`},
		{"a statement after its own WITH query", `WITH doomed AS (SELECT "Id" FROM "Parent Table" WHERE name IN ('p2', 'p3')) DELETE FROM "Parent Table" WHERE "Id" IN (SELECT "Id" FROM doomed)`},
	}
	forEachPGDriver(t, func(t *testing.T, drv string) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				db, td := mustOpen(t, drv)
				mustExec(t, td.plain, fkFamilyDDL...)
				checkTables(t, td, fkFamily, func() { mustExec(t, db, c.stmt) })
			})
		}
	})
}

// Actions through and from excluded tables: an excluded parent's actions
// into audited tables are recorded (its own rows are not), an excluded
// child in the middle is performed unrecorded so that its audited children
// are recorded, and actions that reach no audited table are left to the
// database.
func TestForeignKeyActionsThroughExcludedTables(t *testing.T) {
	cases := []struct {
		name, exclude, stmt string
	}{
		{"an excluded parent's children are recorded", `Parent Table`, `DELETE FROM "Parent Table" WHERE "Id" IN (1, 2)`},
		{"grandchildren under an excluded child are recorded", `kids`, `DELETE FROM "Parent Table" WHERE "Id" IN (1, 2)`},
		{"actions into excluded tables only run unrecorded", `kids,select,notes,ünï cöde,tenants,docs`, `DELETE FROM "Parent Table" WHERE "Id" = 1`},
		{"an excluded parent whose actions reach no audited table runs as is", `Parent Table,kids,select,notes,ünï cöde,tenants,docs`, `DELETE FROM "Parent Table" WHERE "Id" = 1`},
	}
	forEachPGDriver(t, func(t *testing.T, drv string) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				db, td := mustOpen(t, drv, "audit_exclude="+url.QueryEscape(c.exclude))
				mustExec(t, td.plain, fkFamilyDDL...)
				var audited []tableSpec
				excluded := strings.Split(c.exclude, ",")
				for _, s := range fkFamily {
					if !slices.Contains(excluded, s.name) {
						audited = append(audited, s)
					}
				}
				before := td.snap(t, `"Parent Table"`, "Id")
				checkTables(t, td, audited, func() { mustExec(t, db, c.stmt) })
				if reflect.DeepEqual(before, td.snap(t, `"Parent Table"`, "Id")) {
					t.Fatal("the statement changed nothing")
				}
			})
		}
	})
}

// The actions run in the caller's transaction: rolled back with it, or
// committed with it, with RETURNING rows and prepared statements; a
// statement the database refuses (a RESTRICT further down) returns the
// database's error and leaves no records: foreign_key_violation (23503) up to
// PostgreSQL 17, restrict_violation (23001) from 18 on, which reports an ON
// DELETE RESTRICT violation apart from NO ACTION's (still 23503).
func TestForeignKeyActionsInTransactions(t *testing.T) {
	forEachPGDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		mustExec(t, td.plain, fkFamilyDDL...)
		ctx := context.Background()
		since := td.maxID(t, "audit_log")
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(`DELETE FROM "Parent Table" WHERE "Id" = 1`); err != nil {
			t.Fatal(err)
		}
		tx.Rollback()
		if recs := td.trail(t, "audit_log", since); len(recs) != 0 {
			t.Fatalf("a rolled-back transaction left %d records", len(recs))
		}
		checkTables(t, td, fkFamily, func() {
			tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
			if err != nil {
				t.Fatal(err)
			}
			st, err := db.PrepareContext(ctx, `DELETE FROM "Parent Table" WHERE "Id" = $1 RETURNING "Id", name`)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var id int
			var name string
			if err := tx.Stmt(st).QueryRow(1).Scan(&id, &name); err != nil || id != 1 || name != "p1" {
				t.Fatalf("RETURNING gave %d %q, %v", id, name, err)
			}
			if _, err := tx.Exec(`UPDATE "Parent Table" SET "co de" = 'B' WHERE "Id" = $1`, 2); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		})
		checkTables(t, td, fkFamily, func() { // outside a transaction, with RETURNING rows
			rows, err := db.Query(`DELETE FROM "Parent Table" WHERE "Id" > 1 RETURNING "Id"`)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for rows.Next() {
				n++
			}
			if rows.Close(); n != 3 {
				t.Fatalf("%d rows returned, want 3", n)
			}
		})
		mustExec(t, td.plain, `INSERT INTO "Parent Table" VALUES (5, 'e', 'p5', 5)`, `INSERT INTO kids VALUES (50, 5, 'k')`,
			`CREATE TABLE keep (id integer PRIMARY KEY, kid integer CONSTRAINT keep_kid REFERENCES kids ON DELETE RESTRICT)`, `INSERT INTO keep VALUES (1, 50)`)
		restrict := "23503"
		if pgServerVersion(t) >= 180000 {
			restrict = "23001"
		}
		for _, c := range []struct{ action, sqlstate string }{{"RESTRICT", restrict}, {"NO ACTION", "23503"}} {
			mustExec(t, td.plain, `ALTER TABLE keep DROP CONSTRAINT keep_kid`,
				`ALTER TABLE keep ADD CONSTRAINT keep_kid FOREIGN KEY (kid) REFERENCES kids ON DELETE `+c.action)
			since = td.maxID(t, "audit_log")
			_, err = db.Exec(`DELETE FROM "Parent Table" WHERE "Id" = 5`)
			var pqErr interface{ SQLState() string }
			if !errors.As(err, &pqErr) || pqErr.SQLState() != c.sqlstate {
				t.Fatalf("ON DELETE %s: want the database's violation (SQLSTATE %s), got %v", c.action, c.sqlstate, err)
			}
			if recs := td.trail(t, "audit_log", since); len(recs) != 0 {
				t.Fatalf("ON DELETE %s: a failed statement left %d records", c.action, len(recs))
			}
		}
	})
}

// What the wrapper cannot perform itself stays refused: ON UPDATE CASCADE
// of a table to itself (rows with children), TRUNCATE of a
// referenced table, an upsert that may change a referenced column, an UPDATE
// whose generated column (or BEFORE trigger) changes a referenced column
// its SET does not assign, when the row has children.
func TestForeignKeyActionsStillRefused(t *testing.T) {
	forEachPGDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		mustExec(t, td.plain, fkFamilyDDL...)
		mustExec(t, td.plain, `CREATE TABLE staff (id integer PRIMARY KEY, boss integer REFERENCES staff ON DELETE SET NULL ON UPDATE CASCADE, uid integer)`,
			`INSERT INTO staff VALUES (1, NULL, 1), (2, 1, 2), (3, NULL, 3), (4, 3, 4), (5, 4, 5)`,
			`CREATE TABLE gen (id integer PRIMARY KEY, name text, code text GENERATED ALWAYS AS (upper(name)) STORED UNIQUE)`,
			`CREATE TABLE gen_kids (id integer PRIMARY KEY, code text REFERENCES gen (code) ON UPDATE CASCADE)`,
			`INSERT INTO gen (id, name) VALUES (1, 'a'), (2, 'b')`, `INSERT INTO gen_kids VALUES (10, 'A')`)
		for _, q := range []string{
			`UPDATE staff SET id = 100 WHERE id = 1`,
			`TRUNCATE "Parent Table"`,
			`INSERT INTO "Parent Table" VALUES (1, 'x', 'y', 1) ON CONFLICT ("Id") DO UPDATE SET "co de" = excluded."co de"`,
			`UPDATE gen SET name = 'z' WHERE id = 1`,
		} {
			if _, err := db.Exec(q); !errors.Is(err, sqlaudit.ErrUnsupported) {
				t.Errorf("%s: want ErrUnsupported, got %v", q, err)
			}
		}
		staff := []tableSpec{{"staff", "staff", []string{"id"}, []string{"uid"}}}
		checkTables(t, td, staff, func() { mustExec(t, db, `UPDATE staff SET id = 50 WHERE id = 5`) }) // no children
		// ON DELETE SET NULL to itself is recorded; a child deleted by the
		// statement itself is not also updated.
		checkTables(t, td, staff, func() { mustExec(t, db, `DELETE FROM staff WHERE id IN (1, 3, 4)`) })
		checkTables(t, td, []tableSpec{{"gen", "gen", []string{"id"}, nil}, {"gen_kids", "gen_kids", []string{"id"}, nil}}, func() {
			mustExec(t, db, `UPDATE gen SET name = 'y' WHERE id = 2`) // no children: runs, recorded
		})
		checkTables(t, td, fkFamily, func() {
			mustExec(t, db, `INSERT INTO "Parent Table" VALUES (1, 'x', 'y', 1) ON CONFLICT ("Id") DO UPDATE SET name = excluded.name`)
		})
	})
}

// BenchmarkDeleteWithCascade deletes a parent and its ON DELETE CASCADE
// child (re-inserted untimed), plain and audited, outside a transaction
// (the wrapper opens one: BEGIN, lock, write, COMMIT) and inside one.
func BenchmarkDeleteWithCascade(b *testing.B) {
	for _, drv := range pgDrivers {
		b.Run(drv, func(b *testing.B) {
			audited, td := mustOpen(b, drv)
			mustExec(b, td.plain, `CREATE TABLE parents (id integer PRIMARY KEY)`,
				`CREATE TABLE kids (id integer PRIMARY KEY, parent_id integer REFERENCES parents ON DELETE CASCADE)`)
			for _, v := range []struct {
				name string
				db   *sql.DB
				tx   bool
			}{{"plain", td.plain, false}, {"audited", audited, false}, {"plain-in-tx", td.plain, true}, {"audited-in-tx", audited, true}} {
				b.Run(v.name, func(b *testing.B) {
					for b.Loop() {
						b.StopTimer()
						mustExec(b, td.plain, `INSERT INTO parents VALUES (1)`, `INSERT INTO kids VALUES (10, 1)`)
						b.StartTimer()
						if v.tx {
							tx, _ := v.db.Begin()
							if _, err := tx.Exec(`DELETE FROM parents WHERE id = $1`, 1); err != nil {
								b.Fatal(err)
							}
							tx.Commit()
						} else if _, err := v.db.Exec(`DELETE FROM parents WHERE id = $1`, 1); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// A table with ON DELETE CASCADE to itself (a tree): the statement deletes
// every descendant of its rows, at any depth, with the children of all of
// them in other tables; rows that are also descendants of others, and
// cycles in the data, are deleted and recorded once; RowsAffected is the
// plain driver's.
func TestForeignKeyCascadeOfATableToItself(t *testing.T) {
	setup := []string{
		`CREATE TABLE "Staff Tree" ("Id" integer PRIMARY KEY, "bo ss" integer REFERENCES "Staff Tree" ON DELETE CASCADE, name text)`,
		`CREATE TABLE badges (id integer PRIMARY KEY, staff integer REFERENCES "Staff Tree" ON DELETE CASCADE)`,
		`INSERT INTO "Staff Tree" VALUES (1, NULL, 'ceo'), (2, 1, 'vp'), (3, 2, 'lead'), (4, 3, 'dev'), (5, 4, 'intern'),
		   (6, 1, 'vp2'), (7, NULL, 'other'), (8, 7, 'x'), (50, NULL, 'cycle a'), (51, 50, 'cycle b')`,
		`UPDATE "Staff Tree" SET "bo ss" = 51 WHERE "Id" = 50`,
		`INSERT INTO badges VALUES (100, 1), (101, 3), (102, 5), (103, 8), (104, 51)`,
	}
	specs := []tableSpec{{`"Staff Tree"`, "Staff Tree", []string{"Id"}, nil}, {"badges", "badges", []string{"id"}, nil}}
	cases := []struct{ name, stmt string }{
		{"a root's descendants at every depth and their children elsewhere", `DELETE FROM "Staff Tree" WHERE "Id" = 1`},
		{"a row that is also a descendant of another deleted row", `DELETE FROM "Staff Tree" WHERE "Id" IN (2, 4, 7)`},
		{"a cycle in the data", `DELETE FROM "Staff Tree" WHERE "Id" = 50`},
		{"a leaf", `DELETE FROM "Staff Tree" WHERE name = 'intern'`},
		{"with RETURNING", `DELETE FROM "Staff Tree" WHERE "Id" = 3 RETURNING name`},
	}
	forEachPGDriver(t, func(t *testing.T, drv string) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				db, td := mustOpen(t, drv)
				mustExec(t, td.plain, setup...)
				var got int64
				checkTables(t, td, specs, func() {
					res, err := db.Exec(c.stmt)
					if err != nil {
						t.Fatal(err)
					}
					got, _ = res.RowsAffected()
				})
				_, tdPlain := mustOpen(t, drv)
				mustExec(t, tdPlain.plain, setup...)
				res, err := tdPlain.plain.Exec(c.stmt)
				if err != nil {
					t.Fatal(err)
				}
				if want, _ := res.RowsAffected(); got != want {
					t.Fatalf("RowsAffected %d, the plain driver's %d", got, want)
				}
			})
		}
	})
}
