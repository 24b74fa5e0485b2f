package sqlaudit_test

import (
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/lib/pq"
	_ "github.com/mattn/go-sqlite3"
	modernc "modernc.org/sqlite"

	"github.com/sqlaudit/sqlaudit"

	_ "github.com/sqlaudit/sqlaudit/auditmodernc" // also the plain "sqlite" (modernc.org/sqlite)
	_ "github.com/sqlaudit/sqlaudit/auditmysql"
	_ "github.com/sqlaudit/sqlaudit/auditpgx"
	_ "github.com/sqlaudit/sqlaudit/auditpq"
	_ "github.com/sqlaudit/sqlaudit/auditsqlite3"
	"github.com/sqlaudit/sqlaudit/internal/dbtest"
	"github.com/sqlaudit/sqlaudit/internal/oracle"
)

// auditDrivers are the registered audit drivers every end-to-end test runs on
// (those SQLAUDIT_DRIVERS selects, see dbtest.Selected).
var auditDrivers = dbtest.Selection("audit-postgres", "audit-pgx", "audit-sqlite3", "audit-sqlite", "audit-mysql")

// sqliteDrivers are the SQLite audit drivers the SQLite tests run on:
// mattn/go-sqlite3 (cgo), modernc.org/sqlite and, in a test binary built
// with the tag sqlaudit_ncruces (scripts/test.sh does), ncruces/go-sqlite3
// (sqlite_ncruces_test.go).
var sqliteDrivers = dbtest.Selection("audit-sqlite3", "audit-sqlite")

// plainDriver is the underlying driver of each audit driver.
var plainDriver = map[string]string{"audit-postgres": "postgres", "audit-pgx": "pgx", "audit-sqlite3": "sqlite3", "audit-sqlite": "sqlite", "audit-ncruces": "sqlite3-ncruces", "audit-mysql": "mysql"}

func isSQLite(driverName string) bool {
	return strings.Contains(driverName, "sqlite") || driverName == "audit-ncruces"
}

// forEachSQLite runs f as a subtest on every SQLite audit driver.
func forEachSQLite(t *testing.T, f func(t *testing.T, drv string)) {
	for _, drv := range sqliteDrivers {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			f(t, drv)
		})
	}
}

// sqliteParams translates go-sqlite3's DSN parameters (_foreign_keys=1,
// _busy_timeout=N, _journal_mode=M; _txlock is common to all three) into
// those of the pure-Go drivers, which set PRAGMAs as _pragma=name(value).
func sqliteParams(drv string, params ...string) []string {
	if drv == "audit-sqlite3" {
		return params
	}
	out := make([]string, 0, len(params))
	for _, p := range params {
		name, value, _ := strings.Cut(p, "=")
		switch name {
		case "_foreign_keys", "_busy_timeout", "_journal_mode", "_recursive_triggers":
			p = "_pragma=" + strings.TrimPrefix(name, "_") + "(" + value + ")"
		}
		out = append(out, p)
	}
	return out
}
func isMySQL(driverName string) bool { return strings.Contains(driverName, "mysql") }

// mysqlServer is the MariaDB server the tests use (a go-sql-driver DSN
// without a database); SQLAUDIT_MYSQL_DSN overrides it.
func mysqlServer() string {
	if s := os.Getenv("SQLAUDIT_MYSQL_DSN"); s != "" {
		return s
	}
	return "root@tcp(127.0.0.1:3306)/"
}

// mustMySQLDatabase creates the test's own MariaDB database and returns
// its name and a DSN for it.
func mustMySQLDatabase(t testing.TB) (name, dsn string) {
	t.Helper()
	name = fmt.Sprintf("sqa_%d_%d", time.Now().UnixNano()%1e9, schemaSeq.Add(1))
	admin, err := sql.Open("mysql", mysqlServer())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database (is MariaDB running? SQLAUDIT_MYSQL_DSN=%s): %v", mysqlServer(), err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP DATABASE " + name)
		admin.Close()
	})
	return name, mysqlServer() + name + "?loc=UTC"
}

// pgURL is the PostgreSQL server the tests use; SQLAUDIT_PG_URL overrides it.
func pgURL() string {
	if u := os.Getenv("SQLAUDIT_PG_URL"); u != "" {
		return u
	}
	return "postgres://postgres@localhost:5432/postgres?sslmode=disable"
}

