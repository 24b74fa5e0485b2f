package sqlaudit_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/sqlaudit/sqlaudit"
)

// pgVersion is the server's version number (180004 for 18.4).
func pgVersion(t testing.TB, db *sql.DB) int {
	t.Helper()
	var v int
	if err := db.QueryRow(`SELECT current_setting('server_version_num')::int`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// MERGE is audited on PostgreSQL 18, whose MERGE … RETURNING names the old
// and new rows: each row as the INSERT, UPDATE or DELETE its WHEN clause
// made of it. Before 18 it is refused with the version it needs.
func TestPostgreSQLMergeIsRecordedFrom18(t *testing.T) {
	forEachPGDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		seedAccounts(t, db)
		mustExec(t, db, `CREATE TABLE incoming (id int PRIMARY KEY, region text, balance numeric, gone boolean)`,
			`INSERT INTO incoming VALUES (1, 'eu', 11, false), (2, 'eu', 20, false), (3, 'us', 0, true), (4, 'us', 40, false)`)
		merge := `MERGE INTO accounts a USING incoming i ON a.id = i.id
			WHEN MATCHED AND i.gone THEN DELETE
			WHEN MATCHED THEN UPDATE SET balance = i.balance
			WHEN NOT MATCHED THEN INSERT (id, region, balance) VALUES (i.id, i.region, i.balance)`
		if pgVersion(t, td.plain) < 180000 {
			before := td.snap(t, "accounts", "id")
			_, err := db.Exec(merge)
			if !errors.Is(err, sqlaudit.ErrUnsupported) || !strings.Contains(err.Error(), "PostgreSQL 18") {
				t.Fatalf("MERGE before 18: %v, want ErrUnsupported naming the version it needs", err)
			}
			if after := td.snap(t, "accounts", "id"); !reflect.DeepEqual(before, after) {
				t.Fatal("the refused MERGE changed rows")
			}
			return
		}
		recs := checkChange(t, td, "accounts", []string{"id"}, func() {
			res, err := db.Exec(merge)
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := res.RowsAffected(); n != 4 {
				t.Fatalf("RowsAffected %d, want 4 (one unchanged row counts: MERGE counts every row its clauses act on)", n)
			}
		})
		if len(recs) != 3 { // row 2 matched but unchanged: no record
			t.Fatalf("records %v, want INSERT 4, UPDATE 1, DELETE 3", recs)
		}
		// WHEN NOT MATCHED BY SOURCE, DO NOTHING, and the caller's RETURNING through Query.
		checkChange(t, td, "accounts", []string{"id"}, func() {
			rows, err := db.Query(`MERGE INTO accounts a USING (SELECT * FROM incoming WHERE id <> 2) i ON a.id = i.id
				WHEN MATCHED THEN DO NOTHING WHEN NOT MATCHED BY SOURCE THEN DELETE
				RETURNING merge_action(), old.id, new.id`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var got []string
			for rows.Next() {
				var act string
				var o, n sql.NullInt64
				if err := rows.Scan(&act, &o, &n); err != nil {
					t.Fatal(err)
				}
				got = append(got, fmt.Sprintf("%s %d %v", act, o.Int64, n.Valid))
			}
			if fmt.Sprint(got) != "[DELETE 2 false]" {
				t.Fatalf("MERGE … RETURNING rows %v, want [DELETE 2 false]", got)
			}
		})
	})
}

// From PostgreSQL 18 on an application may ask for old and new itself: its
// RETURNING list is evaluated inside the write, as without the wrapper
// (issue 15: through Query it failed with "missing FROM-clause entry for
// table old"). PostgreSQL 18's RETURNING WITH (OLD AS o …) is refused with
// a reason: the analyser's PostgreSQL 17 grammar cannot read it.
func TestPostgreSQLReturningOldAndNewFrom18(t *testing.T) {
	forEachPGDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		seedAccounts(t, db)
		if pgVersion(t, td.plain) < 180000 {
			t.Skip("RETURNING old and new are PostgreSQL 18's")
		}
		for _, q := range []string{
			`UPDATE accounts SET balance = balance + 1 WHERE id <= 2 RETURNING id, old.balance, new.balance`,
			`UPDATE accounts AS a SET balance = 5 FROM (VALUES (3)) AS v(id) WHERE a.id = v.id RETURNING *, old.balance`,
			`DELETE FROM accounts WHERE id = 1 RETURNING old.id, new.id`,
			`INSERT INTO accounts (id, region, balance) VALUES (2, 'eu', 7), (9, 'us', 9) ON CONFLICT (id) DO UPDATE SET balance = excluded.balance RETURNING id, old.balance, new.balance`,
		} {
			mustExec(t, td.plain, `DROP TABLE IF EXISTS control`, `CREATE TABLE control AS SELECT * FROM accounts`, `ALTER TABLE control ADD PRIMARY KEY (id)`)
			want := textRows(t, td.plain, strings.Replace(strings.Replace(q, "INTO accounts", "INTO control", 1), " accounts", " control", 1))
			var got [][]string
			checkChange(t, td, "accounts", []string{"id"}, func() { got = textRows(t, db, q) })
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s:\n got %v\nwant %v (the plain driver's)", q, got, want)
			}
		}
		_, err := db.Query(`UPDATE accounts SET balance = 0 RETURNING WITH (OLD AS o, NEW AS n) o.balance, n.balance`)
		if !errors.Is(err, sqlaudit.ErrUnsupported) || !strings.Contains(err.Error(), "RETURNING WITH") {
			t.Fatalf("RETURNING WITH (OLD AS …): %v, want ErrUnsupported naming it", err)
		}
	})
}

// textRows reads every row of q as text, the column names first.
func textRows(t testing.TB, db *sql.DB, q string) [][]string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = fmt.Sprint(v.String, v.Valid)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return append([][]string{cols}, out...)
}

var _ = context.Background
