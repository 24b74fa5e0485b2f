package sqlaudit_test

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"testing"

	"github.com/sqlaudit/sqlaudit"
)

// A migration run by another client while the application's connections
// hold their catalog: the next write notices it, reads the catalog again and
// is recorded exactly — outside a transaction transparently, inside one with
// ErrConflict, nothing changed, the transaction to be run again (issue 14,
// item 4: an added column's change went unrecorded, a renamed key was
// recorded as null, a moved key kept its old columns, a retyped column hid
// scale-only changes).
func TestPostgreSQLSchemaChangedByAnotherClient(t *testing.T) {
	cases := []struct {
		name      string
		key       []string
		migration string
		write     string
	}{
		{"a column added, then only it changes", []string{"id"}, `ALTER TABLE accounts ADD COLUMN extra integer`,
			`UPDATE accounts SET extra = 5 WHERE id = 1`},
		{"a column added, then a known one and it change", []string{"id"}, `ALTER TABLE accounts ADD COLUMN extra integer DEFAULT 7`,
			`UPDATE accounts SET extra = 5, balance = 11 WHERE id = 1`},
		{"the key column renamed, then a DELETE", []string{"account_id"}, `ALTER TABLE accounts RENAME COLUMN id TO account_id`,
			`DELETE FROM accounts WHERE account_id = 2`},
		{"the key column renamed, then an INSERT", []string{"account_id"}, `ALTER TABLE accounts RENAME COLUMN id TO account_id`,
			`INSERT INTO accounts (account_id, region) VALUES (9, 'eu')`},
		{"the primary key moved, then a DELETE", []string{"id", "region"},
			`ALTER TABLE accounts DROP CONSTRAINT accounts_pkey, ADD PRIMARY KEY (id, region)`, `DELETE FROM accounts WHERE id = 3`},
		{"the primary key moved, then an upsert", []string{"id", "region"},
			`ALTER TABLE accounts DROP CONSTRAINT accounts_pkey, ADD PRIMARY KEY (id, region)`,
			`INSERT INTO accounts (id, region, balance) VALUES (1, 'eu', 10) ON CONFLICT (id, region) DO UPDATE SET note = 'up'`},
		{"a float8 column made numeric, then a change of scale only", []string{"id"}, `ALTER TABLE accounts ALTER COLUMN score TYPE numeric`,
			`UPDATE accounts SET score = 1.50 WHERE id = 1`},
		{"a text column made case-insensitive, then a change of case only", []string{"id"},
			`ALTER TABLE accounts ALTER COLUMN note TYPE text COLLATE caseless`,
			`UPDATE accounts SET note = upper(note) WHERE id = 1`},
		{"an integer column made case-insensitive text, then a change of case only", []string{"id"},
			`ALTER TABLE accounts ALTER COLUMN code TYPE text COLLATE caseless USING 'x' || code`,
			`UPDATE accounts SET code = 'X1' WHERE id = 1`},
		{"a column renamed, then an UPDATE of another", []string{"id"}, `ALTER TABLE accounts RENAME COLUMN note TO remark`,
			`UPDATE accounts SET balance = balance + 1 WHERE id = 1`},
		{"a column dropped, then an UPDATE of another", []string{"id"}, `ALTER TABLE accounts DROP COLUMN note`,
			`UPDATE accounts SET balance = balance + 1 WHERE id = 2`},
	}
	forEachPGDriver(t, func(t *testing.T, drv string) {
		for _, tc := range cases {
			db, td := mustOpen(t, drv)
			seedAccounts(t, db)
			mustExec(t, db, `ALTER TABLE accounts ADD COLUMN score float8 DEFAULT 1.5, ADD COLUMN code integer DEFAULT 1`,
				`CREATE COLLATION IF NOT EXISTS caseless (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`)
			ctx := context.Background()
			conn, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// Every kind of write once, so the connection has its catalog and plans.
			for _, q := range []string{`UPDATE accounts SET note = 'warm' WHERE id = 1`, `DELETE FROM accounts WHERE id = 99`,
				`INSERT INTO accounts (id, region) VALUES (8, 'us') ON CONFLICT (id) DO UPDATE SET note = 'warm'`} {
				if _, err := conn.ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			mustExec(t, td.plain, tc.migration)
			checkChange(t, td, "accounts", tc.key, func() {
				if _, err := conn.ExecContext(ctx, tc.write); err != nil {
					t.Fatalf("%s: %s: %v", tc.name, tc.write, err)
				}
			})
			conn.Close()
		}
	})
}

// Inside a transaction the statement that finds the catalog changed fails
// the transaction, as a serialization failure would: ErrConflict, nothing
// recorded; run again, it is recorded.
func TestPostgreSQLSchemaChangedByAnotherClientInATransaction(t *testing.T) {
	forEachPGDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		seedAccounts(t, db)
		ctx := context.Background()
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, `UPDATE accounts SET note = 'warm' WHERE id = 1`); err != nil {
			t.Fatal(err)
		}
		mustExec(t, td.plain, `ALTER TABLE accounts ADD COLUMN extra integer`)
		since := td.maxID(t, "audit_log")
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tx.Exec(`UPDATE accounts SET extra = 5 WHERE id = 1`)
		tx.Rollback()
		if !errors.Is(err, sqlaudit.ErrConflict) {
			t.Fatalf("in a transaction: %v, want ErrConflict", err)
		}
		if recs := td.trail(t, "audit_log", since); len(recs) != 0 {
			t.Fatalf("the failed transaction left records %v", recs)
		}
		checkChange(t, td, "accounts", []string{"id"}, func() {
			err := func() error {
				tx, err := conn.BeginTx(ctx, nil)
				if err != nil {
					return err
				}
				defer tx.Rollback()
				if _, err := tx.Exec(`UPDATE accounts SET extra = 5 WHERE id = 1`); err != nil {
					return err
				}
				return tx.Commit()
			}()
			if err != nil {
				t.Fatalf("run again: %v", err)
			}
		})
	})
}