// pgServerVersion is the server_version_num of the tests' PostgreSQL server
// (e.g. 180004 for 18.4), for the few expectations that differ by version.
func pgServerVersion(t testing.TB) int {
	t.Helper()
	db, err := sql.Open("postgres", pgURL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v int
	if err := db.QueryRow(`SELECT current_setting('server_version_num')::int`).Scan(&v); err != nil {
		t.Fatalf("server_version_num (is PostgreSQL running? SQLAUDIT_PG_URL=%s): %v", pgURL(), err)
	}
	return v
}

// pgHostPort is the host:port of the tests' PostgreSQL server, for tests
// that put a proxy in front of it.
func pgHostPort(t testing.TB) string {
	t.Helper()
	u, err := url.Parse(pgURL())
	if err != nil || u.Host == "" {
		t.Fatalf("SQLAUDIT_PG_URL=%s is not a postgres:// URL with a host (%v)", pgURL(), err)
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "5432")
	}
	return u.Host
}

var schemaSeq atomic.Int64

// testDB is one test's own database: a fresh PostgreSQL schema (first on the
// search_path) or a fresh SQLite file.
type testDB struct {
	driver string
	name   string  // PostgreSQL: the test's schema
	dsn    string  // for the audit driver (without audit_* parameters)
	plain  *sql.DB // the same data through the plain driver
}

// mustOpen gives the test its own database and returns the audited handle
// (opened with dsnParams appended, e.g. "audit_table=x") and the testDB.
func mustOpen(t testing.TB, driverName string, dsnParams ...string) (*sql.DB, *testDB) {
	t.Helper()
	if !dbtest.Selected(driverName) {
		t.Skipf("%s is not among SQLAUDIT_DRIVERS=%s", driverName, os.Getenv("SQLAUDIT_DRIVERS"))
	}
	td := &testDB{driver: driverName}
	switch {
	case isSQLite(driverName):
		td.dsn = "file:" + filepath.Join(t.TempDir(), "test.db") + "?" + sqliteParams(driverName, "_busy_timeout=10000")[0]
		dsnParams = sqliteParams(driverName, dsnParams...)
	case isMySQL(driverName):
		td.name, td.dsn = mustMySQLDatabase(t)
	default:
		schema := fmt.Sprintf("sqa_%d_%d", time.Now().UnixNano()%1e9, schemaSeq.Add(1))
		admin, err := sql.Open("postgres", pgURL())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
			t.Fatalf("create schema (is PostgreSQL running? SQLAUDIT_PG_URL=%s): %v", pgURL(), err)
		}
		t.Cleanup(func() {
			admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
			admin.Close()
		})
		td.dsn, td.name = pgURL()+"&search_path="+schema, schema
	}
	var err error
	if td.plain, err = sql.Open(plainDriver[driverName], td.dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { td.plain.Close() })
	dsn := td.dsn
	for _, p := range dsnParams {
		dsn += "&" + p
	}
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	return db, td
}

// schema is the test's own PostgreSQL schema.
func (td *testDB) schema() string { return td.name }

