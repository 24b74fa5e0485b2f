package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/sqlaudit/sqlaudit"
	"github.com/sqlaudit/sqlaudit/trail"
)

const revertLong = `Apply the inverse of a transaction's changes in one new transaction, through
the audit driver: its records carry the metadata {"revert_of": TX} and the
actor --actor (default: the OS user running the command). Rows are changed
set-based, a statement per batch of rows of one table.

When a row changed after TX, nothing is done and the exit code is 3, unless
--force: the report counts the rows and shows the first ones (-o json lists
them all). --dry-run prints the SQL and changes nothing. A transaction that
changed a redacted column is refused; --skip-redacted reverts its other
columns and names the ones left as they are. The trail's redacted columns
(its settings table) are redacted in the revert's own records too.`

func revertCmd(g *globals) *cobra.Command {
	var opts trail.RevertOptions
	var actor, format string
	cmd := &cobra.Command{
		Use:   "revert TX",
		Short: "Undo a transaction (the undo is audited too)",
		Long:  revertLong,
		Example: `  sqlaudit revert 7311 --dry-run
  sqlaudit revert 7311 --actor alice
  sqlaudit revert 7311 --force
  sqlaudit revert 7311 --dry-run -o json | jq '.conflicts | length'`,
		Args: nArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tx, err := parseTx(args[0])
			if err != nil {
				return err
			}
			if format != "text" && format != "json" {
				return usagef("bad --output %q: want text or json", format)
			}
			if actor == "" {
				actor = osUser()
			}
			db, err := g.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer db.Close()
			if !opts.DryRun {
				opts.Progress = progressBar(cmd.ErrOrStderr(), "reverting")
			}
			res, err := trail.Revert(sqlaudit.WithActor(cmd.Context(), actor), db, tx, opts, g.opts()...)
			var ce *trail.ConflictError
			errors.As(err, &ce)
			if err != nil && ce == nil {
				return g.friendly(err)
			}
			if format == "json" {
				if perr := printRevertJSON(cmd.OutOrStdout(), tx, opts.DryRun, res, ce); perr != nil {
					return perr
				}
			} else if perr := printRevert(cmd, res, opts.DryRun, ce); perr != nil {
				return perr
			}
			if ce != nil {
				return refusal(fmt.Sprintf("revert refused: %d rows changed after transaction %d (use --force to overwrite)", len(ce.Conflicts), tx))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print the SQL, change nothing")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "revert even rows changed after the transaction")
	cmd.Flags().BoolVar(&opts.SkipRedacted, "skip-redacted", false, "revert the other columns of an UPDATE of a redacted column")
	cmd.Flags().StringVar(&actor, "actor", "", "the actor recorded for the revert (default: the OS user)")
	cmd.Flags().StringVarP(&format, "output", "o", "text", "output format: text or json (the result, every conflict)")
	return cmd
}

// conflictsShown is how many conflicting rows the text report names.
const conflictsShown = 10

// printRevert prints the dry run's SQL or what the revert did, the
// redacted columns it left, and the conflicts (on stderr), capped.
func printRevert(cmd *cobra.Command, res *trail.RevertResult, dry bool, ce *trail.ConflictError) error {
	out := cmd.OutOrStdout()
	if res != nil && dry {
		fmt.Fprintf(out, "-- revert of transaction %d (dry run, nothing changed)\n", res.TxID)
		for _, s := range res.Statements {
			fmt.Fprintf(out, "%s;\n  -- %s\n", s.SQL, argsText(s))
		}
	}
	if res != nil {
		for _, s := range res.Skipped {
			fmt.Fprintf(out, "-- left as it is (redacted in the trail): %s\n", s)
		}
	}
	if ce != nil {
		w := cmd.ErrOrStderr()
		fmt.Fprintf(w, "transaction %d cannot be reverted: %d rows changed after it\n", ce.TxID, len(ce.Conflicts))
		for _, c := range ce.Conflicts[:min(len(ce.Conflicts), conflictsShown)] {
			fmt.Fprintf(w, "  %s %s: %s\n", c.Table, jsonText(c.Key), c.Reason)
		}
		if n := len(ce.Conflicts) - conflictsShown; n > 0 {
			fmt.Fprintf(w, "  … and %d more (all of them: -o json)\n", n)
		}
		return nil
	}
	if !dry {
		_, err := fmt.Fprintf(out, "reverted transaction %d: %d rows in %d statements\n", res.TxID, res.Rows, len(res.Statements))
		return err
	}
	return nil
}

// argsText shows a statement's arguments: in full when short, else the
// number of rows the batch holds.
func argsText(s trail.Statement) string {
	text := jsonText(s.Args)
	if len(text) <= 200 {
		return "args: " + text
	}
	return fmt.Sprintf("args: %d rows (%d bytes of JSON; -o json has them)", s.Rows, len(text))
}

// revertJSON is revert -o json's output.
type revertJSON struct {
	TxID       int64             `json:"tx_id"`
	DryRun     bool              `json:"dry_run"`
	Reverted   bool              `json:"reverted"`
	Rows       int64             `json:"rows"`
	Statements []trail.Statement `json:"statements"`
	Skipped    []string          `json:"skipped"`
	Conflicts  []trail.Conflict  `json:"conflicts"`
}

func printRevertJSON(out io.Writer, tx int64, dry bool, res *trail.RevertResult, ce *trail.ConflictError) error {
	r := revertJSON{TxID: tx, DryRun: dry, Skipped: []string{}, Conflicts: []trail.Conflict{}, Statements: []trail.Statement{}}
	if res != nil {
		r.Rows, r.Reverted = res.Rows, !dry && ce == nil
		r.Statements = append(r.Statements, res.Statements...)
		r.Skipped = append(r.Skipped, res.Skipped...)
	}
	if ce != nil {
		r.Conflicts = ce.Conflicts
	}
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// refusal is revert's refusal: its own sentence (the conflicts are listed
// above it), trail.ErrConflict underneath for exit code 3.
type refusal string

func (r refusal) Error() string { return string(r) }
func (r refusal) Unwrap() error { return trail.ErrConflict }
