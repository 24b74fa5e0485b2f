package auditmysql_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"

	"github.com/go-sql-driver/mysql"

	"github.com/sqlaudit/sqlaudit"
	_ "github.com/sqlaudit/sqlaudit/auditmysql"
)

// The application opens "audit-mysql" instead of "mysql" and says who acts;
// a multi-table UPDATE is recorded row by row. (The example runs against
// $SQLAUDIT_MYSQL_DSN, a MariaDB server, in a database of its own.)
func Example() {
	server := os.Getenv("SQLAUDIT_MYSQL_DSN")
	if server == "" {
		server = "root@tcp(127.0.0.1:3306)/"
	}
	name := fmt.Sprintf("auditmysql_example_%d", os.Getpid())
	admin, err := sql.Open("mysql", server)
	if err != nil {
		panic(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		panic(err)
	}
	defer admin.Exec("DROP DATABASE " + name)
	cfg, err := mysql.ParseDSN(server)
	if err != nil {
		panic(err)
	}
	cfg.DBName = name

	db, err := sql.Open("audit-mysql", cfg.FormatDSN())
	if err != nil {
		panic(err)
	}
	defer db.Close()
	ctx := sqlaudit.WithActor(context.Background(), "alice")
	for _, stmt := range []string{`CREATE TABLE accounts (id int PRIMARY KEY, region varchar(8), balance int)`,
		`CREATE TABLE fees (region varchar(8) PRIMARY KEY, fee int)`,
		`INSERT INTO accounts VALUES (1, 'eu', 100), (2, 'us', 50)`,
		`INSERT INTO fees VALUES ('eu', 3), ('us', 4)`} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			panic(err)
		}
	}
	if _, err := db.ExecContext(ctx, `UPDATE accounts a JOIN fees f ON f.region = a.region SET a.balance = a.balance - f.fee`); err != nil {
		panic(err)
	}

	rows, err := db.QueryContext(ctx, `SELECT actor, action, row_key, old_values, new_values FROM audit_log WHERE action = 'UPDATE' ORDER BY id`)
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
	// alice UPDATE {"id": 1} {"balance": 100} {"balance": 97}
	// alice UPDATE {"id": 2} {"balance": 50} {"balance": 46}
}