// mustExec runs statements through db and fails the test on error.
func mustExec(t testing.TB, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// record is one audit_log row as the tests read it back (see oracle.Record).
type record = oracle.Record

// snapshot is a table's rows as the database renders them to JSON
// (to_jsonb on PostgreSQL, json_object on SQLite, JSON_OBJECT on MariaDB),
// by row key (see oracle.Snapshot).
type snapshot = oracle.Snapshot

// truth is the test's database through the plain driver, for the oracle.
func (td *testDB) truth() oracle.DB {
	d := oracle.PostgreSQL
	switch {
	case isSQLite(td.driver):
		d = oracle.SQLite
	case isMySQL(td.driver):
		d = oracle.MySQL
	}
	return oracle.DB{Plain: td.plain, Dialect: d, Schema: td.name}
}

// trail reads the audit table through the plain driver, oldest first,
// records with id > since only; table names are read back without the
// test's own schema.
func (td *testDB) trail(t testing.TB, table string, since int64) []record {
	t.Helper()
	return td.truth().Since(t, table, since)
}

// maxID is the largest id of the audit table, 0 when it is empty.
func (td *testDB) maxID(t testing.TB, table string) int64 {
	t.Helper()
	return td.truth().MaxID(t, table)
}

// snap reads table (as written in SQL, possibly quoted) through the plain
// driver; key names its key columns.
func (td *testDB) snap(t testing.TB, table string, key ...string) snapshot {
	t.Helper()
	return td.truth().Snap(t, table, key...)
}

// decodeJSON decodes a JSON object, numbers as json.Number.
func decodeJSON(t testing.TB, s string) map[string]any {
	t.Helper()
	return oracle.Decode(t, s)
}

// keyOf is a row's key in a snapshot keyed by key.
func keyOf(row map[string]any, key []string) string { return oracle.Key(row, key) }

// expected computes the trail a change from before to after must produce:
// the differential oracle.
func expected(table string, before, after snapshot) []record {
	return oracle.Expected(table, before, after)
}

// assertTrail checks that got holds exactly the records of want (in any
// order), comparing action, table and values.
func assertTrail(t testing.TB, got, want []record) {
	t.Helper()
	oracle.AssertTrail(t, got, want)
}

// replay applies records to before, in order, and returns the result; it
// fails the test when an UPDATE or DELETE record's old values differ from
// the replayed row (see oracle.Replay).
func replay(t testing.TB, before snapshot, recs []record, key ...string) snapshot {
	t.Helper()
	return oracle.Replay(t, before, recs, key...)
}

// checkChange runs change and proves the trail it wrote on table exact:
// equal to the true difference of snapshots, and replaying to the final state.
func checkChange(t testing.TB, td *testDB, table string, key []string, change func()) []record {
	t.Helper()
	return checkChangeKeyed(t, td, "audit_log", table, key, change)
}

// checkChangeIn is checkChange for an audit table other than audit_log, on a
// table keyed by id.
func checkChangeIn(t testing.TB, td *testDB, auditTable, table string, change func()) []record {
	t.Helper()
	return checkChangeKeyed(t, td, auditTable, table, []string{"id"}, change)
}

func checkChangeKeyed(t testing.TB, td *testDB, auditTable, table string, key []string, change func()) []record {
	t.Helper()
	since := td.maxID(t, auditTable)
	before := td.snap(t, table, key...)
	change()
	after := td.snap(t, table, key...)
	got := td.trail(t, auditTable, since)
	assertTrail(t, got, expected(strings.Trim(table, "\"`"), before, after))
	if final := replay(t, before, got, key...); !reflect.DeepEqual(final, after) {
		t.Fatalf("replaying the trail gives\n%v\nwant\n%v", final, after)
	}
	return got
}

// mustOpenDB opens dsn through the audit driver drv wrapped with opts.
func mustOpenDB(t testing.TB, drv, dsn string, opts sqlaudit.Options) *sql.DB {
	t.Helper()
	probe, err := sql.Open(drv, dsn)
	if err != nil {
		t.Fatal(err)
	}
	dialect, _ := sqlaudit.DialectOf(probe)
	probe.Close()
	plain, err := sql.Open(plainDriver[drv], dsn)
	if err != nil {
		t.Fatal(err)
	}
	parent := plain.Driver()
	plain.Close()
	c, err := sqlaudit.Wrap(parent, dialect, opts).OpenConnector(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	return db
}

// sqliteErrorCodes read the extended result code of a pure-Go SQLite
// driver's error through errors.As: modernc's *sqlite.Error here, ncruces's
// in sqlite_ncruces_test.go.
var sqliteErrorCodes = []func(error) (int, bool){
	func(err error) (int, bool) {
		var e *modernc.Error
		if errors.As(err, &e) {
			return e.Code(), true
		}
		return 0, false
	},
}

// sqliteErrorCode is the extended result code of a pure-Go driver's error.
func sqliteErrorCode(err error) (int, bool) {
	for _, f := range sqliteErrorCodes {
		if code, ok := f(err); ok {
			return code, true
		}
	}
	return 0, false
}

// openNcruces is auditncruces.Open in a binary built with sqlaudit_ncruces.
var openNcruces func(dsn string, opts sqlaudit.Options) (*sql.DB, error)
