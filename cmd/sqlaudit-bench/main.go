// Command sqlaudit-bench runs the audit benchmark of issues 5 and 8: every
// workload through the plain driver (P), triggers (T), the naive
// client-side sequence (N) and sqlaudit (L), interleaved, on pgx, lib/pq,
// SQLite (mattn/go-sqlite3, modernc.org/sqlite, and ncruces/go-sqlite3 when
// built with the tag sqlaudit_ncruces and
// -ldflags=-X=github.com/ncruces/go-sqlite3/driver.driverName=) and MariaDB
// (go-sql-driver/mysql), and prints median, p90 and
// ratio to P per operation, the machine and settings, and
// benchstat-compatible lines.
//
//	sqlaudit-bench                      # the full run (~15–20 minutes on 2 busy cores)
//	sqlaudit-bench -quick               # a few rounds, no 100k-row UPDATE (CI)
//	sqlaudit-bench -drivers pgx,sqlite -workloads Update1Row,SelectByKey
//	sqlaudit-bench -drivers mysql -mysql-dsn 'app:pw@tcp(db:3306)/'   # each variant gets its own database
//	sqlaudit-bench > new.txt && benchstat new.txt
//	sqlaudit-bench -viewer              # the web viewer on a 1,000,000-record trail per database
//	sqlaudit-bench -index-cost          # adds B: L without the reading indexes
//	sqlaudit-bench -reading             # history, asof, log, export, revert on a 1,000,000-record trail
//	sqlaudit-bench -reading -reading-bare   # the same without the reading indexes
//	sqlaudit-bench -relay               # the relay: a 1,000,000-record trail to JetStream, then the lag under load
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/sqlaudit/sqlaudit/benchmark"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command and returns the exit code: 0 success, 1 the
// benchmark failed, 2 bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, list, viewer, err := parseFlags(args, stderr)
	if err == nil && reading.on {
		if err := benchmark.RunReading(ctx, cfg, reading.records, reading.revertRows, stdout); err != nil {
			fmt.Fprintln(stderr, "sqlaudit-bench:", err)
			return 1
		}
		return 0
	}
	if err == nil && relayFlags.run {
		if err := benchmark.RunRelay(ctx, cfg, relayFlags.records, relayFlags.replicas, relayFlags.load, stdout); err != nil {
			fmt.Fprintln(stderr, "sqlaudit-bench:", err)
			return 1
		}
		return 0
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		return 2
	case list:
		fmt.Fprintf(stdout, "drivers:   %s\nworkloads: %s\n",
			strings.Join(benchmark.DriverNames(), ", "), strings.Join(benchmark.WorkloadNames(), ", "))
		return 0
	}
	if viewer > 0 {
		if err := benchmark.RunViewer(ctx, cfg, viewer, stdout); err != nil {
			fmt.Fprintln(stderr, "sqlaudit-bench:", err)
			return 1
		}
		return 0
	}
	if err := benchmark.Run(ctx, cfg, stdout); err != nil {
		fmt.Fprintln(stderr, "sqlaudit-bench:", err)
		return 1
	}
	return 0
}

// reading holds -reading's flags (parseFlags sets them).
var reading struct {
	on                  bool
	records, revertRows int
}

// parseFlags turns the command line into a Config; list reports -list,
// viewer the records of -viewer's trail (0 without -viewer).
func parseFlags(args []string, stderr io.Writer) (cfg benchmark.Config, list bool, viewer int, err error) {
	cfg = benchmark.DefaultConfig()
	fs := flag.NewFlagSet("sqlaudit-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&cfg.Quick, "quick", false, "a few rounds per workload on a small table, without the 100k-row UPDATE (CI)")
	drivers := fs.String("drivers", "", "comma-separated drivers (default all: "+strings.Join(benchmark.DriverNames(), ",")+")")
	workloads := fs.String("workloads", "", "comma-separated workloads (default all; see -list)")
	fs.IntVar(&cfg.Iterations, "iterations", 0, "measured rounds per workload and driver (default: each workload's own)")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "at most this long per workload and driver, after 3 rounds (0: no limit)")
	fs.StringVar(&cfg.PGURL, "pg", cfg.PGURL, "PostgreSQL URL (default $SQLAUDIT_PG_URL or "+benchmark.DefaultPGURL+")")
	fs.StringVar(&cfg.MySQLDSN, "mysql-dsn", cfg.MySQLDSN, "MariaDB go-sql-driver DSN without a database (default $SQLAUDIT_MYSQL_DSN or "+benchmark.DefaultMySQLDSN+")")
	fs.StringVar(&cfg.SQLiteParams, "sqlite", cfg.SQLiteParams, "go-sqlite3 DSN parameters of the SQLite files")
	fs.StringVar(&cfg.Dir, "dir", "", "directory for the SQLite files (default: a temporary one)")
	quiet := fs.Bool("q", false, "no progress lines on stderr")
	fs.BoolVar(&cfg.IndexCost, "index-cost", false, "add variant B: sqlaudit into an audit table without the reading indexes (L / B is their cost on writes)")
	keep := fs.String("bare-keep", "", "with -index-cost: the reading indexes B keeps (tx_idx,row_idx,actor_idx,time_idx)")
	fs.BoolVar(&list, "list", false, "list the drivers and workloads and exit")
	viewerRun := fs.Bool("viewer", false, "measure the web viewer (trail/web) on a generated trail instead, with and without reading indexes")
	records := fs.Int("viewer-records", benchmark.DefaultViewerRecords, "records of the generated trail of -viewer and -reading")
	fs.BoolVar(&reading.on, "reading", false, "measure the trail's readers (history, asof, log, export) and a revert on a generated trail instead")
	fs.BoolVar(&cfg.ReadingBare, "reading-bare", false, "with -reading: the audit table without its reading indexes (their effect on the readers)")
	fs.IntVar(&reading.revertRows, "revert-rows", benchmark.DefaultRevertRows, "rows of -reading's reverted transaction")
	relayFlags = relayOptions{}
	fs.BoolVar(&relayFlags.run, "relay", false, "measure the relay (package relay) to an embedded JetStream instead")
	fs.IntVar(&relayFlags.records, "relay-records", 1000000, "records of -relay's trail")
	fs.IntVar(&relayFlags.replicas, "relay-replicas", 1, "JetStream nodes and stream replicas of -relay (1 or 3)")
	fs.DurationVar(&relayFlags.load, "relay-load", 20*time.Second, "how long -relay measures the lag under steady writes")
	if err = fs.Parse(args); err != nil {
		return cfg, false, 0, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sqlaudit-bench: unexpected argument %q\n", fs.Arg(0))
		return cfg, false, 0, errors.New("bad usage")
	}
	if *viewerRun {
		if *records < 100 {
			fmt.Fprintf(stderr, "sqlaudit-bench: -viewer-records %d: want at least 100\n", *records)
			return cfg, false, 0, errors.New("bad usage")
		}
		viewer = *records
	}
	reading.records = *records
	cfg.Drivers, cfg.Workloads = benchmark.SplitList(*drivers), benchmark.SplitList(*workloads)
	cfg.BareKeep = benchmark.SplitList(*keep)
	if !*quiet {
		cfg.Progress = stderr
	}
	return cfg, list, viewer, nil
}

// relayOptions are the -relay flags.
type relayOptions struct {
	run               bool
	records, replicas int
	load              time.Duration
}

var relayFlags relayOptions
