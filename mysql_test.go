package sqlaudit_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/sqlaudit/sqlaudit"
)

// MySQL's own statement shapes, through the differential oracle: backtick
// identifiers, MySQL strings and comments, ORDER BY … LIMIT, IGNORE,
// INSERT … SET, MariaDB's RETURNING, rows changed by triggers and
// generated columns.
func TestMySQLStatementShapesAreRecordedExactly(t *testing.T) {
	cases := []struct {
		name  string
		setup []string
		table string
		key   []string
		steps []string
	}{
		{
			name:  "backtick identifiers: spaces, reserved words, mixed case, Unicode",
			setup: []string{"CREATE TABLE `Order Items` (`Id` int PRIMARY KEY, `select` text, `Qty` int, `größe` varchar(10), `we``ird` int)", "INSERT INTO `Order Items` VALUES (1, 'a', 1, 'S', 0), (2, 'b', 2, 'M', 0)"},
			table: "`Order Items`", key: []string{"Id"},
			steps: []string{"UPDATE `Order Items` SET `Qty` = `Qty` + 1, `we``ird` = 1 WHERE `select` = 'a'", "UPDATE `Order Items` AS oi SET oi.`größe` = 'XL' WHERE oi.`Id` = 2",
				"DELETE FROM `Order Items` WHERE `Id` = 2", "INSERT INTO `Order Items` (`Id`, `select`, `Qty`) VALUES (3, 'where', 0)"},
		},
		{
			name:  "MySQL strings and comments that look like clauses",
			setup: []string{`CREATE TABLE notes (id int PRIMARY KEY, body text)`, `INSERT INTO notes VALUES (1, 'x'), (2, 'WHERE id = 1')`},
			table: "notes", key: []string{"id"},
			steps: []string{"UPDATE notes /* WHERE id = 2 */ SET body = 'it\\'s \\\\ WHERE' # WHERE id = 1\n WHERE body = \"WHERE id = 1\"",
				"UPDATE notes SET body = \"say \\\"hi\\\" -- WHERE\" -- WHERE id = 2\n WHERE id = 1",
				"UPDATE notes SET body = 'ünï' WHERE id = 2-- 1"},
		},
		{
			name:  "composite key, ORDER BY … LIMIT",
			setup: []string{`CREATE TABLE stock (shop varchar(10), sku int, n int, PRIMARY KEY (shop, sku))`, `INSERT INTO stock VALUES ('a', 1, 5), ('a', 2, 6), ('a', 3, 7), ('b', 1, 7)`},
			table: "stock", key: []string{"shop", "sku"},
			steps: []string{`UPDATE stock SET n = n - 1 WHERE shop = 'a' ORDER BY sku DESC LIMIT 2`, `DELETE FROM stock WHERE n > 4 ORDER BY n, shop LIMIT 1`,
				`UPDATE LOW_PRIORITY stock SET n = 0 ORDER BY shop LIMIT 1`, `DELETE QUICK FROM stock WHERE shop = 'b'`},
		},
		{
			name:  "IGNORE skips conflicting rows; only changed rows are recorded",
			setup: []string{`CREATE TABLE users (id int PRIMARY KEY, email varchar(50) UNIQUE, n int)`, `INSERT INTO users VALUES (1, 'a@x', 0), (2, 'b@x', 0), (3, 'c@x', 0)`},
			table: "users", key: []string{"id"},
			steps: []string{`UPDATE IGNORE users SET email = 'a@x' WHERE id IN (2, 3)`, `INSERT IGNORE INTO users VALUES (1, 'dup', 1), (4, 'd@x', 1), (5, 'a@x', 1), (6, 'f@x', 1)`,
				`UPDATE users SET n = n`},
		},
		{
			name:  "INSERT forms: SET, SELECT, AUTO_INCREMENT, RETURNING",
			setup: []string{`CREATE TABLE events (id bigint AUTO_INCREMENT PRIMARY KEY, kind varchar(10), n int DEFAULT 7)`, `INSERT INTO events (kind) VALUES ('seed')`},
			table: "events", key: []string{"id"},
			steps: []string{`INSERT INTO events SET kind = 'set'`, `INSERT INTO events (kind, n) SELECT kind, id FROM events`,
				`INSERT INTO events (id, kind) VALUES (100, 'explicit'), (NULL, 'generated')`, `INSERT INTO events (kind) VALUES ('r') RETURNING n, kind`,
				`DELETE FROM events WHERE id > 100 RETURNING id, kind`},
		},
		{
			name: "rows changed by triggers and generated columns are recorded as stored",
			setup: []string{`CREATE TABLE priced (id int PRIMARY KEY, net int, gross int AS (net * 2) STORED, vat int AS (net - 1) VIRTUAL, tag varchar(10), touched timestamp(6) NULL DEFAULT NULL ON UPDATE CURRENT_TIMESTAMP(6))`,
				`CREATE TRIGGER priced_tag BEFORE UPDATE ON priced FOR EACH ROW SET NEW.tag = UPPER(NEW.tag)`, `INSERT INTO priced (id, net, tag) VALUES (1, 10, 'a'), (2, 20, 'b')`},
			table: "priced", key: []string{"id"},
			steps: []string{`UPDATE priced SET net = net + 1, tag = 'x' WHERE id = 1`, `INSERT INTO priced (id, net) VALUES (3, 30)`, `DELETE FROM priced WHERE gross = 40`},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			db, td := mustOpen(t, "audit-mysql")
			mustExec(t, td.plain, c.setup...)
			for _, s := range c.steps {
				checkChange(t, td, c.table, c.key, func() {
					rows, err := db.Query(s)
					if err != nil {
						t.Fatalf("%s: %v", s, err)
					}
					rows.Close()
				})
			}
			for _, r := range td.trail(t, "audit_log", 0) {
				if want := strings.Trim(c.table, "`"); r.Table != want {
					t.Errorf("table_name %q, want %q", r.Table, want)
				}
			}
		})
	}
}