// Writes whose rows the rewrite would read from other tables than it names
// are refused, changing nothing: a table with rules (DO INSTEAD made a
// DELETE record a row that still exists), and an UPDATE or DELETE without
// ONLY of a table others inherit from (their rows were recorded under its
// name, without their columns) — issue 14, items 5 and 7. With ONLY, the
// write is recorded.
func TestPostgreSQLRulesAndInheritanceAreRefused(t *testing.T) {
	forEachPGDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		mustExec(t, db, `CREATE TABLE docs (id int PRIMARY KEY, title text, deleted boolean DEFAULT false)`,
			`INSERT INTO docs VALUES (1, 'a'), (2, 'b')`,
			`CREATE RULE soft_delete AS ON DELETE TO docs DO INSTEAD UPDATE docs SET deleted = true WHERE id = OLD.id`,
			`CREATE TABLE people (id int PRIMARY KEY, name text)`, `CREATE TABLE staff (salary int, PRIMARY KEY (id)) INHERITS (people)`,
			`INSERT INTO people VALUES (1, 'p')`, `INSERT INTO staff VALUES (1, 's', 10)`)
		for _, q := range []string{`DELETE FROM docs WHERE id = 1`, `UPDATE docs SET title = 'x'`, `INSERT INTO docs VALUES (3, 'c')`,
			`UPDATE people SET name = 'q' WHERE id = 1`, `DELETE FROM people`, `TRUNCATE people`} {
			before := td.snap(t, "docs", "id")
			_, err := db.Exec(q)
			if !errors.Is(err, sqlaudit.ErrUnsupported) {
				t.Errorf("%s: %v, want ErrUnsupported", q, err)
			}
			if after := td.snap(t, "docs", "id"); len(after) != len(before) {
				t.Errorf("%s changed docs", q)
			}
		}
		var people, staff int
		if err := td.plain.QueryRow(`SELECT (SELECT count(*) FROM ONLY people), (SELECT count(*) FROM staff)`).Scan(&people, &staff); err != nil || people != 1 || staff != 1 {
			t.Fatalf("the refused writes changed people/staff: %d, %d, %v", people, staff, err)
		}
		since := td.maxID(t, "audit_log")
		mustExec(t, db, `UPDATE ONLY people SET name = 'q' WHERE id = 1`)
		if recs := td.trail(t, "audit_log", since); len(recs) != 1 || recs[0].Table != "people" || recs[0].New["name"] != "q" {
			t.Fatalf("UPDATE ONLY people: %v, want one record of people", recs)
		}
		checkChange(t, td, "staff", []string{"id"}, func() { mustExec(t, db, `UPDATE staff SET name = 't' WHERE id = 1`) })
	})
}

