// Package oracle is the differential oracle of the ORM integration tests:
// each test gets its own database (a PostgreSQL schema, a SQLite file or a
// MariaDB database), snapshots tables as the database renders rows to JSON
// before and after a change, and checks that the audit records written in
// between are exactly the true difference (rows added, removed and changed
// by key; changed columns only), that they replay to the final state and
// that each carries the actor of the context the ORM was given.
package oracle

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // the plain drivers read the truth
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/lib/pq"
	_ "github.com/mattn/go-sqlite3"

	"github.com/sqlaudit/sqlaudit"
	_ "github.com/sqlaudit/sqlaudit/auditmysql"
	_ "github.com/sqlaudit/sqlaudit/auditpgx"
	_ "github.com/sqlaudit/sqlaudit/auditpq"
	_ "github.com/sqlaudit/sqlaudit/auditsqlite3"
	core "github.com/sqlaudit/sqlaudit/internal/oracle"
)

// Drivers are the audit drivers every integration test runs on: those of
// audit-pgx, audit-postgres, audit-sqlite3 and audit-mysql that
// SQLAUDIT_DRIVERS selects (see Selected).
var Drivers = selected("audit-pgx", "audit-postgres", "audit-sqlite3", "audit-mysql")

// knownDrivers are the audit drivers SQLAUDIT_DRIVERS may name.
var knownDrivers = map[string]bool{"audit-postgres": true, "audit-pgx": true, "audit-sqlite3": true, "audit-mysql": true}

func selected(list ...string) []string {
	var out []string
	for _, d := range list {
		if Selected(d) {
			out = append(out, d)
		}
	}
	return out
}

// Selected tells whether SQLAUDIT_DRIVERS (a comma-separated list of audit
// drivers; unset: all) selects driver. scripts/test.sh sets it to run the
// PostgreSQL drivers alone on its second server. A name that is not an audit
// driver panics, lest a typo select nothing and the tests pass.
func Selected(driver string) bool {
	env := os.Getenv("SQLAUDIT_DRIVERS")
	if env == "" {
		return true
	}
	found := false
	for _, d := range strings.Split(env, ",") {
		d = strings.TrimSpace(d)
		if !knownDrivers[d] {
			panic(fmt.Sprintf("SQLAUDIT_DRIVERS=%q: %q is not an audit driver (audit-postgres, audit-pgx, audit-sqlite3, audit-mysql)", env, d))
		}
		found = found || d == driver
	}
	return found
}

// MySQLServer is the MariaDB server of the tests, a go-sql-driver DSN
// without a database; SQLAUDIT_MYSQL_DSN overrides it.
func MySQLServer() string {
	if s := os.Getenv("SQLAUDIT_MYSQL_DSN"); s != "" {
		return s
	}
	return "root@tcp(127.0.0.1:3306)/"
}

// PGURL is the PostgreSQL server of the tests; SQLAUDIT_PG_URL overrides it.
func PGURL() string {
	if u := os.Getenv("SQLAUDIT_PG_URL"); u != "" {
		return u
	}
	return "postgres://postgres@localhost:5432/postgres?sslmode=disable"
}

// Ctx is a context whose statements are recorded with actor.
func Ctx(actor string) context.Context {
	return sqlaudit.WithActor(context.Background(), actor)
}

// Env is one test's own database.
type Env struct {
	Driver string  // the audit driver
	DSN    string  // for the audit driver (and the plain one)
	Schema string  // PostgreSQL: the test's schema, first and only on the search_path; MariaDB: the test's database
	Plain  *sql.DB // the same data through the plain driver: the truth
}

// SQLite tells whether the test runs on SQLite.
func (e *Env) SQLite() bool { return e.Driver == "audit-sqlite3" }

// MySQL tells whether the test runs on MariaDB (audit-mysql).
func (e *Env) MySQL() bool { return e.Driver == "audit-mysql" }

// Postgres tells whether the test runs on PostgreSQL (audit-pgx or audit-postgres).
func (e *Env) Postgres() bool { return !e.SQLite() && !e.MySQL() }

var seq atomic.Int64

// ForEachDriver runs f as a parallel subtest on each audit driver, each
// with its own database.
func ForEachDriver(t *testing.T, f func(t *testing.T, e *Env)) {
	ForDrivers(t, Drivers, f)
}

