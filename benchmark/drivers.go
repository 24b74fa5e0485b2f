package benchmark

import (
	"strconv"
	"strings"

	_ "github.com/go-sql-driver/mysql" // the plain "mysql" driver
	_ "github.com/jackc/pgx/v5/stdlib" // the plain "pgx" driver
	_ "github.com/lib/pq"              // the plain "postgres" driver
	_ "github.com/mattn/go-sqlite3"    // the plain "sqlite3" driver
	_ "modernc.org/sqlite"             // the plain "sqlite" driver (pure Go)

	_ "github.com/sqlaudit/sqlaudit/auditmodernc"
	_ "github.com/sqlaudit/sqlaudit/auditmysql"
	_ "github.com/sqlaudit/sqlaudit/auditpgx"
	_ "github.com/sqlaudit/sqlaudit/auditpq"
	_ "github.com/sqlaudit/sqlaudit/auditsqlite3"
)

// driverSpec is one driver the benchmark runs on: its plain database/sql
// driver, the matching audit driver and the SQL dialect.
type driverSpec struct {
	name    string   // in benchmark names: pgx, pq, sqlite, mysql
	aliases []string // also accepted by -drivers
	plain   string   // the plain database/sql driver
	audit   string   // the sqlaudit driver
	d       *dialect
	lib     string // SQLite: the library, for the settings line
	// params turns go-sqlite3 DSN parameters (Config.SQLiteParams) into
	// the driver's own (nil: as they are).
	params func(string) string
}

// dsnParams is the driver's form of SQLite DSN parameters.
func (s *driverSpec) dsnParams(p string) string {
	if s.params == nil {
		return p
	}
	return s.params(p)
}

var drivers = []*driverSpec{
	{name: "pgx", plain: "pgx", audit: "audit-pgx", d: postgres},
	{name: "pq", aliases: []string{"lib/pq", "postgres"}, plain: "postgres", audit: "audit-postgres", d: postgres},
	{name: "sqlite", aliases: []string{"sqlite3", "mattn"}, plain: "sqlite3", audit: "audit-sqlite3", d: sqlite, lib: "mattn/go-sqlite3, cgo"},
	{name: "modernc", aliases: []string{"audit-sqlite", "modernc.org/sqlite"}, plain: "sqlite", audit: "audit-sqlite", d: sqlite,
		lib: "modernc.org/sqlite, pure Go", params: pragmaParams},
	{name: "mysql", aliases: []string{"mariadb"}, plain: "mysql", audit: "audit-mysql", d: mariadb},
}

// pragmaParams translates go-sqlite3's PRAGMA parameters (_journal_mode=WAL)
// into the _pragma=journal_mode(WAL) form of the pure-Go drivers; others
// (_txlock) are common to all three.
func pragmaParams(p string) string {
	parts := strings.Split(p, "&")
	for i, kv := range parts {
		name, value, _ := strings.Cut(kv, "=")
		switch name {
		case "_journal_mode", "_synchronous", "_busy_timeout", "_foreign_keys", "_recursive_triggers", "_cache_size":
			parts[i] = "_pragma=" + strings.TrimPrefix(name, "_") + "(" + value + ")"
		}
	}
	return strings.Join(parts, "&")
}

// DriverNames lists the drivers, in run order.
func DriverNames() []string {
	out := make([]string, len(drivers))
	for i, d := range drivers {
		out[i] = d.name
	}
	return out
}

func findDriver(name string) *driverSpec {
	for _, d := range drivers {
		if strings.EqualFold(name, d.name) {
			return d
		}
		for _, a := range d.aliases {
			if strings.EqualFold(name, a) {
				return d
			}
		}
	}
	return nil
}

// dialect is what differs between PostgreSQL, SQLite and MariaDB in the
// workloads.
type dialect struct {
	name      string
	pg        bool // PostgreSQL
	my        bool // MariaDB
	itemsDDL  string
	fill      string // inserts the rows with keys $1 … $2
	server    bool   // each variant gets its own schema or database on a server
	forUpdate string // appended to the naive SELECT that reads the old rows
}

// ph is the placeholder of the n-th argument (1-based) in statements whose
// arguments come in order: $n on PostgreSQL, ? on SQLite and MariaDB.
func (d *dialect) ph(n int) string {
	if d.pg {
		return "$" + strconv.Itoa(n)
	}
	return "?"
}

// numbered is the placeholder of the n-th argument in statements that use
// an argument more than once: $n or ?n (not on MariaDB, whose ? are bound
// in order).
func (d *dialect) numbered(n int) string {
	if d.pg {
		return "$" + strconv.Itoa(n)
	}
	if d.my {
		return "?"
	}
	return "?" + strconv.Itoa(n)
}

// itemColumns are the columns of the benchmark table, key first.
var itemColumns = []string{"id", "grp", "qty", "price", "note"}

const itemList = "id, grp, qty, price, note"

var postgres = &dialect{
	name:      "postgres",
	pg:        true,
	server:    true,
	itemsDDL:  `CREATE TABLE items (id bigint PRIMARY KEY, grp integer NOT NULL, qty integer NOT NULL, price numeric(12,2) NOT NULL, note text)`,
	fill:      `INSERT INTO items (` + itemList + `) SELECT g, g % 100, 0, (g % 1000) / 10.0, 'item ' || g FROM generate_series($1::bigint, $2::bigint) g`,
	forUpdate: " FOR UPDATE",
}

var sqlite = &dialect{
	name:     "sqlite",
	itemsDDL: `CREATE TABLE items (id INTEGER PRIMARY KEY, grp INTEGER NOT NULL, qty INTEGER NOT NULL, price NUMERIC NOT NULL, note TEXT)`,
	fill: `WITH RECURSIVE g(x) AS (SELECT ?1 UNION ALL SELECT x + 1 FROM g WHERE x < ?2) ` +
		`INSERT INTO items (` + itemList + `) SELECT x, x % 100, 0, (x % 1000) / 10.0, 'item ' || x FROM g`,
}
