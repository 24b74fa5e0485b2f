package benchmark

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// DefaultPGURL is the PostgreSQL server used when neither Config.PGURL nor
// the environment variable SQLAUDIT_PG_URL names one.
const DefaultPGURL = "postgres://postgres@localhost:5432/postgres?sslmode=disable"

// DefaultSQLiteParams are the go-sqlite3 DSN parameters of every SQLite file:
// WAL with synchronous=NORMAL, the usual setting of SQLite applications.
const DefaultSQLiteParams = "_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=10000"

// Config is one benchmark run.
type Config struct {
	PGURL        string        // PostgreSQL server; each variant gets its own schema in it
	MySQLDSN     string        // MariaDB server (go-sql-driver DSN); each variant gets its own database in it
	SQLiteParams string        // go-sqlite3 DSN parameters of the SQLite files
	Dir          string        // directory for the SQLite files ("": a temporary one, removed)
	Drivers      []string      // driver names (see DriverNames); nil: all
	Workloads    []string      // workload names (see WorkloadNames); nil: all (-quick: all but the 100k one)
	Quick        bool          // a few rounds per workload, small table, no 100k-row UPDATE
	Iterations   int           // measured rounds per workload and driver; 0: each workload's default
	Duration     time.Duration // at most this long per workload and driver (after a minimum of rounds); 0: no limit
	Progress     io.Writer     // receives one line per finished workload and driver; nil: none
	IndexCost    bool          // a fifth variant, B: sqlaudit into an audit table without the reading indexes
	BareKeep     []string      // the reading indexes B keeps, by suffix (tx_idx, row_idx, actor_idx, time_idx): one index's cost is L / B with the others kept
	ReadingBare  bool          // -reading on an audit table without the reading indexes (their effect on the readers)
}

// DefaultConfig is the default run: every driver and workload, the
// workloads' own numbers of rounds, at most 30 s per workload and driver.
func DefaultConfig() Config {
	url := os.Getenv("SQLAUDIT_PG_URL")
	if url == "" {
		url = DefaultPGURL
	}
	dsn := os.Getenv("SQLAUDIT_MYSQL_DSN")
	if dsn == "" {
		dsn = DefaultMySQLDSN
	}
	return Config{PGURL: url, MySQLDSN: dsn, SQLiteParams: DefaultSQLiteParams, Duration: 30 * time.Second}
}

// minRounds are measured even when Duration has passed.
const minRounds = 3

// quickRounds is the number of measured rounds of the -quick form.
const quickRounds = 3

// rounds is how many measured rounds w gets under c.
func (c Config) rounds(w *workload) int {
	switch {
	case c.Iterations > 0:
		return c.Iterations
	case c.Quick:
		return quickRounds
	}
	return w.rounds
}

// warmup is how many unmeasured rounds run first.
func (c Config) warmup(w *workload) int {
	if c.Quick {
		return 1
	}
	return w.warmup
}

// tableRows is the size of the items table every variant starts with.
func (c Config) tableRows(ws []*workload) int {
	n := quickTableRows
	if !c.Quick {
		n = defaultTableRows
	}
	for _, w := range ws {
		n = max(n, w.minRows)
	}
	return n
}

// selectDrivers resolves Config.Drivers.
func (c Config) selectDrivers() ([]*driverSpec, error) {
	if len(c.Drivers) == 0 {
		return drivers, nil
	}
	var out []*driverSpec
	for _, name := range c.Drivers {
		d := findDriver(name)
		if d == nil {
			return nil, fmt.Errorf("unknown driver %q (have %s)", name, strings.Join(DriverNames(), ", "))
		}
		out = append(out, d)
	}
	return out, nil
}

// selectWorkloads resolves Config.Workloads; -quick leaves out the
// workloads too slow for it unless they are named.
func (c Config) selectWorkloads() ([]*workload, error) {
	if len(c.Workloads) == 0 {
		var out []*workload
		for _, w := range workloads {
			if !c.Quick || !w.slow {
				out = append(out, w)
			}
		}
		return out, nil
	}
	for _, name := range c.Workloads {
		if findWorkload(name) == nil {
			return nil, fmt.Errorf("unknown workload %q (have %s)", name, strings.Join(WorkloadNames(), ", "))
		}
	}
	var out []*workload // in run order, whatever the order of the names
	for _, w := range workloads {
		if slices.ContainsFunc(c.Workloads, func(name string) bool { return strings.EqualFold(name, w.name) }) {
			out = append(out, w)
		}
	}
	return out, nil
}

// SplitList splits a comma-separated flag value, dropping empty items.
func SplitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
