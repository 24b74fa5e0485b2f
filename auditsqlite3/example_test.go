package auditsqlite3_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sqlaudit/sqlaudit"
	_ "github.com/sqlaudit/sqlaudit/auditsqlite3"
)

// The application opens "audit-sqlite3" instead of "sqlite3" and says who
// acts; an upsert is recorded as the INSERT or the UPDATE it was for each row.
func Example() {
	dir, err := os.MkdirTemp("", "auditsqlite3-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	db, err := sql.Open("audit-sqlite3", filepath.Join(dir, "app.db"))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	ctx := sqlaudit.WithActor(context.Background(), "alice")
	for _, stmt := range []string{`CREATE TABLE stock (sku TEXT PRIMARY KEY, qty INTEGER)`,
		`INSERT INTO stock VALUES ('a', 1)`,
		`INSERT INTO stock VALUES ('a', 5), ('b', 2) ON CONFLICT (sku) DO UPDATE SET qty = qty + excluded.qty`} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			panic(err)
		}
	}

	rows, err := db.QueryContext(ctx, `SELECT actor, action, row_key, coalesce(old_values, '-'), new_values FROM audit_log ORDER BY id`)
	if err != nil {
		panic(err)
	}
	defer rows.Close()
	for rows.Next() {
		var actor, action, key, old, new string
		if err := rows.Scan(&actor, &action, &key, &old, &new); err != nil {
			panic(err)
		}
		fmt.Println(actor, action, key, old, new)
	}
	// Output:
	// alice INSERT {"sku":"a"} - {"sku":"a","qty":1}
	// alice UPDATE {"sku":"a"} {"qty":1} {"qty":6}
	// alice INSERT {"sku":"b"} - {"sku":"b","qty":2}
}
