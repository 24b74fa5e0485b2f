package sqlaudit_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/lib/pq"

	"github.com/sqlaudit/sqlaudit"
)

// copyIn runs lib/pq's CopyIn of rows into table (columns cols) in one
// transaction through db, committing it, and returns the final Exec's error.
func copyIn(t testing.TB, db *sql.DB, q string, rows [][]any) error {
	t.Helper()
	ctx := sqlaudit.WithActor(context.Background(), "loader")
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, q)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if _, err := st.ExecContext(ctx, r...); err != nil {
			return err
		}
	}
	if _, err := st.ExecContext(ctx); err != nil {
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}
	return tx.Commit()
}

// COPY … FROM STDIN through lib/pq's CopyIn records every copied row as an
// INSERT with the values the table stored: defaults, identity values given
// or generated, BEFORE triggers, generated columns, NULLs and values that
// need escaping in COPY's text format.
func TestCopyInIsRecorded(t *testing.T) {
	db, td := mustOpen(t, "audit-postgres")
	mustExec(t, td.plain,
		`CREATE TABLE "Cöpy ""Tàble""" (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "select" text, "we ird" numeric DEFAULT 1.50,
		   made text DEFAULT 'default', doubled numeric GENERATED ALWAYS AS ("we ird" * 2) STORED, arr integer[])`,
		`CREATE FUNCTION shout() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW."select" := upper(NEW."select"); RETURN NEW; END $$`,
		`CREATE TRIGGER shout BEFORE INSERT ON "Cöpy ""Tàble""" FOR EACH ROW EXECUTE FUNCTION shout()`)
	table := `"Cöpy ""Tàble"""`
	cases := []struct {
		name string
		q    string
		rows [][]any
	}{
		{"listed columns, the others defaulted and generated", pq.CopyIn(`Cöpy "Tàble"`, "select", "we ird"),
			[][]any{{"a", 1}, {"tab\there", nil}, {"new\nline \\ back", "2.25"}, {nil, 0}}},
		{"an identity column given explicitly, as COPY writes it", pq.CopyIn(`Cöpy "Tàble"`, "id", "select", "arr"),
			[][]any{{100, "x", "{1,2}"}, {101, "y", nil}}},
		{"schema-qualified", pq.CopyInSchema(td.schema(), `Cöpy "Tàble"`, "select"), [][]any{{"q"}}},
		{"no rows", pq.CopyIn(`Cöpy "Tàble"`, "select"), nil},
		{"no column list: every column but the generated ones", pq.CopyIn(`Cöpy "Tàble"`), [][]any{{200, "all", 3, "given", "{}"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			recs := checkTables(t, td, []tableSpec{{table, `Cöpy "Tàble"`, []string{"id"}, nil}}, func() {
				if err := copyIn(t, db, c.q, c.rows); err != nil {
					t.Fatal(err)
				}
			})
			if len(recs) != len(c.rows) {
				t.Fatalf("%d records for %d rows", len(recs), len(c.rows))
			}
			for _, r := range recs {
				if r.Query != c.q || r.Actor == nil || *r.Actor != "loader" {
					t.Fatalf("record query %q, actor %v; want the COPY, loader", r.Query, r.Actor)
				}
			}
		})
	}
}

// COPY in other forms, through pgx, or into a table with rules stays
// refused; into an excluded table it is lib/pq's own, unrecorded; a COPY
// the database rejects returns its error and leaves no records, and one
// rolled back leaves no rows.
func TestCopyInEdges(t *testing.T) {
	db, td := mustOpen(t, "audit-postgres", "audit_exclude=loose")
	mustExec(t, td.plain, `CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL)`,
		`CREATE TABLE loose (id integer PRIMARY KEY)`,
		`CREATE TABLE ruled (id integer PRIMARY KEY)`, `CREATE RULE r AS ON INSERT TO ruled DO ALSO NOTIFY ruled`)
	for _, q := range []string{`COPY items FROM STDIN WITH (FORMAT csv)`, `COPY items FROM '/tmp/x'`, pq.CopyIn("ruled", "id")} {
		tx, _ := db.Begin()
		if _, err := tx.Prepare(q); !errors.Is(err, sqlaudit.ErrUnsupported) {
			if st, err2 := tx.Prepare(q); err2 == nil {
				_, err = st.Exec(1)
			}
			if !errors.Is(err, sqlaudit.ErrUnsupported) {
				t.Errorf("%s: want ErrUnsupported, got %v", q, err)
			}
		}
		tx.Rollback()
	}
	if _, err := db.Exec(pq.CopyIn("items", "id")); !errors.Is(err, sqlaudit.ErrUnsupported) {
		t.Errorf("COPY … FROM STDIN by Exec: want ErrUnsupported, got %v", err)
	}
	if err := copyIn(t, db, pq.CopyIn("loose", "id"), [][]any{{1}, {2}}); err != nil {
		t.Fatal(err)
	}
	if n, rows := len(td.trail(t, "audit_log", 0)), len(td.snap(t, "loose", "id")); n != 0 || rows != 2 {
		t.Fatalf("an excluded table's COPY left %d records, %d rows", n, rows)
	}
	err := copyIn(t, db, pq.CopyIn("items", "id", "name"), [][]any{{1, "a"}, {1, "dup"}})
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) || pqErr.Code != "23505" {
		t.Fatalf("want the database's unique violation, got %v", err)
	}
	if n := len(td.trail(t, "audit_log", 0)); n != 0 {
		t.Fatalf("a failed COPY left %d records", n)
	}
	tx, _ := db.Begin()
	st, err := tx.Prepare(pq.CopyIn("items", "id", "name"))
	if err != nil {
		t.Fatal(err)
	}
	st.Exec(5, "x")
	if err := st.Close(); err != nil { // ends the COPY, as lib/pq's Close does
		t.Fatal(err)
	}
	var n int
	tx.QueryRow(`SELECT count(*) FROM items`).Scan(&n)
	tx.Rollback()
	if n != 1 || len(td.trail(t, "audit_log", 0)) != 0 || len(td.snap(t, "items", "id")) != 0 {
		t.Fatalf("Close inserted %d rows; after rollback the rows or records remain", n)
	}
	pgx, pgxTD := mustOpen(t, "audit-pgx")
	mustExec(t, pgxTD.plain, `CREATE TABLE items (id integer PRIMARY KEY)`)
	ptx, _ := pgx.Begin()
	defer ptx.Rollback()
	if _, err := ptx.Exec(pq.CopyIn("items", "id")); !errors.Is(err, sqlaudit.ErrUnsupported) {
		t.Fatalf("pgx COPY: want ErrUnsupported, got %v", err)
	}
}

