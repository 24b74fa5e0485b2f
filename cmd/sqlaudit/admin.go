package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/sqlaudit/sqlaudit"
	"github.com/sqlaudit/sqlaudit/trail"
)

func migrateCmd(g *globals) *cobra.Command {
	var print bool
	var dialect string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create the audit table, or print its DDL",
		Long: `Create the audit table when it is missing and check that an existing one
has every column of the record. --print writes the DDL instead (for migration
tools that own the schema); its dialect comes from --dsn or --dialect.`,
		Example: `  sqlaudit migrate --dsn postgres://owner@db/app
  sqlaudit migrate --print --dialect postgres > 001_audit_log.sql
  sqlaudit migrate --dsn app.db --audit-table changes`,
		Args: nArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			d := dialectOf(g.dsn)
			switch dialect {
			case "postgres", "postgresql":
				d = sqlaudit.PostgreSQL
			case "sqlite", "sqlite3":
				d = sqlaudit.SQLite
			case "":
				if print && g.dsn == "" {
					return usagef("migrate --print needs --dsn or --dialect postgres|sqlite")
				}
			default:
				return usagef("bad --dialect %q: want postgres or sqlite", dialect)
			}
			ddl := sqlaudit.DDL(d, g.auditTable)
			if print {
				_, err := fmt.Fprint(cmd.OutOrStdout(), ddl)
				return err
			}
			return g.migrate(cmd, ddl)
		},
	}
	cmd.Flags().BoolVar(&print, "print", false, "print the DDL, change nothing")
	cmd.Flags().StringVar(&dialect, "dialect", "", "postgres or sqlite (default: from --dsn)")
	return cmd
}

// migrate runs the DDL and checks the table's columns.
func (g *globals) migrate(cmd *cobra.Command, ddl string) error {
	db, err := g.open(cmd.Context(), true)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, stmt := range strings.Split(ddl, ";\n") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := db.ExecContext(cmd.Context(), stmt); err != nil {
			return fmt.Errorf("creating the audit table: %w", err)
		}
	}
	if _, err := db.ExecContext(cmd.Context(), "SELECT "+strings.Join(csvHeader, ", ")+" FROM "+g.auditTable+" WHERE 1 = 0"); err != nil {
		return fmt.Errorf("the audit table %s exists but lacks record columns (no automatic upgrade applies): %w", g.auditTable, err)
	}
	_, err = fmt.Fprintf(cmd.OutOrStdout(), "audit table %s is ready\n", g.auditTable)
	return err
}

func revertCmd(g *globals) *cobra.Command {
	var opts trail.RevertOptions
	var actor string
	cmd := &cobra.Command{
		Use:   "revert TX",
		Short: "Undo a transaction (the undo is audited too)",
		Long: `Apply the inverse of a transaction's changes in one new transaction, through
the audit driver: its records carry the metadata {"revert_of": TX}.
When a row changed after TX, nothing is done and the exit code is 3, unless
--force. --dry-run prints the SQL and changes nothing.`,
		Example: `  sqlaudit revert 7311 --dry-run
  sqlaudit revert 7311 --actor alice
  sqlaudit revert 7311 --force`,
		Args: nArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tx, err := parseTx(args[0])
			if err != nil {
				return err
			}
			db, err := g.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer db.Close()
			ctx := cmd.Context()
			if actor != "" {
				ctx = sqlaudit.WithActor(ctx, actor)
			}
			res, err := trail.Revert(ctx, db, tx, opts, g.opts()...)
			if res != nil && opts.DryRun {
				if perr := printRevert(cmd, res, true); perr != nil {
					return perr
				}
			}
			var ce *trail.ConflictError
			if errors.As(err, &ce) {
				return conflictReport(cmd, ce)
			}
			if err != nil {
				return g.friendly(err)
			}
			if opts.DryRun {
				return nil
			}
			return printRevert(cmd, res, false)
		},
	}
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print the SQL, change nothing")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "revert even rows changed after the transaction")
	cmd.Flags().StringVar(&actor, "actor", os.Getenv("USER"), "the actor recorded for the revert")
	return cmd
}

func printRevert(cmd *cobra.Command, res *trail.RevertResult, dry bool) error {
	out := cmd.OutOrStdout()
	if !dry {
		_, err := fmt.Fprintf(out, "reverted transaction %d: %d statements, %d rows\n", res.TxID, len(res.Statements), res.Rows)
		return err
	}
	fmt.Fprintf(out, "-- revert of transaction %d (dry run, nothing changed)\n", res.TxID)
	for _, s := range res.Statements {
		fmt.Fprintf(out, "%s;\n  -- args: %s\n", s.SQL, jsonText(s.Args))
	}
	return nil
}

func conflictReport(cmd *cobra.Command, ce *trail.ConflictError) error {
	w := cmd.ErrOrStderr()
	fmt.Fprintf(w, "transaction %d cannot be reverted: rows changed after it\n", ce.TxID)
	for _, c := range ce.Conflicts {
		fmt.Fprintf(w, "  %s %s: %s\n", c.Table, jsonText(c.Key), c.Reason)
	}
	return fmt.Errorf("revert refused (use --force to overwrite): %w", trail.ErrConflict)
}