// Row-level security makes the rows the wrapper reads differ from the rows
// a statement changes (issue 14, item 8): a write to a table whose policies
// apply to the role, or whose foreign-key actions reach one, is refused;
// the table's owner, to whom they do not apply, is audited as usual.
func TestPostgreSQLRowLevelSecurityIsRefusedWhereItApplies(t *testing.T) {
	forEachPGDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		role := td.schema() + "_rls"
		mustExec(t, db, `CREATE TABLE notes (id int PRIMARY KEY, owner text, body text)`,
			`CREATE TABLE parents (id int PRIMARY KEY)`, `CREATE TABLE kids (id int PRIMARY KEY, parent_id int REFERENCES parents ON DELETE CASCADE, owner text)`,
			`INSERT INTO notes VALUES (1, 'me', 'a'), (2, 'you', 'b')`, `INSERT INTO parents VALUES (1)`, `INSERT INTO kids VALUES (1, 1, 'me'), (2, 1, 'you')`,
			`ALTER TABLE notes ENABLE ROW LEVEL SECURITY`, `CREATE POLICY mine ON notes USING (owner = 'me')`,
			`ALTER TABLE kids ENABLE ROW LEVEL SECURITY`, `CREATE POLICY mine ON kids USING (owner = 'me')`)
		mustExec(t, td.plain, `CREATE ROLE `+role, `GRANT USAGE ON SCHEMA `+td.schema()+` TO `+role,
			`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA `+td.schema()+` TO `+role)
		t.Cleanup(func() {
			td.plain.Exec(`DROP OWNED BY ` + role)
			td.plain.Exec(`DROP ROLE ` + role)
		})
		ctx := context.Background()
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		checkChange(t, td, "notes", []string{"id"}, func() { // the owner: policies do not apply
			if _, err := conn.ExecContext(ctx, `UPDATE notes SET body = 'owner'`); err != nil {
				t.Fatal(err)
			}
		})
		if _, err := conn.ExecContext(ctx, `SET ROLE `+role); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{`UPDATE notes SET body = 'x'`, `DELETE FROM notes`, `DELETE FROM parents WHERE id = 1`} {
			if _, err := conn.ExecContext(ctx, q); !errors.Is(err, sqlaudit.ErrUnsupported) {
				t.Errorf("as %s: %s: %v, want ErrUnsupported", role, q, err)
			}
		}
		var n int
		if err := td.plain.QueryRow(`SELECT (SELECT count(*) FROM notes WHERE body = 'x') + (SELECT count(*) FROM kids) + (SELECT count(*) FROM parents)`).Scan(&n); err != nil || n != 3 {
			t.Fatalf("the refused writes changed rows: %d, %v", n, err)
		}
	})
}