// 100,000 rows stream through with bounded client memory, each recorded.
func TestCopyInManyRows(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	db, td := mustOpen(t, "audit-postgres")
	mustExec(t, td.plain, `CREATE TABLE bulk (id integer PRIMARY KEY, payload text)`)
	const rows = 100000
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := tx.Prepare(pq.CopyIn("bulk", "id", "payload"))
	if err != nil {
		t.Fatal(err)
	}
	var before, peak runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	payload := fmt.Sprintf("%0100d", 7)
	for i := 1; i <= rows; i++ {
		if _, err := st.Exec(i, payload); err != nil {
			t.Fatal(err)
		}
		if i%25000 == 0 {
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.HeapInuse {
				peak = m
			}
		}
	}
	res, err := st.Exec()
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != rows {
		t.Fatalf("RowsAffected %d", n)
	}
	st.Close()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	growth := int64(peak.HeapInuse) - int64(before.HeapInuse)
	t.Logf("heap in use grew by %d KiB while copying %d rows (%d MiB of data)", growth/1024, rows, rows*len(payload)>>20)
	if growth > 8<<20 {
		t.Fatalf("heap grew by %d MiB", growth>>20)
	}
	var recs int
	td.plain.QueryRow(`SELECT count(*) FROM audit_log WHERE action = 'INSERT' AND table_name LIKE '%bulk'`).Scan(&recs)
	if recs != rows {
		t.Fatalf("%d records for %d rows", recs, rows)
	}
}
