package sqlaudit_test

import (
	"encoding/json"
	"testing"
)

// Generated columns are recorded as the table shows them: an INSERT records
// their values, an UPDATE of a base column records the generated column's old
// and new value beside it, an UPDATE that leaves them alone does not mention
// them. From PostgreSQL 18 on a generated column is VIRTUAL unless it says
// STORED (computed when read, never written), which is what the test declares
// there: the column without a keyword. Servers before 18 have only STORED
// generated columns, so there the same table declares them STORED.
func TestGeneratedColumnsVirtualFrom18StoredBeforeAreRecordedAsRead(t *testing.T) {
	forEachPGDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		kind, want := "", "v" // the server's default from 18 on: VIRTUAL
		if pgServerVersion(t) < 180000 {
			kind, want = " STORED", "s"
		}
		mustExec(t, td.plain, `CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL, price numeric NOT NULL, name text,
			total numeric GENERATED ALWAYS AS (qty * price)`+kind+`,
			label text GENERATED ALWAYS AS (upper(name) || ' x' || qty)`+kind+`)`)
		var got string
		if err := td.plain.QueryRow(`SELECT string_agg(DISTINCT attgenerated::text, '') FROM pg_attribute
			WHERE attrelid = 'items'::regclass AND attname IN ('total', 'label')`).Scan(&got); err != nil || got != want {
			t.Fatalf("attgenerated of the generated columns = %q, %v; want %q", got, err, want)
		}

		checkChange(t, td, "items", []string{"id"}, func() {
			mustExec(t, db, `INSERT INTO items (id, qty, price, name) VALUES (1, 2, 1.50, 'tea'), (2, 1, 7, 'coffee')`)
		})
		if row := td.snap(t, "items", "id")[`{"id":1}`]; row["total"] != json.Number("3.00") || row["label"] != "TEA x2" {
			t.Fatalf("the snapshot does not show the generated values: %v", row)
		}
		steps := []struct{ name, q string }{
			{"a base column of both", `UPDATE items SET qty = qty + 1 WHERE id = 1`},
			{"a base column of one", `UPDATE items SET price = price * 2`},
			{"no base column", `UPDATE items SET name = name WHERE id = 2`},
			{"upsert of an existing row", `INSERT INTO items (id, qty, price, name) VALUES (2, 5, 7, 'mocha')
				ON CONFLICT (id) DO UPDATE SET qty = excluded.qty, name = excluded.name`},
			{"upsert of a new row", `INSERT INTO items (id, qty, price, name) VALUES (3, 1, 1, 'water')
				ON CONFLICT (id) DO UPDATE SET qty = excluded.qty`},
			{"delete", `DELETE FROM items WHERE id = 3`},
		}
		for _, s := range steps {
			recs := checkChange(t, td, "items", []string{"id"}, func() { mustExec(t, db, s.q) })
			if s.name == "a base column of both" && (len(recs) != 1 || recs[0].Old["total"] == nil || recs[0].New["label"] == nil) {
				t.Fatalf("%s: the record misses the generated columns: %v", s.name, recs)
			}
		}

		// RETURNING reads the generated values the statement made.
		var total, label string
		checkChange(t, td, "items", []string{"id"}, func() {
			err := db.QueryRow(`UPDATE items SET qty = 10 WHERE id = 1 RETURNING total, label`).Scan(&total, &label)
			if err != nil || total != "30.00" || label != "TEA x10" {
				t.Fatalf("RETURNING gave %s %q, %v; want 30.00 \"TEA x10\"", total, label, err)
			}
		})
	})
}
