package sqlaudit_test

import "testing"

// A migration in another process changes a table under a connection that
// read its catalog before. The next audited write notices — the server
// refuses to run the wrapper's statements against the changed table — reads
// the catalog again and runs once more, so its records have the columns the
// table has now (an added column was never recorded, and a renamed one
// failed every write with 1054 until the connection was replaced). Each
// path: the compound statement in autocommit and in a transaction, DELETE …
// RETURNING and a multi-table UPDATE (separate statements), INSERT, upsert.
// Tables with INVISIBLE columns are audited as before; a statement's own
// mistake is still the server's error.
func TestMySQLSchemaChangesByOtherClientsAreNoticed(t *testing.T) {
	db, td := mustOpen(t, "audit-mysql")
	db.SetMaxOpenConns(1) // one connection, one catalog read before the changes
	mustExec(t, td.plain, `CREATE TABLE items (id int PRIMARY KEY, name varchar(20), qty int)`, `CREATE TABLE tags (id int PRIMARY KEY, item int)`,
		`INSERT INTO items VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3), (4, 'd', 4)`, `INSERT INTO tags VALUES (1, 1)`)
	steps := []struct {
		ddl, q string
		tx     bool
	}{
		{"", `UPDATE items SET qty = qty + 1 WHERE id = 1`, false}, // reads the catalog
		{`ALTER TABLE items ADD COLUMN note varchar(20)`, `UPDATE items SET note = 'n' WHERE id = 1`, false},
		{`ALTER TABLE items ADD COLUMN price int DEFAULT 5`, `DELETE FROM items WHERE id = 4`, false},
		{`ALTER TABLE items RENAME COLUMN name TO title`, `UPDATE items SET title = 'x' WHERE id = 2`, true},
		{`ALTER TABLE items ADD COLUMN w int DEFAULT 7`, `INSERT INTO items (id, title) VALUES (5, 'e')`, false},
		{`ALTER TABLE items DROP COLUMN w`, `INSERT INTO items (id, title, qty) VALUES (5, 'e', 9) ON DUPLICATE KEY UPDATE qty = VALUES(qty)`, true},
		{`ALTER TABLE items ADD COLUMN z int DEFAULT 1`, `DELETE FROM items WHERE id = 3 RETURNING id`, false},
		{`ALTER TABLE items RENAME COLUMN z TO zz`, `UPDATE items i JOIN tags g ON g.item = i.id SET i.qty = 0, i.zz = 2`, false},
		{`ALTER TABLE items MODIFY note varchar(20) AFTER id`, `UPDATE items SET note = 'm'`, false},
	}
	for _, s := range steps {
		if s.ddl != "" {
			mustExec(t, td.plain, s.ddl) // another client
		}
		checkChange(t, td, "items", []string{"id"}, func() {
			if !s.tx {
				rows, err := db.Query(s.q)
				if err != nil {
					t.Fatalf("after %s: %s: %v", s.ddl, s.q, err)
				}
				rows.Close()
				return
			}
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(s.q); err != nil {
				tx.Rollback()
				t.Fatalf("after %s: %s in a transaction: %v", s.ddl, s.q, err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		})
	}
	// INVISIBLE columns are recorded too, and are not counted as changes.
	mustExec(t, td.plain, `CREATE TABLE inv (id int PRIMARY KEY, v int, h int INVISIBLE DEFAULT 3)`)
	for _, q := range []string{`INSERT INTO inv (id, v) VALUES (1, 1), (2, 2)`, `UPDATE inv SET v = 5, h = 4 WHERE id = 1`,
		`INSERT INTO inv (id, v) VALUES (2, 0) ON DUPLICATE KEY UPDATE h = 9`, `DELETE FROM inv WHERE id = 2`} {
		checkChange(t, td, "inv", []string{"id"}, func() { mustExec(t, db, q) })
	}
	_, err := db.Exec(`UPDATE items SET nosuch = 1`)
	mustBeMySQLError(t, err, 1054)
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM items`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d rows (%v)", n, err)
	}
}
