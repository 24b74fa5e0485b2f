package sqlaudit_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// A PostgreSQL UPDATE compares the old and new row column by column as the
// connection's catalog lists them. When another client adds a column, the
// statement fails without changing anything and, outside a transaction,
// runs again at once with the catalog read anew, recorded exactly, the new
// column included; when another client drops one, the server refuses the
// statement once and the next is recorded.
func TestUpdateAfterAnotherClientAltersTheTable(t *testing.T) {
	for _, drv := range []string{"audit-postgres", "audit-pgx"} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			db, td := mustOpen(t, drv)
			mustExec(t, td.plain, `CREATE TABLE items (id int PRIMARY KEY, qty int, note text)`,
				`INSERT INTO items VALUES (1, 1, 'a'), (2, 2, 'b')`)
			ctx := context.Background()
			c, err := db.Conn(ctx) // one session: its catalog and prepared statements persist
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			update := func(q string) error { _, err := c.ExecContext(ctx, q); return err }
			checkChange(t, td, "items", []string{"id"}, func() { mustSucceed(t, update(`UPDATE items SET qty = qty + 1`)) })

			mustExec(t, td.plain, `ALTER TABLE items ADD COLUMN double_qty int GENERATED ALWAYS AS (qty * 2) STORED`)
			recs := checkChange(t, td, "items", []string{"id"}, func() { mustSucceed(t, update(`UPDATE items SET qty = qty + 1`)) })
			if len(recs) != 2 || recs[0].New["double_qty"] == nil {
				t.Fatalf("the retry's records miss the added column: %+v", recs)
			}

			mustExec(t, td.plain, `ALTER TABLE items DROP COLUMN note`)
			err = update(`UPDATE items SET qty = qty + 1 WHERE id = 1`)
			var sqlState interface{ SQLState() string }
			if err != nil && !(errors.As(err, &sqlState) && sqlState.SQLState() == "42703") {
				t.Fatalf("after DROP COLUMN: want success or the server's undefined_column, got %v", err)
			}
			checkChange(t, td, "items", []string{"id"}, func() { mustSucceed(t, update(`UPDATE items SET qty = qty + 1 WHERE id = 2`)) })
		})
	}
}

// jsonb_build_object takes at most 100 arguments, and a PostgreSQL target
// list at most 1,664 entries (the typed UPDATE returns each column twice):
// tables of 120 and 1,000 columns are recorded in full all the same.
func TestWideTableUpdateRecordsEveryChangedColumn(t *testing.T) {
	forEachDriver(t, func(t *testing.T, drv string) {
		width := 120
		if !isSQLite(drv) && !isMySQL(drv) {
			width = 1000
		}
		db, td := mustOpen(t, drv)
		cols, sets := []string{"id integer PRIMARY KEY"}, []string{}
		for i := 0; i < width; i++ {
			cols = append(cols, fmt.Sprintf("c%d integer DEFAULT %d", i, i))
			if i%3 == 1 {
				sets = append(sets, fmt.Sprintf("c%d = c%d + 1", i, i))
			}
		}
		mustExec(t, td.plain, `CREATE TABLE wide (`+strings.Join(cols, ", ")+`)`, `INSERT INTO wide (id) VALUES (1), (2)`)
		recs := checkChange(t, td, "wide", []string{"id"}, func() { mustExec(t, db, `UPDATE wide SET `+strings.Join(sets, ", ")) })
		if len(recs) != 2 || len(recs[0].New) != width/3 {
			t.Fatalf("want 2 records of %d columns: %+v", width/3, recs)
		}
	})
}

func mustSucceed(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Column names that are quotes, backslashes, dollar quotes or comment
// markers are only ever identifiers or string literals in the rewritten
// UPDATE: every changed column is recorded under its own name.
func TestUpdateOfHostileColumnNamesIsRecorded(t *testing.T) {
	for _, drv := range []string{"audit-postgres", "audit-pgx"} {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			db, td := mustOpen(t, drv)
			mustExec(t, td.plain, `CREATE TABLE "we'ird" (id int PRIMARY KEY, "it's" int, "back\slash" text, "dq""x" int, "$$" text, "--c" int, "/*" int)`,
				`INSERT INTO "we'ird" VALUES (1, 1, 'a', 1, 'x', 1, 1), (2, 2, 'b', 2, 'y', 2, 2)`)
			recs := checkChange(t, td, `"we'ird"`, []string{"id"}, func() {
				mustExec(t, db, `UPDATE "we'ird" SET "it's" = "it's" + 1, "back\slash" = 'c\d', "dq""x" = 0, "$$" = '$$', "--c" = 3, "/*" = 4 WHERE id = 1`)
			})
			if len(recs) != 1 || len(recs[0].New) != 6 || recs[0].New[`back\slash`] != `c\d` {
				t.Fatalf("want one record of the 6 changed columns: %+v", recs)
			}
		})
	}
}
