package sqlaudit_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/sqlaudit/sqlaudit"
)

// What GORM and hand-written MariaDB code send, recorded exactly where it
// was refused: a key column assigned its own value (GORM's upsert of join
// rows, ON DUPLICATE KEY UPDATE book_id = VALUES(book_id), and its Save,
// UPDATE … SET id = 376 … WHERE … AND id = 376 — also with an ON UPDATE
// CASCADE child), and ranking with a user variable. RowsAffected is the
// plain driver's. A key that really moves is undone and refused, proven by
// the rows as they are after the statement, not by its text.
func TestMySQLKeysAssignedTheirOwnValueAreAudited(t *testing.T) {
	db, td := mustOpen(t, "audit-mysql")
	for _, p := range []string{"", "p_"} {
		mustExec(t, td.plain,
			`CREATE TABLE `+p+`users (id int PRIMARY KEY, name varchar(20), score int, rnk int)`,
			`CREATE TABLE `+p+`orders (id int PRIMARY KEY, user_id int, FOREIGN KEY (user_id) REFERENCES `+p+`users (id) ON UPDATE CASCADE)`,
			`CREATE TABLE `+p+`book_authors (book_id int, author_id int, role varchar(10), PRIMARY KEY (book_id, author_id))`,
			`INSERT INTO `+p+`users VALUES (376, 'ann', 5, 0), (377, 'bob', 9, 0), (378, 'cy', 7, 0)`,
			`INSERT INTO `+p+`orders VALUES (1, 376)`)
	}
	keys := map[string][]string{"users": {"id"}, "book_authors": {"book_id", "author_id"}}
	steps := []struct{ table, q string }{
		{"book_authors", `INSERT INTO %sbook_authors (book_id, author_id, role) VALUES (1, 2, 'a'), (1, 3, 'b') ON DUPLICATE KEY UPDATE book_id = VALUES(book_id)`},
		{"book_authors", `INSERT INTO %sbook_authors (book_id, author_id, role) VALUES (1, 2, 'a'), (1, 3, 'c') ON DUPLICATE KEY UPDATE book_id = VALUES(book_id), author_id = VALUES(author_id), role = VALUES(role)`},
		{"users", `UPDATE %susers SET id = 376, name = 'ann2', score = 6 WHERE name = 'ann' AND id = 376`},
		{"users", `UPDATE %susers SET id = id, score = score + 1`},
		{"users", `UPDATE %susers SET rnk = (@r := @r + 1) ORDER BY score DESC`},
		{"users", `UPDATE %susers u JOIN %sorders o ON o.user_id = u.id SET u.id = o.user_id, u.score = 0`}, // separate statements
	}
	for _, s := range steps {
		mustExec(t, td.plain, `SET @r = 0`)
		plain, err := td.plain.Exec(strings.ReplaceAll(s.q, "%s", "p_"))
		if err != nil {
			t.Fatalf("%s: %v", s.q, err)
		}
		conn, err := db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		checkChange(t, td, s.table, keys[s.table], func() {
			if _, err := conn.ExecContext(context.Background(), `SET @r = 0`); err != nil {
				t.Fatal(err)
			}
			res, err := conn.ExecContext(context.Background(), strings.ReplaceAll(s.q, "%s", ""))
			if err != nil {
				t.Fatalf("%s: %v", s.q, err)
			}
			n, _ = res.RowsAffected()
		})
		conn.Close()
		if want, _ := plain.RowsAffected(); n != want {
			t.Errorf("%s: RowsAffected %d, the plain driver says %d", s.q, n, want)
		}
		if got, want := td.snap(t, s.table, keys[s.table]...), td.snap(t, "p_"+s.table, keys[s.table]...); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: the audited table differs from the plain one: %v, want %v", s.q, got, want)
		}
	}
	// A key that moves: refused, and undone — in a transaction only the
	// statement, the transaction goes on.
	before, orders := td.snap(t, "users", "id"), td.snap(t, "orders", "id")
	for _, q := range []string{`UPDATE users SET id = id + 1000 WHERE id = 378`, `UPDATE users SET id = 999, name = 'x' ORDER BY id LIMIT 1`,
		`INSERT INTO users (id, name) VALUES (377, 'b') ON DUPLICATE KEY UPDATE id = 999`,
		`UPDATE users u JOIN orders o ON o.user_id = u.id SET u.id = u.id + 5000`} { // its ON UPDATE CASCADE is undone too
		if _, err := db.Exec(q); !errors.Is(err, sqlaudit.ErrUnsupported) || !strings.Contains(err.Error(), "primary key") {
			t.Errorf("%s: want ErrUnsupported naming the primary key, got %v", q, err)
		}
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`UPDATE users SET name = 'in tx' WHERE id = 377`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`UPDATE users SET id = 1 WHERE id = 376`); !errors.Is(err, sqlaudit.ErrUnsupported) {
		t.Errorf("in a transaction: want ErrUnsupported, got %v", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if after := td.snap(t, "users", "id"); !reflect.DeepEqual(before, after) || !reflect.DeepEqual(orders, td.snap(t, "orders", "id")) {
		t.Fatalf("a refused statement changed rows: %v", after)
	}
}

// System-versioned tables have a key (MariaDB appends the ROW END column to
// it, which is the same for every current row): their writes are recorded
// like any table's (they were refused as keyless), with implicit and with
// declared period columns. DELETE HISTORY, which removes history rows the
// trail does not hold, is refused with its reason, and so is a write
// through a view (refused as keyless, without saying why).
func TestMySQLSystemVersionedTablesAndViews(t *testing.T) {
	db, td := mustOpen(t, "audit-mysql")
	mustExec(t, td.plain, `CREATE TABLE plain_v (id int PRIMARY KEY, v int) WITH SYSTEM VERSIONING`,
		`CREATE TABLE declared_v (id int PRIMARY KEY, v int, rs timestamp(6) GENERATED ALWAYS AS ROW START, re timestamp(6) GENERATED ALWAYS AS ROW END, PERIOD FOR SYSTEM_TIME(rs, re)) WITH SYSTEM VERSIONING`,
		`CREATE VIEW recent AS SELECT id, v FROM plain_v WHERE id > 1`)
	for _, table := range []string{"plain_v", "declared_v"} {
		for _, q := range []string{`INSERT INTO %s (id, v) VALUES (1, 1), (2, 2), (3, 3)`, `UPDATE %s SET v = v + 1 WHERE id > 1`,
			`INSERT INTO %s (id, v) VALUES (1, 9) ON DUPLICATE KEY UPDATE v = VALUES(v)`, `DELETE FROM %s WHERE id = 3`} {
			recs := checkChange(t, td, table, []string{"id"}, func() { mustExec(t, db, strings.ReplaceAll(q, "%s", table)) })
			for _, r := range recs {
				if _, ok := r.RowKey["re"]; ok || len(r.RowKey) != 1 {
					t.Fatalf("%s: row_key %v, want the id alone", q, r.RowKey)
				}
			}
		}
	}
	for q, want := range map[string]string{
		`DELETE HISTORY FROM plain_v`:              "history",
		`UPDATE recent SET v = 0`:                  "view",
		`INSERT INTO recent (id, v) VALUES (9, 9)`: "view",
	} {
		if _, err := db.Exec(q); !errors.Is(err, sqlaudit.ErrUnsupported) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want ErrUnsupported naming %q, got %v", q, want, err)
		}
	}
}
