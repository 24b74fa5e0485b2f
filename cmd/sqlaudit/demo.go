package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/sqlaudit/sqlaudit"
	_ "github.com/sqlaudit/sqlaudit/auditsqlite3"
	"github.com/sqlaudit/sqlaudit/trail"
)

// demo runs a small shop through the audit-sqlite3 driver: two actors make
// changes, one transaction rolls back, and the trail is printed.
func demo(ctx context.Context, path string, out io.Writer) error {
	kept := path
	if path != "" {
		if _, err := os.Stat(path); err == nil {
			return fmt.Errorf("%s exists: the demo makes a new database (remove it, or name another file with --db)", path)
		}
	} else {
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
	var beforeDelete time.Time
	for i, s := range steps {
		if i == len(steps)-1 {
			time.Sleep(5 * time.Millisecond) // the trail's times have milliseconds
			beforeDelete = time.Now()
			time.Sleep(5 * time.Millisecond)
		}
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
	if err := printTrail(ctx, db, out); err != nil {
		return err
	}
	dsn := ""
	if kept != "" {
		dsn = " --dsn " + kept
	}
	if err := printDemoReads(ctx, db, out, beforeDelete, dsn); err != nil {
		return err
	}
	if kept == "" {
		_, err = fmt.Fprintln(out, "\n-- the database was temporary: 'sqlaudit demo --db shop.db' keeps it, to run the commands above (and 'sqlaudit serve --dsn shop.db')")
		return err
	}
	_, err = fmt.Fprintf(out, "\n-- the database is kept in %s; try:\n   sqlaudit log%s -v\n   sqlaudit show%s 4\n   sqlaudit revert%s 8 --dry-run\n   sqlaudit serve%s\n",
		kept, dsn, dsn, dsn, dsn)
	return err
}

// printTrail prints the audit table as an aligned table.
func printTrail(ctx context.Context, db *sql.DB, out io.Writer) error {
	w, _ := newRecordWriter("table", out, writerOptions{order: newColumnOrders(ctx, db, nil)})
	for r, err := range trail.Query(ctx, db, trail.Filter{}) {
		if err != nil {
			return err
		}
		w.write(r)
	}
	return w.flush()
}

// printDemoReads shows the history of coffee and its row as of before it
// was deleted.
func printDemoReads(ctx context.Context, db *sql.DB, out io.Writer, beforeDelete time.Time, dsn string) error {
	key := trail.Key{"id": 2}
	recs, err := trail.History(ctx, db, "products", key)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n-- sqlaudit history%s products 2\n", dsn)
	p, _ := newPalette("never", out)
	order := []string{"id", "name", "price", "stock"}
	printHistory(out, p, recs, order, false)
	row, ok, err := trail.AsOf(ctx, db, "products", key, beforeDelete)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n-- sqlaudit asof%s products 2 %s   (before alice deleted it)\n", dsn, beforeDelete.UTC().Format(timeFormat))
	if !ok {
		return fmt.Errorf("coffee did not exist before its deletion")
	}
	var rows [][]string
	for _, c := range inOrder(row, order) {
		rows = append(rows, []string{c, jsonText(row[c])})
	}
	return renderTable(out, []string{"COLUMN", "VALUE"}, rows)
}

func demoCmd(g *globals) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a small audited SQLite shop and print its trail, a history and an as-of",
		Long: `Run a small shop through the audit-sqlite3 driver: two actors change products,
one transaction rolls back (and leaves no records). Then print the trail, the
history of one product and that product as it was before it was deleted.`,
		Example: "  sqlaudit demo\n  sqlaudit demo --db shop.db && sqlaudit log --dsn shop.db",
		Args:    nArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return demo(cmd.Context(), path, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&path, "db", "", "SQLite file to create and keep, to try the other commands on (default: a temporary file, removed afterwards)")
	return cmd
}
