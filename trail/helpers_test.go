package trail_test

import (
	"database/sql"
	"fmt"
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

	_ "github.com/sqlaudit/sqlaudit/auditmysql"
	_ "github.com/sqlaudit/sqlaudit/auditpgx"
	_ "github.com/sqlaudit/sqlaudit/auditsqlite3"
	"github.com/sqlaudit/sqlaudit/internal/dbtest"
)

// drivers are the audit drivers every test runs on (those SQLAUDIT_DRIVERS
// selects, see dbtest.Selected).
var drivers = dbtest.Selection("audit-pgx", "audit-sqlite3", "audit-mysql")

var seq atomic.Int64

// env is one test's database: db is audited; tbl qualifies a table name as
// the trail records it (PostgreSQL tests run in their own schema).
type env struct {
	driver string
	dsn    string  // of both handles
	db     *sql.DB // audited
	plain  *sql.DB // the same database, not audited
	schema string
}

func (e *env) tbl(name string) string {
	if e.schema == "" {
		return name
	}
	return e.schema + "." + name
}

// open gives the test its own PostgreSQL schema or SQLite file.
func open(t *testing.T, driver string) *env {
	t.Helper()
	if !dbtest.Selected(driver) {
		t.Skipf("%s is not among SQLAUDIT_DRIVERS=%s", driver, os.Getenv("SQLAUDIT_DRIVERS"))
	}
	e := &env{driver: driver}
	var dsn string
	switch driver {
	case "audit-sqlite3":
		dsn = "file:" + filepath.Join(t.TempDir(), "t.db") + "?_busy_timeout=10000"
	case "audit-mysql": // the test's own database is the default one: names are recorded bare
		name := fmt.Sprintf("trail_%d_%d", time.Now().UnixNano()%1e9, seq.Add(1))
		admin, err := sql.Open("mysql", dbtest.MySQLServer())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
			t.Fatalf("create database (MariaDB at %s?): %v", dbtest.MySQLServer(), err)
		}
		t.Cleanup(func() {
			admin.Exec("DROP DATABASE " + name)
			admin.Close()
		})
		dsn = dbtest.MySQLServer() + name
	default:
		e.schema = fmt.Sprintf("trail_%d_%d", time.Now().UnixNano()%1e9, seq.Add(1))
		admin, err := sql.Open("postgres", dbtest.PGURL())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec("CREATE SCHEMA " + e.schema); err != nil {
			t.Fatalf("create schema (PostgreSQL at %s?): %v", dbtest.PGURL(), err)
		}
		t.Cleanup(func() {
			admin.Exec("DROP SCHEMA " + e.schema + " CASCADE")
			admin.Close()
		})
		dsn = dbtest.PGURL() + "&search_path=" + e.schema
	}
	e.dsn = dsn
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e.db = db
	plainName := map[string]string{"audit-pgx": "pgx", "audit-sqlite3": "sqlite3", "audit-mysql": "mysql"}[driver]
	if e.plain, err = sql.Open(plainName, dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.plain.Close() })
	return e
}

func forEach(t *testing.T, f func(t *testing.T, e *env)) {
	for _, d := range drivers {
		t.Run(d, func(t *testing.T) { f(t, open(t, d)) })
	}
}

func mustExec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// withParam adds a DSN parameter to e's DSN.
func (e *env) withParam(k, v string) string {
	sep := "?"
	if strings.Contains(e.dsn, "?") {
		sep = "&"
	}
	return e.dsn + sep + k + "=" + v
}

// another opens a new handle on e's database through its audit driver.
func (e *env) another(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(e.driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
