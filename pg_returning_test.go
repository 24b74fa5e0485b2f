package sqlaudit_test

import (
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/sqlaudit/sqlaudit"
)

// The RETURNING rows of UPDATE … FROM and DELETE … USING asked for with
// Query — their lists may name the joined tables — are the rows the plain
// driver returns, with the same column types, and the trail is exact.
func TestJoinedReturningRowsAreThePlainDriversRows(t *testing.T) {
	setup := []string{
		`CREATE TABLE "Tä ble" (id integer PRIMARY KEY, "select" text, v numeric)`,
		`CREATE TABLE src (id integer, v numeric, note text)`,
		`CREATE TABLE kids (id integer PRIMARY KEY, t_id integer REFERENCES "Tä ble" ON DELETE CASCADE)`,
		`INSERT INTO "Tä ble" VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3)`,
		`INSERT INTO src VALUES (1, 10, 'one'), (2, 20, 'two'), (2, 20, 'two again'), (9, 90, 'none')`,
		`INSERT INTO kids VALUES (10, 2)`,
	}
	stmts := []string{
		`UPDATE "Tä ble" AS t SET v = s.v FROM src s WHERE t.id = s.id AND s.note NOT LIKE '%again' RETURNING t.id, s.v AS src_v, t.*, s.note`,
		`UPDATE "Tä ble" SET "select" = upper("select") FROM src WHERE "Tä ble".id = src.id AND src.note = 'one' RETURNING "Tä ble"."select", src.note`,
		`DELETE FROM "Tä ble" t USING src s WHERE t.id = s.id AND s.note = 'two' RETURNING s.note, t.id, t."select" || '!' AS shout`,
		`UPDATE "Tä ble" t SET v = t.v + 1 FROM (VALUES (3)) AS x(id) WHERE t.id = x.id RETURNING x.id AS xid, t.v`,
	}
	forEachPGDriver(t, func(t *testing.T, drv string) {
		for _, q := range stmts {
			t.Run(q[:30], func(t *testing.T) {
				db, td := mustOpen(t, drv)
				mustExec(t, td.plain, setup...)
				var got, want [][]any
				var gotTypes, wantTypes []string
				checkTables(t, td, []tableSpec{{`"Tä ble"`, "Tä ble", []string{"id"}, nil}, {"kids", "kids", []string{"id"}, nil}}, func() {
					got, gotTypes = queryRowsTyped(t, db, q)
				})
				_, tdPlain := mustOpen(t, drv)
				mustExec(t, tdPlain.plain, setup...)
				want, wantTypes = queryRowsTyped(t, tdPlain.plain, q)
				if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotTypes, wantTypes) {
					t.Fatalf("rows\n%v %v\nwant\n%v %v", got, gotTypes, want, wantTypes)
				}
			})
		}
		// Before 18 the images follow the caller's list, so RETURNING * would
		// show them; from 18 on the caller's list comes first and they are hidden.
		t.Run("RETURNING * is refused before 18", func(t *testing.T) {
			db, td := mustOpen(t, drv)
			mustExec(t, td.plain, setup...)
			q := `DELETE FROM "Tä ble" t USING src s WHERE t.id = s.id RETURNING *`
			if pgVersion(t, td.plain) >= 180000 {
				got, gotTypes := queryRowsTyped(t, db, q)
				_, tdPlain := mustOpen(t, drv)
				mustExec(t, tdPlain.plain, setup...)
				if want, wantTypes := queryRowsTyped(t, tdPlain.plain, q); !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotTypes, wantTypes) {
					t.Fatalf("rows\n%v %v\nwant\n%v %v", got, gotTypes, want, wantTypes)
				}
				return
			}
			if _, err := db.Query(q); !errors.Is(err, sqlaudit.ErrUnsupported) {
				t.Fatalf("want ErrUnsupported, got %v", err)
			}
		})
	})
}

// queryRowsTyped returns q's rows (as strings, sorted) and its column names and
// database types.
func queryRowsTyped(t testing.TB, db *sql.DB, q string) ([][]any, []string) {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cts, _ := rows.ColumnTypes()
	var types []string
	for _, ct := range cts {
		types = append(types, ct.Name()+":"+ct.DatabaseTypeName())
	}
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cts))
		ptrs := make([]any, len(cts))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				vals[i] = string(b)
			} else {
				vals[i] = fmt.Sprint(v)
			}
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i]) < fmt.Sprint(out[j]) })
	return out, types
}

// Before PostgreSQL 18, MERGE stays refused, with its reason, and changes
// nothing (pg18_test.go covers MERGE from 18 on).
func TestMergeIsRefusedWithItsReasonBefore18(t *testing.T) {
	forEachPGDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		if pgVersion(t, td.plain) >= 180000 {
			t.Skip("MERGE is audited from PostgreSQL 18")
		}
		mustExec(t, td.plain, `CREATE TABLE m (id integer PRIMARY KEY, v integer)`, `INSERT INTO m VALUES (1, 1)`)
		_, err := db.Exec(`MERGE INTO m USING (VALUES (1, 5), (2, 6)) AS s(id, v) ON m.id = s.id
			WHEN MATCHED THEN UPDATE SET v = s.v WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.v)`)
		var se *sqlaudit.StatementError
		if !errors.Is(err, sqlaudit.ErrUnsupported) || !errors.As(err, &se) || !strings.Contains(se.Reason, "MERGE") {
			t.Fatalf("want ErrUnsupported naming MERGE, got %v", err)
		}
		if n := len(td.snap(t, "m", "id")); n != 1 {
			t.Fatalf("the refused MERGE changed the table (%d rows)", n)
		}
	})
}