// LastInsertId and RowsAffected are what go-sql-driver reports for the
// plain statement: for an INSERT the first generated id, or the last explicit
// one; for UPDATE and DELETE the changed rows and the id LAST_INSERT_ID(expr)
// set.
func TestMySQLResultsMatchThePlainDriver(t *testing.T) {
	db, td := mustOpen(t, "audit-mysql")
	ddl := `CREATE TABLE %s (id bigint AUTO_INCREMENT PRIMARY KEY, v int)`
	mustExec(t, td.plain, strings.ReplaceAll(ddl, "%s", "a"), strings.ReplaceAll(ddl, "%s", "p"))
	for _, q := range []string{
		`INSERT INTO %s (v) VALUES (1), (2), (3)`,
		`INSERT INTO %s (id, v) VALUES (50, 1)`,
		`INSERT INTO %s (id, v) VALUES (60, 1), (NULL, 2), (70, 3)`,
		`INSERT INTO %s (id, v) VALUES (80, 1), (81, 2)`,
		`INSERT INTO %s VALUES (NULL, 9)`,
		`INSERT INTO %s (v) SELECT v FROM %s WHERE id < 3`,
		`INSERT IGNORE INTO %s (id, v) VALUES (1, 1)`,
		// UPDATE and DELETE (one compound statement each, see mysql_block.go)
		`UPDATE %s SET v = v + 1 WHERE id = 1`,
		`UPDATE %s SET v = v WHERE id = 1`,
		`UPDATE %s SET v = LAST_INSERT_ID(v + 10) WHERE id = 2`,
		`UPDATE %s SET v = 0 ORDER BY id DESC LIMIT 2`,
		`DELETE FROM %s WHERE id > 60`,
		`DELETE FROM %s WHERE id = 99999`,
	} {
		plain, err := td.plain.Exec(strings.ReplaceAll(q, "%s", "p"))
		if err != nil {
			t.Fatal(err)
		}
		audited, err := db.Exec(strings.ReplaceAll(q, "%s", "a"))
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		wantID, _ := plain.LastInsertId()
		wantN, _ := plain.RowsAffected()
		gotID, _ := audited.LastInsertId()
		gotN, _ := audited.RowsAffected()
		if gotID != wantID || gotN != wantN {
			t.Errorf("%s: LastInsertId %d, RowsAffected %d; the plain driver says %d, %d", q, gotID, gotN, wantID, wantN)
		}
	}
}

