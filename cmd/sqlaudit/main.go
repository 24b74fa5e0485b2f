// Command sqlaudit works with sqlaudit audit trails.
//
//	sqlaudit demo [-db FILE]   run the SQLite demo and print its trail
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

const usage = `usage: sqlaudit <command> [flags]

commands:
  demo    run a small SQLite application through the audit driver and print its trail

Run 'sqlaudit <command> -h' for a command's flags.
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command and returns the process exit code: 0 success,
// 1 the command failed, 2 bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "demo":
		fs := flag.NewFlagSet("demo", flag.ContinueOnError)
		fs.SetOutput(stderr)
		db := fs.String("db", "", "SQLite file to use (default: a new temporary file, removed afterwards)")
		if err := fs.Parse(args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if err := demo(ctx, *db, stdout); err != nil {
			fmt.Fprintln(stderr, "sqlaudit demo:", err)
			return 1
		}
		return 0
	default:
		fmt.Fprintf(stderr, "sqlaudit: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}
