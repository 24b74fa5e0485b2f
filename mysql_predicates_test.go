package sqlaudit_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/sqlaudit/sqlaudit"
)

// The caller's predicate is evaluated once, by the copy: a predicate that is
// not a deterministic function of the row (RAND(), a subquery) selects the
// same rows through the wrapper as through the plain driver. RAND(seed) gives each scanned row the same value in both, so
// the rows changed must be the very rows the plain statement changes; the
// trail is exact each time. (Run twice, RAND() < 0.5 changed about a
// quarter of the rows instead of half.) A counter in SET (:=) ends where the
// plain one does. Predicates the copy cannot evaluate as the statement
// would — a user-variable assignment, a sequence step, a subquery that calls
// RAND() — are refused.
func TestMySQLVolatilePredicatesAreEvaluatedOnce(t *testing.T) {
	db, td := mustOpen(t, "audit-mysql")
	db.SetMaxOpenConns(1) // one session for the user variable
	td.plain.SetMaxOpenConns(1)
	mustExec(t, td.plain, `CREATE SEQUENCE a_s`)
	for _, table := range []string{"a", "p"} {
		mustExec(t, td.plain, `CREATE TABLE `+table+` (id int PRIMARY KEY, v int, grp int, KEY (grp))`,
			`INSERT INTO `+table+` SELECT seq, 0, seq % 7 FROM seq_1_to_200`)
	}
	for _, q := range []string{
		`UPDATE %s SET v = v + 1 WHERE RAND(42) < 0.5`,
		`UPDATE %s SET v = v + 1 WHERE grp = 3 AND RAND(7) < 0.5`,
		`UPDATE %s SET v = (@n := @n + 1) WHERE RAND(5) < 0.5`,
		`UPDATE %s SET v = v + 1 WHERE RAND(3) < 0.3 ORDER BY id DESC LIMIT 20`,
		`DELETE FROM %s WHERE RAND(11) < 0.2`,
		`DELETE FROM %s WHERE RAND(13) < 0.1 ORDER BY id LIMIT 7 RETURNING id`,
		`UPDATE %s SET v = v + 1 WHERE id IN (SELECT id FROM p WHERE grp = 2)`,
	} {
		mustExec(t, td.plain, `SET @n = 0`)
		mustExec(t, db, `SET @n = 0`)
		plain, err := td.plain.Exec(strings.ReplaceAll(q, "%s", "p"))
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		recs := checkChange(t, td, "a", []string{"id"}, func() {
			rows, err := db.Query(strings.ReplaceAll(q, "%s", "a"))
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			rows.Close()
		})
		if want, _ := plain.RowsAffected(); !strings.Contains(q, "RETURNING") && int64(len(recs)) != want {
			t.Errorf("%s: %d rows changed through the wrapper, %d through the plain driver", q, len(recs), want)
		}
		if a, p := td.snap(t, "a", "id"), td.snap(t, "p", "id"); !reflect.DeepEqual(a, p) {
			t.Fatalf("%s: the wrapper changed other rows than the plain driver", q)
		}
		var na, np int64
		if err := db.QueryRow(`SELECT @n`).Scan(&na); err != nil {
			t.Fatal(err)
		}
		if err := td.plain.QueryRow(`SELECT @n`).Scan(&np); err != nil {
			t.Fatal(err)
		}
		if na != np {
			t.Fatalf("%s: the counter ended at %d through the wrapper, %d through the plain driver: the predicate ran another number of times", q, na, np)
		}
	}
	// A function that counts its calls: through the wrapper it runs as often
	// as through the plain driver (once per row scanned, by the copy), and
	// selects the same rows.
	mustExec(t, td.plain, `CREATE TABLE calls (n int)`, `INSERT INTO calls VALUES (0)`,
		`CREATE FUNCTION tick() RETURNS int NOT DETERMINISTIC MODIFIES SQL DATA BEGIN UPDATE calls SET n = n + 1; RETURN (SELECT n FROM calls); END`)
	var rows int
	if err := td.plain.QueryRow(`SELECT count(*) FROM p`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"p", "a"} {
		mustExec(t, td.plain, `UPDATE calls SET n = 0`)
		run := func() { mustExec(t, td.plain, `UPDATE p SET v = v + 1 WHERE tick() % 2 = 0`) }
		if table == "a" {
			run = func() {
				checkChange(t, td, "a", []string{"id"}, func() { mustExec(t, db, `UPDATE a SET v = v + 1 WHERE tick() % 2 = 0`) })
			}
		}
		run()
		var n int
		if err := td.plain.QueryRow(`SELECT n FROM calls`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != rows {
			t.Fatalf("%s: the predicate ran %d times for %d rows", table, n, rows)
		}
	}
	if a, p := td.snap(t, "a", "id"), td.snap(t, "p", "id"); !reflect.DeepEqual(a, p) {
		t.Fatal("tick(): the wrapper changed other rows than the plain driver")
	}
	// RAND() < 0.5 changes half the rows, not a quarter: in four runs, twice
	// the rows expected (for the 161 rows left, sd 13); run twice, the rows
	// once (sd 11).
	changed := 0
	for range 4 {
		recs := checkChange(t, td, "a", []string{"id"}, func() { mustExec(t, db, `UPDATE a SET v = v + 1 WHERE RAND() < 0.5`) })
		changed += len(recs)
	}
	if changed*8 < rows*4*3 { // below 3/8 of the rows: between a quarter and a half
		t.Fatalf("RAND() < 0.5 changed %d of %d rows in 4 runs: the predicate ran twice", changed, 4*rows)
	}
	for _, q := range []string{
		// A multi-table statement keeps its predicate, which also picks the
		// rows its SET reads: a volatile one is refused.
		`UPDATE a JOIN p ON p.id = a.id SET a.v = p.v WHERE RAND() < 0.5`,
		// MariaDB steps a sequence once per INSERT … SELECT (the copy), but
		// once per row in an UPDATE, and folds an assignment in an UPDATE's
		// predicate to a constant: refused.
		`UPDATE a SET v = v + 10 WHERE NEXTVAL(a_s) % 2 = 0`,
		`UPDATE a SET v = v + 10 WHERE (@n := @n + 1) % 3 = 0`,
		`DELETE FROM a ORDER BY (@n := @n + 1) LIMIT 3`,
		// A subquery that picks a random row is read again for every row by
		// an UPDATE, but once by the copy's SELECT: refused.
		`UPDATE a SET v = v + 1 WHERE id = (SELECT id FROM p ORDER BY RAND() LIMIT 1)`,
	} {
		if _, err := db.Exec(q); !errors.Is(err, sqlaudit.ErrUnsupported) {
			t.Errorf("%s: want ErrUnsupported, got %v", q, err)
		}
	}
}

// A self-join UPDATE of both aliases changes rows of one table through
// each: every row changed gets one record (it got two: one copy table was
// shared by both aliases, and each wrote its records), also a row both
// aliases reach; a self-join DELETE of both likewise.
func TestMySQLSelfJoinWritesRecordEachRowOnce(t *testing.T) {
	db, td := mustOpen(t, "audit-mysql")
	mustExec(t, td.plain, `CREATE TABLE nodes (id int PRIMARY KEY, parent int, x int, y int)`,
		`INSERT INTO nodes VALUES (1, NULL, 0, 0), (2, 1, 0, 0), (3, 1, 0, 0), (4, 2, 0, 0), (5, 4, 0, 0)`)
	for _, q := range []string{
		`UPDATE nodes AS c JOIN nodes AS par ON c.parent = par.id SET c.x = c.x + 1, par.y = par.y + 1 WHERE par.id < 4`,
		`UPDATE nodes c, nodes par SET c.x = par.x + 10, par.y = 7 WHERE c.parent = par.id AND c.id = 5`,
		`DELETE c, par FROM nodes AS c JOIN nodes AS par ON c.parent = par.id WHERE c.id = 5`,
	} {
		checkChange(t, td, "nodes", []string{"id"}, func() { mustExec(t, db, q) })
	}
}

// MariaDB takes at most 65,535 placeholders in a statement. An UPDATE whose
// audited form would have more as one compound statement (it repeats the
// predicate's arguments) runs as separate statements instead, and one that
// cannot fit at all is refused with the reason, before anything runs (it
// failed with the server's 1390).
func TestMySQLStatementsWithManyPlaceholders(t *testing.T) {
	db, td := mustOpen(t, "audit-mysql")
	mustExec(t, td.plain, `CREATE TABLE t (id int PRIMARY KEY, v int)`, `INSERT INTO t SELECT seq, 0 FROM seq_1_to_100`)
	in := func(n int) (string, []any) {
		args := make([]any, n)
		for i := range args {
			args[i] = i + 1
		}
		return `UPDATE t SET v = v + 1 WHERE id IN (?` + strings.Repeat(", ?", n-1) + `)`, args
	}
	q, args := in(40000)
	checkChange(t, td, "t", []string{"id"}, func() {
		res, err := db.Exec(q, args...)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n != 100 {
			t.Fatalf("RowsAffected %d, want 100", n)
		}
	})
	q, args = in(65535)
	if _, err := td.plain.Exec(q, args...); err != nil {
		t.Fatalf("the plain driver: %v", err)
	}
	before := td.snap(t, "t", "id")
	if _, err := db.Exec(q, args...); !errors.Is(err, sqlaudit.ErrUnsupported) || !strings.Contains(err.Error(), "placeholders") {
		t.Fatalf("want ErrUnsupported naming the placeholders, got %v", err)
	}
	if !reflect.DeepEqual(before, td.snap(t, "t", "id")) {
		t.Fatal("the refused statement changed rows")
	}
}