// clientFoundRows makes MySQL count matched rather than changed rows; the
// audited statement counts as the plain one does.
func TestMySQLRowsAffectedFollowsClientFoundRows(t *testing.T) {
	_, td := mustOpen(t, "audit-mysql")
	db, err := sql.Open("audit-mysql", td.dsn+"&clientFoundRows=true")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	seedAccounts(t, db)
	res, err := db.Exec(`UPDATE accounts SET region = region WHERE region = 'eu'`)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 2 {
		t.Fatalf("RowsAffected %d, want the 2 matched rows", n)
	}
}

// What the MySQL wrapper cannot audit is refused, naming the reason: a
// session that quotes differently, TEMPORARY tables, tables without a key.
func TestMySQLUnauditableSessionsAndTablesAreRefused(t *testing.T) {
	db, _ := mustOpen(t, "audit-mysql")
	db.SetMaxOpenConns(1)
	seedAccounts(t, db)
	mustExec(t, db, `CREATE TEMPORARY TABLE scratch (id int PRIMARY KEY)`, `CREATE TABLE nokey (v int)`)
	for q, want := range map[string]string{
		`INSERT INTO scratch VALUES (1)`:       "TEMPORARY",
		`INSERT INTO nokey VALUES (1)`:         "primary key",
		`UPDATE accounts SET note = 'x'`:       "sql_mode",
		`INSERT INTO accounts (id) VALUES (9)`: "sql_mode",
	} {
		if want == "sql_mode" {
			mustExec(t, db, `SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')`)
		}
		_, err := db.Exec(q)
		if !errors.Is(err, sqlaudit.ErrUnsupported) && !errors.Is(err, sqlaudit.ErrNoKey) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want a refusal naming %q, got %v", q, want, err)
		}
		mustExec(t, db, `SET SESSION sql_mode = DEFAULT`)
	}
	if _, err := db.ExecContext(context.Background(), `UPDATE accounts SET note = 'ok' WHERE id = 1`); err != nil {
		t.Fatalf("after sql_mode is back to normal: %v", err)
	}
}