// A record is written exactly when what is stored changed as the record
// renders it (issue 14, item 13): no record for an array whose lower bound
// changed or a -0 that became 0 inside an array or a composite, or for json
// elements that differ in whitespace only; a record for trailing blanks in
// an unbounded bpchar.
func TestPostgreSQLChangedMeansTheRenderingChanged(t *testing.T) {
	cases := []struct {
		name, column, before, after string
		changes                     bool
	}{
		{"array lower bound", "int[]", `'{1,2}'`, `'[2:3]={1,2}'`, false},
		{"-0 in an array", "float8[]", `'{0}'`, `'{-0}'`, false},
		{"-0 in a composite", "pt", `ROW(0, 1)::pt`, `ROW(-0, 1)::pt`, false},
		{"whitespace in json[]", "json[]", `ARRAY['{"a":1}'::json]`, `ARRAY['{"a": 1}'::json]`, false},
		{"trailing blanks in bpchar", "bpchar", `'a'`, `'a '`, true},
		{"a real array change", "int[]", `'{1,2}'`, `'{1,3}'`, true},
	}
	forEachPGDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		mustExec(t, db, `CREATE TYPE pt AS (x float8, y float8)`)
		for i, tc := range cases {
			table := "r" + string(rune('a'+i))
			mustExec(t, db, `CREATE TABLE `+table+` (id int PRIMARY KEY, v `+tc.column+`)`, `INSERT INTO `+table+` VALUES (1, `+tc.before+`)`)
			recs := checkChange(t, td, table, []string{"id"}, func() { mustExec(t, db, `UPDATE `+table+` SET v = `+tc.after+` WHERE id = 1`) })
			if (len(recs) == 1) != tc.changes {
				t.Errorf("%s: %d records, want a record: %v", tc.name, len(recs), tc.changes)
			}
		}
	})
}

var _ = sql.ErrNoRows

// A partitioned table's rows are recorded under its name, whichever way
// they are written: through the partitioned table, into a partition, or by
// a foreign-key action (issue 14, item 6), so a row's history is in one
// place.
func TestPostgreSQLPartitionRowsAreRecordedUnderThePartitionedTable(t *testing.T) {
	forEachPGDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		mustExec(t, db, `CREATE TABLE pt (id int, region text, v int, PRIMARY KEY (id, region)) PARTITION BY LIST (region)`,
			`CREATE TABLE pt_eu PARTITION OF pt FOR VALUES IN ('eu')`, `CREATE TABLE pt_us PARTITION OF pt FOR VALUES IN ('us')`,
			`CREATE TABLE parents (id int PRIMARY KEY)`, `INSERT INTO parents VALUES (1), (2)`,
			`CREATE TABLE c (id int, parent_id int REFERENCES parents ON DELETE CASCADE, part int, PRIMARY KEY (id, part)) PARTITION BY LIST (part)`,
			`CREATE TABLE c1 PARTITION OF c FOR VALUES IN (1)`, `CREATE TABLE c2 PARTITION OF c FOR VALUES IN (2)`,
			`INSERT INTO c VALUES (1, 1, 1), (2, 1, 2), (3, 2, 1)`)
		for _, q := range []string{`INSERT INTO pt_eu VALUES (1, 'eu', 1)`, `INSERT INTO pt VALUES (2, 'us', 2)`,
			`UPDATE pt SET v = v + 1`, `UPDATE pt_us SET v = 9`, `UPDATE pt SET v = 7 WHERE id = 1`, `DELETE FROM pt_us WHERE id = 2`} {
			recs := checkChange(t, td, "pt", []string{"id", "region"}, func() { mustExec(t, db, q) })
			for _, r := range recs {
				if r.Table != "pt" {
					t.Errorf("%s: a record of %q, want pt", q, r.Table)
				}
			}
		}
		since := td.maxID(t, "audit_log")
		mustExec(t, db, `DELETE FROM parents WHERE id = 1`)
		recs := td.trail(t, "audit_log", since)
		var children int
		for _, r := range recs {
			if r.Table == "c" {
				children++
			}
		}
		if children != 2 {
			t.Fatalf("the cascade into the partitioned table: %v, want 2 records of c", recs)
		}
	})
}

