package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/sqlaudit/sqlaudit"
	_ "github.com/sqlaudit/sqlaudit/auditsqlite3"
)

// demo runs a small shop through the audit-sqlite3 driver: two actors make
// changes, one transaction rolls back, and the trail is printed.
func demo(ctx context.Context, path string, out io.Writer) error {
	if path == "" {
		dir, err := os.MkdirTemp("", "sqlaudit-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "shop.db")
	}
	db, err := sql.Open("audit-sqlite3", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		return err
	}
	defer db.Close()

	alice := sqlaudit.WithMetadata(sqlaudit.WithActor(ctx, "alice"), map[string]any{"request_id": "req-1"})
	bob := sqlaudit.WithMetadata(sqlaudit.WithActor(ctx, "bob"), map[string]any{"request_id": "req-2"})
	steps := []struct {
		ctx  context.Context
		note string
		q    string
		args []any
	}{
		{ctx, "create the table (DDL is not audited)", `CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price NUMERIC NOT NULL, stock INTEGER NOT NULL)`, nil},
		{alice, "alice adds three products", `INSERT INTO products (id, name, price, stock) VALUES (1, 'tea', 4.50, 10), (2, 'coffee', 7.00, 5), (3, 'cocoa', 5.25, 0)`, nil},
		{bob, "bob raises every price by 10% (one UPDATE, three rows)", `UPDATE products SET price = round(price * 1.1, 2)`, nil},
		{bob, "bob restocks what is sold out", `UPDATE products SET stock = ? WHERE stock = 0`, []any{20}},
		{alice, "alice deletes coffee", `DELETE FROM products WHERE name = ?`, []any{"coffee"}},
	}
	for _, s := range steps {
		fmt.Fprintf(out, "-- %s\n   %s\n", s.note, s.q)
		if _, err := db.ExecContext(s.ctx, s.q, s.args...); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "-- bob empties the table in a transaction, then rolls it back (no records)\n   DELETE FROM products\n")
	tx, err := db.BeginTx(bob, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(bob, `DELETE FROM products`); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Rollback(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	return printTrail(ctx, db, out)
}

// printTrail prints the audit table as an aligned table.
func printTrail(ctx context.Context, db *sql.DB, out io.Writer) error {
	rows, err := db.QueryContext(ctx, `SELECT id, tx_id, coalesce(actor, '-'), action, table_name, row_key,
		coalesce(old_values, '-'), coalesce(new_values, '-'), coalesce(metadata, '-') FROM audit_log ORDER BY id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tTX\tACTOR\tACTION\tTABLE\tKEY\tOLD\tNEW\tMETADATA")
	for rows.Next() {
		var id, tx int64
		var f [7]string
		if err := rows.Scan(&id, &tx, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6]); err != nil {
			return err
		}
		fmt.Fprintf(w, "%d\t%d\t%s\n", id, tx, strings.Join(f[:], "\t"))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return w.Flush()
}
