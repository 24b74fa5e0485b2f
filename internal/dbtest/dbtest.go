// Package dbtest gives the relay and gather tests their own audited
// databases on the servers the test command found (SQLAUDIT_PG_URL,
// SQLAUDIT_MYSQL_DSN, SQLite files), honouring SQLAUDIT_DRIVERS.
package dbtest

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // plain handles
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/lib/pq"
	_ "github.com/mattn/go-sqlite3"

	_ "github.com/sqlaudit/sqlaudit/auditmysql" // audited handles
	_ "github.com/sqlaudit/sqlaudit/auditpgx"
	_ "github.com/sqlaudit/sqlaudit/auditpq"
	_ "github.com/sqlaudit/sqlaudit/auditsqlite3"
)

// Drivers are the audit drivers the relay tests write through.
var Drivers = []string{"audit-pgx", "audit-postgres", "audit-sqlite3", "audit-mysql"}

// known are the audit drivers SQLAUDIT_DRIVERS may name.
var known = []string{"audit-postgres", "audit-pgx", "audit-sqlite3", "audit-sqlite", "audit-ncruces", "audit-mysql"}

// Selected reports whether SQLAUDIT_DRIVERS (a comma-separated list of audit
// drivers; unset: all) names driver. scripts/test.sh sets it to run the
// PostgreSQL drivers alone on its second server. A name that is not an audit
// driver stops the test binary, lest a typo select nothing and pass.
func Selected(driver string) bool {
	env := os.Getenv("SQLAUDIT_DRIVERS")
	if env == "" {
		return true
	}
	found := false
	for _, d := range strings.Split(env, ",") {
		d = strings.TrimSpace(d)
		if !slices.Contains(known, d) {
			panic(fmt.Sprintf("SQLAUDIT_DRIVERS=%q: %q is not an audit driver (%s)", env, d, strings.Join(known, ", ")))
		}
		found = found || d == driver
	}
	return found
}

// Selection is those of drivers that SQLAUDIT_DRIVERS selects (Selected).
func Selection(drivers ...string) []string {
	var out []string
	for _, d := range drivers {
		if Selected(d) {
			out = append(out, d)
		}
	}
	return out
}

// PGURL is the PostgreSQL server of the tests.
func PGURL() string {
	if u := os.Getenv("SQLAUDIT_PG_URL"); u != "" {
		return u
	}
	return "postgres://postgres@localhost:5432/postgres?sslmode=disable"
}

// MySQLServer is the MariaDB server (a DSN without database).
func MySQLServer() string {
	if s := os.Getenv("SQLAUDIT_MYSQL_DSN"); s != "" {
		return s
	}
	return "root@tcp(127.0.0.1:3306)/"
}

var seq atomic.Int64

// DB is one test's database.
type DB struct {
	Driver string
	DSN    string  // for the audit driver (and a child process)
	Audit  *sql.DB // through the audit driver
	Plain  *sql.DB // the same database, plain driver
}

// Open gives the test its own database for driver: a PostgreSQL database
// (not a schema: the relay and gather tests want a whole trail), a MariaDB
// database or a SQLite file, dropped when the test ends.
func Open(t testing.TB, driver string) *DB {
	t.Helper()
	if !Selected(driver) {
		t.Skipf("%s is not among SQLAUDIT_DRIVERS=%s", driver, os.Getenv("SQLAUDIT_DRIVERS"))
	}
	name := fmt.Sprintf("relay_%d_%d", time.Now().UnixNano()%1e9, seq.Add(1))
	d := &DB{Driver: driver}
	switch driver {
	case "audit-sqlite3":
		d.DSN = "file:" + filepath.Join(t.TempDir(), name+".db") + "?_busy_timeout=20000&_journal_mode=WAL"
	case "audit-mysql":
		admin := mustOpen(t, "mysql", MySQLServer())
		if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
			t.Fatalf("create database (MariaDB at %s?): %v", MySQLServer(), err)
		}
		t.Cleanup(func() { admin.Exec("DROP DATABASE " + name) })
		d.DSN = MySQLServer() + name
	default:
		d.DSN = CreatePG(t, name)
	}
	d.Audit = mustOpen(t, driver, d.DSN)
	plain := map[string]string{"audit-pgx": "pgx", "audit-postgres": "postgres", "audit-sqlite3": "sqlite3", "audit-mysql": "mysql"}[driver]
	d.Plain = mustOpen(t, plain, d.DSN)
	return d
}

// CreatePG creates a PostgreSQL database, dropped when the test ends, and
// returns its URL.
func CreatePG(t testing.TB, name string) string {
	t.Helper()
	admin := mustOpen(t, "pgx", PGURL())
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database (PostgreSQL at %s?): %v", PGURL(), err)
	}
	t.Cleanup(func() { admin.Exec("DROP DATABASE " + name + " WITH (FORCE)") })
	u := PGURL()
	i := strings.LastIndex(u, "/")
	rest := ""
	if q := strings.Index(u[i:], "?"); q >= 0 {
		rest = u[i+q:]
	}
	return u[:i+1] + name + rest
}

func mustOpen(t testing.TB, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
