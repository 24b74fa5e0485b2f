package auditpgx_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/sqlaudit/sqlaudit"
	_ "github.com/sqlaudit/sqlaudit/auditpgx"
)

// The application opens "audit-pgx" instead of "pgx" and says who acts; the
// UPDATE is recorded with the old and new values of the changed column. (The
// example runs against $SQLAUDIT_PG_URL, in a schema of its own.)
func Example() {
	server := os.Getenv("SQLAUDIT_PG_URL")
	if server == "" {
		server = "postgres://postgres@localhost:5432/postgres?sslmode=disable"
	}
	schema := fmt.Sprintf("auditpgx_example_%d", os.Getpid())
	admin, err := sql.Open("pgx", server)
	if err != nil {
		panic(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		panic(err)
	}
	defer admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
	dsn, _ := url.Parse(server)
	q := dsn.Query()
	q.Set("search_path", schema)
	dsn.RawQuery = q.Encode()

	db, err := sql.Open("audit-pgx", dsn.String())
	if err != nil {
		panic(err)
	}
	defer db.Close()
	ctx := sqlaudit.WithActor(context.Background(), "alice")
	for _, stmt := range []string{`CREATE TABLE accounts (id int PRIMARY KEY, balance int)`,
		`INSERT INTO accounts VALUES (1, 100), (2, 50)`} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			panic(err)
		}
	}
	if _, err := db.ExecContext(ctx, `UPDATE accounts SET balance = balance - $1 WHERE id = $2`, 10, 1); err != nil {
		panic(err)
	}

	var actor, action, key, old, new string
	err = db.QueryRowContext(ctx, `SELECT actor, action, row_key::text, old_values::text, new_values::text
		FROM audit_log WHERE action = 'UPDATE'`).Scan(&actor, &action, &key, &old, &new)
	fmt.Println(actor, action, key, old, new, err)
	// Output:
	// alice UPDATE {"id": 1} {"balance": 100} {"balance": 90} <nil>
}
