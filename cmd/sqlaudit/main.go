// Command sqlaudit reads and manages the audit trails written by the
// sqlaudit database/sql drivers.
//
//	sqlaudit demo                         an audited SQLite shop, no server needed
//	sqlaudit migrate [--print]            create the audit table / show its DDL
//	sqlaudit log [filters] [-o format]    records: table (default), json, csv
//	sqlaudit history TABLE KEY            one row's timeline, old → new per column
//	sqlaudit show TX                      the records of one transaction
//	sqlaudit asof TABLE KEY TIME          a row as it was at a time
//	sqlaudit revert TX [--dry-run]        undo a transaction (itself audited)
//	sqlaudit export [-o json|csv]         stream the whole trail
//	sqlaudit seal | verify | prune        tamper evidence and retention
//	sqlaudit serve [--addr 127.0.0.1:8080] the web viewer (loopback only by default)
//	sqlaudit relay --nats URL [--source NAME] stream the trail to NATS JetStream, exactly once
//	sqlaudit gather --nats URL --into PGURL  gather the relays' streams into a central store
//
// The database is --dsn or $SQLAUDIT_DSN: a PostgreSQL URL
// (postgres://…) or keyword string (host=… dbname=…), a MariaDB
// go-sql-driver DSN (user@tcp(host:3306)/db), else a SQLite file.
//
// Exit codes: 0 success, 1 failure, 2 usage error, 3 revert refused
// because rows changed after the transaction, 4 verify found the trail
// tampered with.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/sqlaudit/sqlaudit/trail"
)

// Exit codes.
const (
	exitOK       = 0
	exitFailure  = 1
	exitUsage    = 2
	exitConflict = 3
	exitTampered = 4
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// usageError marks a command-line mistake (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// globals are the flags every command shares.
type globals struct {
	dsn        string
	auditTable string
	color      string
	stdout     io.Writer
	params     url.Values // more DSN parameters for the audit driver (migrate --redact)
	newFile    bool       // a SQLite file may be created (migrate)
	central    bool       // the audit table is a central store (see central.go)
}

// run executes one command and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout}
	root := newRoot(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "sqlaudit:", strings.TrimPrefix(err.Error(), "sqlaudit: ")) // the library's errors name it already
	var ue usageError
	switch {
	case errors.Is(err, trail.ErrConflict):
		return exitConflict
	case tampered(err):
		return exitTampered
	case errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") ||
		strings.HasPrefix(err.Error(), "unknown flag") || strings.HasPrefix(err.Error(), "unknown shorthand"):
		if strings.HasPrefix(err.Error(), "unknown command") {
			fmt.Fprintln(stderr, "Run 'sqlaudit --help' for the commands.")
		}
		return exitUsage
	}
	return exitFailure
}

const rootLong = `sqlaudit reads and manages the audit trails written by the sqlaudit
database/sql drivers (audit-pgx, audit-postgres, audit-sqlite3, audit-mysql).

The database is given by --dsn or $SQLAUDIT_DSN: a PostgreSQL URL
(postgres://user@host/db?sslmode=disable) or keyword string (host=… dbname=…),
a MariaDB go-sql-driver DSN (user@tcp(127.0.0.1:3306)/db, optionally with a
mysql:// prefix), anything else is a SQLite file path. Writes (revert, migrate) go through the
audit drivers, so they are recorded too.

Tables are named as the trail records them: schema-qualified when not in the
default schema (public, main). KEY is a primary-key value (42), col=value
pairs (order_id=7,line=2) or a JSON object ({"id":42}); its values are typed
as the trail records the table's keys.

Every time shown is UTC. ` + trail.TimeHelp + `.

Exit codes: 0 success, 1 failure, 2 usage error, 3 revert refused because rows
changed after the transaction (use --force), 4 verify found the trail tampered
with.`

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "sqlaudit",
		Short:         "Read and manage sqlaudit audit trails",
		Long:          rootLong,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
		Example: `  sqlaudit demo
  export SQLAUDIT_DSN=postgres://app@localhost/shop?sslmode=disable
  sqlaudit log --actor alice --since 2025-05-01
  sqlaudit history orders 42`,
	}
	root.PersistentFlags().StringVar(&g.dsn, "dsn", os.Getenv("SQLAUDIT_DSN"), "PostgreSQL URL or keyword string, MariaDB user@tcp(host:3306)/db, or SQLite file (default $SQLAUDIT_DSN)")
	root.PersistentFlags().StringVar(&g.auditTable, "audit-table", "audit_log", "the audit table")
	root.PersistentFlags().StringVar(&g.color, "color", "auto", "color output: auto (terminal, unless NO_COLOR is set), always, never")
	root.SetVersionTemplate("sqlaudit {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(demoCmd(g), migrateCmd(g), logCmd(g), historyCmd(g), showCmd(g), asofCmd(g), revertCmd(g), exportCmd(g), sealCmd(g), verifyCmd(g), pruneCmd(g), serveCmd(g), coverageCmd(g), relayCmd(g), gatherCmd(g))
	return root
}

// nArgs is cobra.ExactArgs as a usage error.
func nArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError{fmt.Errorf("%s: %w (usage: %s)", cmd.Name(), err, cmd.UseLine())}
		}
		return nil
	}
}
