// Command shop is a small net/http service on GORM whose every write is
// audited by sqlaudit: a middleware puts the authenticated user into
// sqlaudit.WithActor and the request id into the record's metadata, and
// GET /products/{id}/history returns a row's trail.
//
//	go run ./examples/shop                       # SQLite file shop.db
//	go run ./examples/shop -dsn postgres://postgres@localhost/postgres?sslmode=disable
//	go run ./examples/shop -dsn 'mysql://root@tcp(127.0.0.1:3306)/shop'
//
//	curl -u alice: -X POST localhost:8080/products -d '{"name":"tea","price":4.5}'
//	curl -u bob:   -X PATCH localhost:8080/products/1 -d '{"price":5}'
//	curl localhost:8080/products/1/history
package main

import (
	"flag"
	"log"
	"net/http"
	"strings"
)

func main() {
	dsn := flag.String("dsn", "shop.db", "a SQLite file, a postgres:// URL, or mysql:// and a go-sql-driver DSN")
	addr := flag.String("addr", "localhost:8080", "listen address")
	table := flag.String("table", "products", `the products table as the trail names it ("schema.products" outside public)`)
	flag.Parse()
	app, err := Open(*dsn)
	if err != nil {
		log.Fatal(err)
	}
	app.Table = *table
	log.Printf("shop on http://%s (database %s)", *addr, redact(*dsn))
	log.Fatal(http.ListenAndServe(*addr, app.Handler()))
}

// redact hides a password in a URL for the log line.
func redact(dsn string) string {
	if i, j := strings.Index(dsn, "://"), strings.LastIndex(dsn, "@"); i >= 0 && j > i {
		if k := strings.Index(dsn[i+3:j], ":"); k >= 0 {
			return dsn[:i+3+k] + ":***" + dsn[j:]
		}
	}
	return dsn
}
