package web_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/lib/pq"
	_ "github.com/mattn/go-sqlite3"

	"github.com/sqlaudit/sqlaudit"
	_ "github.com/sqlaudit/sqlaudit/auditmysql"
	_ "github.com/sqlaudit/sqlaudit/auditpgx"
	_ "github.com/sqlaudit/sqlaudit/auditpq"
	_ "github.com/sqlaudit/sqlaudit/auditsqlite3"
	"github.com/sqlaudit/sqlaudit/internal/dbtest"
	"github.com/sqlaudit/sqlaudit/trail"
	"github.com/sqlaudit/sqlaudit/trail/web"
)

// drivers are the audit drivers every test runs on.
var drivers = []string{"audit-pgx", "audit-postgres", "audit-sqlite3", "audit-mysql"}

var seq atomic.Int64

// shop is one test's database with a scripted trail.
type shop struct {
	driver string
	db     *sql.DB // audited
	plain  *sql.DB // the same database, not audited
	schema string  // PostgreSQL: the test's schema, which qualifies recorded names
	txs    []int64 // the transaction of each step
}

// tbl is a table's name as the trail records it.
func (s *shop) tbl(name string) string {
	if s.schema == "" {
		return name
	}
	return s.schema + "." + name
}

func (s *shop) cascades() bool { return s.driver != "audit-mysql" }

// Hostile values, stored in the trail: they must show as text.
const (
	hostileScript = `<script>alert(1)</script>`
	hostileImg    = `<img src=x onerror=alert(1)>`
)

// openShop gives the test its own schema, database or file, and writes the
// scripted trail into it.
func openShop(t testing.TB, driver string) *shop {
	t.Helper()
	if !dbtest.Selected(driver) { // scripts/test.sh runs the PostgreSQL drivers alone on its second server
		t.Skipf("%s is not among SQLAUDIT_DRIVERS=%s", driver, os.Getenv("SQLAUDIT_DRIVERS"))
	}
	s := &shop{driver: driver}
	var dsn, plain string
	switch driver {
	case "audit-sqlite3":
		dsn, plain = "file:"+filepath.Join(t.TempDir(), "shop.db")+"?_busy_timeout=10000&_foreign_keys=1", "sqlite3"
	case "audit-mysql":
		name := fmt.Sprintf("web_%d_%d", time.Now().UnixNano()%1e9, seq.Add(1))
		admin := mustOpen(t, "mysql", dbtest.MySQLServer())
		mustExec(t, admin, "CREATE DATABASE "+name)
		t.Cleanup(func() { admin.Exec("DROP DATABASE " + name) })
		dsn, plain = dbtest.MySQLServer()+name, "mysql"
	default:
		s.schema = fmt.Sprintf("web_%d_%d", time.Now().UnixNano()%1e9, seq.Add(1))
		admin := mustOpen(t, "postgres", dbtest.PGURL())
		mustExec(t, admin, "CREATE SCHEMA "+s.schema)
		t.Cleanup(func() { admin.Exec("DROP SCHEMA " + s.schema + " CASCADE") })
		dsn, plain = dbtest.PGURL()+"&search_path="+s.schema, "pgx"
	}
	s.db, s.plain = mustOpen(t, driver, dsn), mustOpen(t, plain, dsn)
	cascade := " ON DELETE CASCADE"
	if !s.cascades() {
		cascade = "" // MariaDB: foreign-key actions into audited tables are refused
	}
	mustExec(t, s.db, `CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL)`,
		`CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers (id)`+cascade+`, note VARCHAR(100), total DECIMAL(10,2))`,
		`CREATE TABLE codes (code VARCHAR(20) PRIMARY KEY, v INTEGER)`)
	s.step(t, "alice", map[string]any{"request_id": "req-1"},
		`INSERT INTO customers VALUES (1, 'Ann'), (2, 'Bob')`,
		`INSERT INTO orders VALUES (10, 1, 'first', 9.50), (11, 2, '`+hostileScript+`', 3.00), (12, 1, '`+hostileImg+`', 1.00)`,
		`INSERT INTO codes VALUES ('42', 1)`)
	s.step(t, "bob", map[string]any{"request_id": "req-2", "trace_id": bobTrace}, `UPDATE orders SET total = 12.00 WHERE id = 10`)
	if s.cascades() {
		s.step(t, "carol", map[string]any{"request_id": "req-3"}, `DELETE FROM customers WHERE id = 2`)
	} else {
		s.step(t, "carol", map[string]any{"request_id": "req-3"}, `DELETE FROM orders WHERE id = 11`, `DELETE FROM customers WHERE id = 2`)
	}
	s.step(t, hostileImg, map[string]any{"note": hostileScript}, `UPDATE customers SET name = 'Ann B.' WHERE id = 1`, `UPDATE codes SET v = 5 WHERE code = '42'`)
	return s
}

// bobTrace is the OpenTelemetry trace id of bob's step (as the wrapper
// records a span's: the metadata's trace_id).
const bobTrace = "4bf92f3577b34da6a3ce929d0e0e4736"

// step runs statements in one transaction as actor with metadata.
func (s *shop) step(t testing.TB, actor string, meta map[string]any, stmts ...string) {
	t.Helper()
	ctx := sqlaudit.WithMetadata(sqlaudit.WithActor(context.Background(), actor), meta)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			tx.Rollback()
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	recs, err := trail.Log(ctx, s.db, trail.Filter{NewestFirst: true, Limit: 1})
	if err != nil || len(recs) == 0 {
		t.Fatalf("no records: %v", err)
	}
	s.txs = append(s.txs, recs[0].TxID)
	time.Sleep(2 * time.Millisecond) // SQLite times have milliseconds
}

func mustOpen(t testing.TB, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(); err != nil {
		t.Fatalf("%s %s: %v", driver, dsn, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustExec(t testing.TB, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// sealAll seals the whole trail. Seal seals only records below the oldest
// transaction running on the server, and other tests share the server: it
// tries again until every record is sealed (as the root package's tests do).
func sealAll(t *testing.T, s *shop) sqlaudit.Head {
	t.Helper()
	n, err := trail.Count(context.Background(), s.db, trail.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		head, err := sqlaudit.Seal(context.Background(), s.db)
		if err != nil {
			t.Fatal(err)
		}
		if head.Seq == n.Records {
			return head
		}
		if head.Seq > n.Records || time.Now().After(deadline) {
			t.Fatalf("Seal = %+v; want %d sealed records", head, n.Records)
		}
	}
}

// forEach runs f on a fresh shop of every driver.
func forEach(t *testing.T, f func(t *testing.T, s *shop)) {
	for _, d := range drivers {
		t.Run(d, func(t *testing.T) { f(t, openShop(t, d)) })
	}
}

// viewer mounts the handler under /admin/audit/ as an application would.
func viewer(s *shop, opts web.Options) *httptest.Server {
	mux := http.NewServeMux()
	mux.Handle("/admin/audit/", http.StripPrefix("/admin/audit", web.Handler(s.db, opts)))
	return httptest.NewServer(mux)
}

// get fetches a path under the viewer's prefix: status and body.
func get(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	res, err := srv.Client().Get(srv.URL + "/admin/audit" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// mustGet fetches a path that must answer 200.
func mustGet(t *testing.T, srv *httptest.Server, path string) string {
	t.Helper()
	code, body := get(t, srv, path)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	return body
}

// contains fails the test unless body has every want.
func contains(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, body)
		}
	}
}

// lacks fails the test if body has any of bad.
func lacks(t *testing.T, what, body string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(body, b) {
			t.Errorf("%s has %q", what, b)
		}
	}
}
