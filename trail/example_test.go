package trail_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sqlaudit/sqlaudit"
	_ "github.com/sqlaudit/sqlaudit/auditsqlite3"
	"github.com/sqlaudit/sqlaudit/trail"
)

// shop opens a new audited SQLite database with one product, changed once.
func shop() (*sql.DB, time.Time, func()) {
	dir, _ := os.MkdirTemp("", "trail-example-")
	db, _ := sql.Open("audit-sqlite3", filepath.Join(dir, "shop.db"))
	ctx := sqlaudit.WithActor(context.Background(), "alice")
	db.ExecContext(ctx, `CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, price NUMERIC)`)
	db.ExecContext(ctx, `INSERT INTO products VALUES (1, 'tea', 4.50)`)
	time.Sleep(5 * time.Millisecond)
	between := time.Now()
	time.Sleep(5 * time.Millisecond)
	db.ExecContext(sqlaudit.WithActor(ctx, "bob"), `UPDATE products SET price = 4.95 WHERE id = 1`)
	return db, between, func() { db.Close(); os.RemoveAll(dir) }
}

func ExampleHistory() {
	db, _, done := shop()
	defer done()
	recs, err := trail.History(context.Background(), db, "products", trail.Key{"id": 1})
	if err != nil {
		panic(err)
	}
	for _, r := range recs {
		fmt.Println(r.Actor, r.Action, r.Old["price"], "→", r.New["price"])
	}
	// Output:
	// alice INSERT <nil> → 4.5
	// bob UPDATE 4.5 → 4.95
}

func ExampleAsOf() {
	db, between, done := shop()
	defer done()
	row, existed, err := trail.AsOf(context.Background(), db, "products", trail.Key{"id": 1}, between)
	if err != nil {
		panic(err)
	}
	fmt.Println(existed, row["name"], row["price"])
	_, existed, _ = trail.AsOf(context.Background(), db, "products", trail.Key{"id": 1}, between.Add(-time.Hour))
	fmt.Println(existed)
	// Output:
	// true tea 4.5
	// false
}

func ExampleRevert() {
	db, _, done := shop()
	defer done()
	ctx := sqlaudit.WithActor(context.Background(), "ops")
	last, _ := trail.Log(ctx, db, trail.Filter{Action: "UPDATE"})
	res, err := trail.Revert(ctx, db, last[0].TxID, trail.RevertOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Statements[0].SQL, res.Statements[0].Args)
	var price float64
	db.QueryRow(`SELECT price FROM products WHERE id = 1`).Scan(&price)
	fmt.Println(price)
	// Output:
	// UPDATE "products" SET "price" = ? WHERE "id" = ? [4.5 1]
	// 4.5
}

func ExampleLog() {
	db, _, done := shop()
	defer done()
	page, err := trail.Log(context.Background(), db, trail.Filter{Actor: "bob", Table: "products", Limit: 10})
	if err != nil {
		panic(err)
	}
	for _, r := range page {
		fmt.Println(r.ID, r.Action, r.Table, r.Key["id"], r.New)
	}
	// Output:
	// 2 UPDATE products 1 map[price:4.95]
}
