package sqlaudit_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mattn/go-sqlite3"

	"github.com/sqlaudit/sqlaudit"
	_ "github.com/sqlaudit/sqlaudit/auditsqlite3"
)

// The application opens the audit driver instead of the plain one and puts
// the acting user into the context; every write is then recorded.
func Example() {
	dir, _ := os.MkdirTemp("", "sqlaudit-example-")
	defer os.RemoveAll(dir)
	db, err := sql.Open("audit-sqlite3", filepath.Join(dir, "app.db"))
	if err != nil {
		panic(err)
	}
	defer db.Close()

	ctx := sqlaudit.WithActor(context.Background(), "alice")
	db.ExecContext(ctx, `CREATE TABLE accounts (id INTEGER PRIMARY KEY, region TEXT, balance INTEGER)`)
	db.ExecContext(ctx, `INSERT INTO accounts VALUES (1, 'eu', 100), (2, 'eu', 50), (3, 'us', 70)`)
	db.ExecContext(ctx, `UPDATE accounts SET balance = balance - ? WHERE region = ?`, 10, "eu")

	rows, _ := db.QueryContext(ctx, `SELECT actor, action, row_key, old_values, new_values FROM audit_log WHERE action = 'UPDATE' ORDER BY id`)
	defer rows.Close()
	for rows.Next() {
		var actor, action, key, old, new string
		rows.Scan(&actor, &action, &key, &old, &new)
		fmt.Println(actor, action, key, old, new)
	}
	// Output:
	// alice UPDATE {"id":1} {"balance":100} {"balance":90}
	// alice UPDATE {"id":2} {"balance":50} {"balance":40}
}

// Programmatic configuration: wrap a driver or connector with Options.
func ExampleWrap() {
	dir, _ := os.MkdirTemp("", "sqlaudit-example-")
	defer os.RemoveAll(dir)
	drv := sqlaudit.Wrap(&sqlite3.SQLiteDriver{}, sqlaudit.SQLite, sqlaudit.Options{
		Table:  "changes",
		Redact: []string{"users.password"},
	})
	connector, err := drv.OpenConnector(filepath.Join(dir, "app.db"))
	if err != nil {
		panic(err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	db.Exec(`CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, password TEXT)`)
	db.Exec(`INSERT INTO users VALUES (1, 'ann', 's3cret')`)

	var values string
	db.QueryRow(`SELECT new_values FROM changes`).Scan(&values)
	fmt.Println(values)
	// Output:
	// {"id":1,"name":"ann","password":"[redacted]"}
}

// Seal chains the committed records; Verify later proves them untouched,
// or names the first record that was not.
func ExampleVerify() {
	dir, _ := os.MkdirTemp("", "sqlaudit-example-")
	defer os.RemoveAll(dir)
	db, err := sql.Open("audit-sqlite3", filepath.Join(dir, "app.db"))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	ctx := sqlaudit.WithActor(context.Background(), "alice")
	db.ExecContext(ctx, `CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER)`)
	db.ExecContext(ctx, `INSERT INTO accounts VALUES (1, 100), (2, 50)`)

	head, _ := sqlaudit.Seal(ctx, db) // run often; keep the head elsewhere
	report, err := sqlaudit.Verify(ctx, db, sqlaudit.VerifyOptions{Head: &head})
	fmt.Println(report.Checked, err)

	// Someone edits the trail behind the driver's back.
	plain, _ := sql.Open("sqlite3", filepath.Join(dir, "app.db"))
	plain.Exec(`UPDATE audit_log SET actor = 'mallory' WHERE id = 2`)
	plain.Close()
	_, err = sqlaudit.Verify(ctx, db, sqlaudit.VerifyOptions{Head: &head})
	fmt.Println(errors.Is(err, sqlaudit.ErrTampered), err)
	// Output:
	// 2 <nil>
	// true sqlaudit: audit trail tampered with at seal 2 (record 2): the record was edited, or records were reordered
}