// ForDrivers is ForEachDriver on the drivers named.
func ForDrivers(t *testing.T, drivers []string, f func(t *testing.T, e *Env)) {
	for _, drv := range drivers {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			f(t, New(t, drv))
		})
	}
}

// New gives the test its own database on driver: a fresh PostgreSQL schema
// or MariaDB database (dropped after the test) or a fresh SQLite file with
// foreign keys on. The MariaDB DSN has parseTime=true, as GORM, ent and
// sqlx need to scan DATETIME columns into time.Time, and loc=UTC.
// The audit table is created (by one connection of the audit driver) before
// New returns. A driver SQLAUDIT_DRIVERS does not select skips the test.
func New(t testing.TB, driver string) *Env {
	t.Helper()
	if !Selected(driver) {
		t.Skipf("%s is not among SQLAUDIT_DRIVERS=%s", driver, os.Getenv("SQLAUDIT_DRIVERS"))
	}
	e := &Env{Driver: driver}
	plain := "sqlite3"
	switch {
	case e.SQLite():
		e.DSN = "file:" + filepath.Join(t.TempDir(), "test.db") + "?_busy_timeout=10000&_foreign_keys=1"
	case e.MySQL():
		plain = "mysql"
		e.Schema = fmt.Sprintf("orm_%d_%d", time.Now().UnixNano()%1e9, seq.Add(1))
		admin, err := sql.Open("mysql", MySQLServer())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec("CREATE DATABASE " + e.Schema); err != nil {
			admin.Close()
			t.Fatalf("create database (is MariaDB running? SQLAUDIT_MYSQL_DSN=%s): %v", MySQLServer(), err)
		}
		t.Cleanup(func() {
			admin.Exec("DROP DATABASE " + e.Schema)
			admin.Close()
		})
		e.DSN = MySQLServer() + e.Schema + "?parseTime=true&loc=UTC"
	default:
		plain = map[string]string{"audit-pgx": "pgx", "audit-postgres": "postgres"}[driver]
		e.Schema = fmt.Sprintf("orm_%d_%d", time.Now().UnixNano()%1e9, seq.Add(1))
		admin, err := sql.Open("pgx", PGURL())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec(`CREATE SCHEMA ` + e.Schema); err != nil {
			admin.Close()
			t.Fatalf("create schema (is PostgreSQL running? SQLAUDIT_PG_URL=%s): %v", PGURL(), err)
		}
		t.Cleanup(func() {
			admin.Exec(`DROP SCHEMA ` + e.Schema + ` CASCADE`)
			admin.Close()
		})
		sep := "?"
		if strings.Contains(PGURL(), "?") {
			sep = "&"
		}
		e.DSN = PGURL() + sep + "search_path=" + e.Schema
	}
	var err error
	if e.Plain, err = sql.Open(plain, e.DSN); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Plain.Close() })
	audited, err := sql.Open(driver, e.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer audited.Close()
	if err := audited.Ping(); err != nil {
		t.Fatal(err)
	}
	return e
}

// Record is one audit_log row (see the shared oracle's Record; its String
// renders it on one line for failure messages).
type Record = core.Record

// truth is the test's database through the plain driver, for the shared
// oracle.
func (e *Env) truth() core.DB {
	d := core.PostgreSQL
	switch {
	case e.SQLite():
		d = core.SQLite
	case e.MySQL():
		d = core.MySQL
	}
	return core.DB{Plain: e.Plain, Dialect: d, Schema: e.Schema}
}

// Mark is the id of the latest record: Since(Mark()) are the records after it.
func (e *Env) Mark(t testing.TB) int64 {
	t.Helper()
	return e.truth().MaxID(t, "audit_log")
}

// Since reads the records with id > mark, oldest first.
func (e *Env) Since(t testing.TB, mark int64) []Record {
	t.Helper()
	return e.truth().Since(t, "audit_log", mark)
}

// Snapshot is a table's rows as the database renders them (to_jsonb on
// PostgreSQL, json_object with BLOBs as hex on SQLite, JSON_OBJECT with
// binary strings as hex and BIT as a number on MariaDB, as the records
// render them), by key; nil when the table does not exist.
type Snapshot = core.Snapshot