// INSERT … ON DUPLICATE KEY UPDATE: each row recorded as the INSERT or the
// UPDATE it was, with its true old values (also a row inserted and then
// updated by the same statement, and a conflict on a UNIQUE key other than
// the primary key), from VALUES and from SELECT (with or without FROM), in
// autocommit and inside a transaction; RowsAffected and LastInsertId as the
// plain driver says (the last input row's id when only updates changed
// something, 0 for INSERT … SELECT).
func TestMySQLUpsertsAreRecordedExactly(t *testing.T) {
	db, td := mustOpen(t, "audit-mysql")
	ddl := `CREATE TABLE %s (id bigint AUTO_INCREMENT PRIMARY KEY, email varchar(50) UNIQUE, n int, note text)`
	mustExec(t, td.plain, strings.ReplaceAll(ddl, "%s", "u"), strings.ReplaceAll(ddl, "%s", "p"))
	queries := []string{
		`INSERT INTO %s (email, n) VALUES ('a@x', 1), ('b@x', 1)`,
		`INSERT INTO %s (email, n) VALUES ('a@x', 5) ON DUPLICATE KEY UPDATE n = n + VALUES(n)`,
		`INSERT INTO %s (email, n) VALUES ('c@x', 1), ('c@x', 2), ('b@x', 9), ('d@x', 0) ON DUPLICATE KEY UPDATE n = n + VALUES(n), note = 'dup'`,
		`INSERT INTO %s (id, email, n) VALUES (1, 'a@x', 6) ON DUPLICATE KEY UPDATE n = VALUES(n)`, // changes nothing
		`INSERT INTO %s (email, n) SELECT CONCAT('s', email), n FROM %s WHERE n > 1 ON DUPLICATE KEY UPDATE n = 0`,
		`INSERT INTO %s (email, n) VALUES ('e@x', 1) ON DUPLICATE KEY UPDATE n = 2 RETURNING id, n`,
		"INSERT INTO %s (email, n) VALUES ('a@x', 2), ('f@x', 3) ON DUPLICATE KEY UPDATE `id`=`id`",                  // GORM's DO NOTHING
		`INSERT INTO %s (email, n) VALUES ('a@x', 5) ON DUPLICATE KEY UPDATE n = VALUES(n), id = LAST_INSERT_ID(id)`, // ent
		`INSERT INTO %s (email, n) VALUES ('g@x', 7), ('b@x', 9) ON DUPLICATE KEY UPDATE n = VALUES(n), id = LAST_INSERT_ID(id)`,
		"INSERT INTO %s (email, n) VALUES ('a@x', 6) ON DUPLICATE KEY UPDATE `%s`.`id` = `%s`.`id`",
		// only updates: the last input row's id, changed or not, if any changed
		`INSERT INTO %s (email, n) VALUES ('b@x', 11), ('a@x', 11) ON DUPLICATE KEY UPDATE n = VALUES(n)`,
		`INSERT INTO %s (email, n) VALUES ('c@x', 12), ('a@x', 11) ON DUPLICATE KEY UPDATE n = VALUES(n)`,
		`INSERT INTO %s (email, n) VALUES ('c@x', 12), ('a@x', 11) ON DUPLICATE KEY UPDATE n = VALUES(n)`, // nothing changes: 0
		`INSERT INTO %s (id, email, n) VALUES (500, 'z@x', 1), (1, 'a@x', 13) ON DUPLICATE KEY UPDATE n = VALUES(n)`,
		// from SELECT: updated rows are recorded as UPDATEs with their old values
		`INSERT INTO %s (email, n) SELECT 'a@x', 1 ON DUPLICATE KEY UPDATE n = n + 1`,
		`INSERT INTO %s (email, n, note) SELECT 'q@x', 1, 'q' ON DUPLICATE KEY UPDATE n = n + 1`,
		`INSERT INTO %s (email, n) SELECT email, 20 FROM %s WHERE email IN ('b@x', 'c@x') UNION ALL SELECT 'h@x', 1 ON DUPLICATE KEY UPDATE n = VALUES(n) + 1`,
		`INSERT INTO %s (email, n) SELECT * FROM (SELECT 'a@x' AS e, 30 AS n UNION ALL SELECT 'b@x', 31) AS s ON DUPLICATE KEY UPDATE n = s.n, id = LAST_INSERT_ID(id)`,
	}
	for _, inTx := range []bool{false, true} {
		for _, q := range queries {
			if inTx && !strings.Contains(q, "DUPLICATE") {
				continue // the plain INSERT would conflict the second time
			}
			plain, err := td.plain.Exec(strings.ReplaceAll(q, "%s", "p"))
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			var audited sql.Result
			checkChange(t, td, "u", []string{"id"}, func() {
				tx, err := db.Begin()
				if err != nil {
					t.Fatal(err)
				}
				defer tx.Rollback()
				run := db.Exec
				if inTx {
					run = tx.Exec
				}
				if audited, err = run(strings.ReplaceAll(q, "%s", "u")); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				if err := tx.Commit(); err != nil {
					t.Fatal(err)
				}
			})
			wantID, _ := plain.LastInsertId()
			wantN, _ := plain.RowsAffected()
			gotID, _ := audited.LastInsertId()
			gotN, _ := audited.RowsAffected()
			if gotID != wantID || gotN != wantN {
				t.Errorf("%s (in a transaction: %v): LastInsertId %d, RowsAffected %d; the plain driver says %d, %d", q, inTx, gotID, gotN, wantID, wantN)
			}
		}
	}
	if _, err := db.Exec(`INSERT INTO u (email) VALUES ('a@x') ON DUPLICATE KEY UPDATE id = id + 100`); !errors.Is(err, sqlaudit.ErrUnsupported) {
		t.Fatalf("an upsert that changes the key: want ErrUnsupported, got %v", err)
	}
}