// The caller's predicate is evaluated once: a volatile one decides as in
// the plain statement, and exactly the rows it picked are changed and
// recorded (issue 14, item 15: the rewrite evaluated it twice, so an UPDATE
// picking a random row changed none). An UPDATE … FROM whose joins call a
// volatile function is refused: there the joins run twice.
func TestPostgreSQLVolatilePredicatesAreEvaluatedOnce(t *testing.T) {
	forEachPGDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		mustExec(t, db, `CREATE TABLE items (id int PRIMARY KEY, v int DEFAULT 0)`, `INSERT INTO items SELECT g FROM generate_series(1, 20) g`,
			`CREATE SEQUENCE picks`)
		for _, tc := range []struct {
			q    string
			rows int64
		}{
			{`UPDATE items SET v = v + 1 WHERE id = (SELECT id FROM items ORDER BY random() LIMIT 1)`, 1},
			{`UPDATE items SET v = v + 1 WHERE id IN (SELECT id FROM items ORDER BY random() LIMIT 5)`, 5},
		} {
			for range 5 {
				var n int64
				recs := checkChange(t, td, "items", []string{"id"}, func() {
					res, err := db.Exec(tc.q)
					if err != nil {
						t.Fatal(err)
					}
					n, _ = res.RowsAffected()
				})
				if n != tc.rows || len(recs) != int(tc.rows) {
					t.Fatalf("%s: %d rows changed, %d records; want %d", tc.q, n, len(recs), tc.rows)
				}
			}
		}
		// A side-effecting predicate changes as many rows as on a plain copy.
		mustExec(t, td.plain, `CREATE TABLE items_plain AS SELECT * FROM items`, `CREATE SEQUENCE picks_plain`)
		plainRes, err := td.plain.Exec(`UPDATE items_plain SET v = v + 1 WHERE id = nextval('picks_plain')`)
		if err != nil {
			t.Fatal(err)
		}
		var audited int64
		recs := checkChange(t, td, "items", []string{"id"}, func() {
			res, err := db.Exec(`UPDATE items SET v = v + 1 WHERE id = nextval('picks')`)
			if err != nil {
				t.Fatal(err)
			}
			audited, _ = res.RowsAffected()
		})
		if plain, _ := plainRes.RowsAffected(); audited != plain || len(recs) != int(plain) {
			t.Fatalf("WHERE id = nextval(…): %d rows and %d records, the plain statement %d rows", audited, len(recs), plain)
		}
		random := `UPDATE items SET v = s.v FROM (SELECT id, 9 AS v FROM items ORDER BY random() LIMIT 5) s WHERE items.id = s.id`
		if pgVersion(t, td.plain) >= 180000 { // RETURNING OLD: the join runs once, in the UPDATE itself
			var n int64
			recs := checkChange(t, td, "items", []string{"id"}, func() {
				res, err := db.Exec(random)
				if err != nil {
					t.Fatal(err)
				}
				n, _ = res.RowsAffected()
			})
			if n != 5 || len(recs) > 5 {
				t.Fatalf("UPDATE … FROM a random subquery: %d rows, %d records; want 5 rows", n, len(recs))
			}
			return
		}
		before := td.snap(t, "items", "id")
		_, err = db.Exec(random)
		if !errors.Is(err, sqlaudit.ErrUnsupported) {
			t.Fatalf("UPDATE … FROM a random subquery: %v, want ErrUnsupported", err)
		}
		if after := td.snap(t, "items", "id"); !reflect.DeepEqual(before, after) {
			t.Fatal("the refused UPDATE … FROM changed rows")
		}
		checkChange(t, td, "items", []string{"id"}, func() { // a stable join is audited as before
			mustExec(t, db, `UPDATE items SET v = s.v FROM (SELECT id, 7 AS v FROM items WHERE id <= 3) s WHERE items.id = s.id`)
		})
	})
}