// Snap reads table (keyed by id) through the plain driver; it is nil when
// the table does not exist.
func (e *Env) Snap(t testing.TB, table string) Snapshot {
	t.Helper()
	d := e.truth()
	return d.SnapIfExists(t, d.Dialect.Quote(table), idKey...)
}

// idKey is the key of every table the integration tests check.
var idKey = []string{"id"}

func keyOf(row map[string]any) string { return core.Key(row, idKey) }

// Count is the number of rows of table.
func (e *Env) Count(t testing.TB, table string) int {
	t.Helper()
	return len(e.Snap(t, table))
}

// Check runs change and proves the records it wrote exact: on the tables
// named (all keyed by id) they are the true difference of their snapshots,
// they replay to the final state, there are none on other tables, and each
// carries actor ("" for NULL). A row with several records (inserted, then
// updated in the same change) is proven by the replay: each record's old
// values are the replayed row's, each UPDATE names changed columns only, and
// the replay ends in the final state. It returns the records.
func (e *Env) Check(t testing.TB, actor string, tables []string, change func()) []Record {
	t.Helper()
	mark := e.Mark(t)
	before := map[string]Snapshot{}
	for _, tb := range tables {
		before[tb] = e.Snap(t, tb)
	}
	change()
	got := e.Since(t, mark)
	var want []Record
	for _, tb := range tables {
		after := e.Snap(t, tb)
		want = append(want, core.Expected(tb, before[tb], after)...)
		var recs []Record
		for _, r := range got {
			if r.Table == tb {
				recs = append(recs, r)
			}
		}
		if final := core.Replay(t, before[tb], recs, idKey...); len(after) > 0 || len(final) > 0 {
			if !reflect.DeepEqual(final, after) {
				t.Fatalf("%s: replaying the trail gives\n%v\nwant\n%v", tb, final, after)
			}
		}
	}
	// When a row has several records (inserted then updated in one
	// transaction …) the replay above proves the sequence; otherwise each
	// record is one row's whole difference.
	seen, once := map[string]bool{}, true
	for _, r := range got {
		if _, ok := before[r.Table]; !ok {
			t.Fatalf("record on a table the change should not write: %v", r)
		}
		k := r.Table + keyOf(r.RowKey)
		once = once && !seen[k]
		seen[k] = true
		if r.Action == "UPDATE" {
			for c, v := range r.Old {
				if nv, ok := r.New[c]; !ok || reflect.DeepEqual(v, nv) {
					t.Fatalf("UPDATE record names an unchanged column %s: %v", c, r)
				}
			}
			if len(r.Old) == 0 || len(r.Old) != len(r.New) {
				t.Fatalf("bad UPDATE record %v", r)
			}
		}
	}
	if once {
		core.AssertTrail(t, got, want)
	}
	for _, r := range got {
		if (actor == "") != (r.Actor == nil) || (r.Actor != nil && *r.Actor != actor) {
			t.Fatalf("record has the wrong actor (want %q): %v\nquery: %s", actor, r, r.Query)
		}
	}
	return got
}

// CheckRefused runs change, which must fail with sqlaudit.ErrUnsupported
// (its error is what change returns), and proves that nothing changed on
// the tables named and no record was written.
func (e *Env) CheckRefused(t testing.TB, tables []string, change func() error) {
	t.Helper()
	mark := e.Mark(t)
	before := map[string]Snapshot{}
	for _, tb := range tables {
		before[tb] = e.Snap(t, tb)
	}
	err := change()
	if !errors.Is(err, sqlaudit.ErrUnsupported) {
		t.Fatalf("want an error wrapping sqlaudit.ErrUnsupported, got %v", err)
	}
	for _, tb := range tables {
		if after := e.Snap(t, tb); !reflect.DeepEqual(before[tb], after) {
			t.Fatalf("%s changed although the statement was refused:\nbefore %v\nafter %v", tb, before[tb], after)
		}
	}
	if got := e.Since(t, mark); len(got) != 0 {
		t.Fatalf("a refused change wrote records: %v", got)
	}
}

// OneTx fails the test unless all recs (at least one) share a transaction.
func OneTx(t testing.TB, recs []Record) {
	t.Helper()
	if len(recs) == 0 {
		t.Fatal("no records")
	}
	for _, r := range recs {
		if r.TxID != recs[0].TxID {
			t.Fatalf("records of one transaction have different tx_id: %v", recs)
		}
	}
}