// Multi-table UPDATE and DELETE: every audited table the statement changes
// is recorded, a row a join reaches several times once, the tables'
// differences checked by the oracle together.
func TestMySQLMultiTableWritesAreRecordedExactly(t *testing.T) {
	db, td := mustOpen(t, "audit-mysql", "audit_exclude=notes")
	mustExec(t, td.plain,
		`CREATE TABLE customers (id int PRIMARY KEY, name varchar(20), banned bool)`,
		`CREATE TABLE orders (id int PRIMARY KEY, customer int, status varchar(10))`,
		`CREATE TABLE notes (id int PRIMARY KEY, customer int)`,
		`INSERT INTO customers VALUES (1, 'ann', 0), (2, 'bob', 1), (3, 'cy', 0)`,
		`INSERT INTO orders VALUES (10, 1, 'new'), (11, 1, 'new'), (12, 2, 'new'), (13, 3, 'new')`,
		`INSERT INTO notes VALUES (100, 1), (101, 2)`)
	for _, q := range []string{
		`UPDATE orders o JOIN customers c ON c.id = o.customer SET o.status = 'held' WHERE c.banned = ?`,
		`UPDATE customers c JOIN orders o ON o.customer = c.id SET c.name = CONCAT(c.name, '+') WHERE o.status = 'new'`, // ann twice
		`UPDATE orders o, customers c SET o.status = 'vip', c.banned = 1 WHERE c.id = o.customer AND c.id = 3`,
		"UPDATE `orders` JOIN `notes` ON `notes`.`customer` = `orders`.`customer` SET `orders`.`status` = 'noted', `notes`.`customer` = 0",
		`DELETE o, c FROM orders o JOIN customers c ON c.id = o.customer WHERE c.banned = ? AND c.id = 2`,
		`DELETE FROM o USING orders AS o JOIN customers AS c ON c.id = o.customer WHERE c.name LIKE 'ann%'`,
		`DELETE customers, notes FROM customers LEFT JOIN notes ON notes.customer = customers.id WHERE customers.id = 1`,
	} {
		since := td.maxID(t, "audit_log")
		before := map[string]snapshot{"orders": td.snap(t, "orders", "id"), "customers": td.snap(t, "customers", "id")}
		args := []any{}
		if strings.Contains(q, "?") {
			args = append(args, 1)
		}
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		got := td.trail(t, "audit_log", since)
		var want []record
		for table, b := range before {
			want = append(want, expected(table, b, td.snap(t, table, "id"))...)
		}
		assertTrail(t, got, want)
	}
}

// A transaction begun inside a multi-statement string (multiStatements=true)
// is the application's: the write after it runs in it, so the application's
// ROLLBACK undoes the write and its records. (The wrapper once read such a
// string's BEGIN as the end of a transaction and committed the write in a
// transaction of its own.)
func TestMySQLTransactionBegunInAMultiStatementStringIsTheCallers(t *testing.T) {
	audited, td := mustOpen(t, "audit-mysql", "multiStatements=true")
	mustExec(t, audited, `CREATE TABLE accounts (id INT PRIMARY KEY, balance INT)`, `INSERT INTO accounts VALUES (1, 10)`)
	conn, err := audited.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{"BEGIN; SELECT 1", "UPDATE accounts SET balance = 20 WHERE id = 1", "ROLLBACK"} {
		if _, err := conn.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var balance, records int
	if err := td.plain.QueryRow(`SELECT balance FROM accounts WHERE id = 1`).Scan(&balance); err != nil {
		t.Fatal(err)
	}
	if err := td.plain.QueryRow(`SELECT count(*) FROM audit_log`).Scan(&records); err != nil {
		t.Fatal(err)
	}
	if balance != 10 || records != 1 {
		t.Fatalf("after ROLLBACK: balance %d and %d records, want 10 and the INSERT's 1", balance, records)
	}
}
