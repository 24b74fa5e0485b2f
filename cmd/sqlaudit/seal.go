package main

import (
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/sqlaudit/sqlaudit"
	"github.com/sqlaudit/sqlaudit/trail"
)

func sealCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "seal",
		Short: "Chain the committed, unsealed records into the seal table",
		Long: `Seal chains every committed record that is not sealed yet into the seal
table (the audit table's name + "_seal"), each seal a SHA-256 over its
predecessor's hash and the record. Run it often, from a role that may write the
seal table; keep the printed head somewhere else and give it to verify --head.`,
		Example: `  sqlaudit seal --dsn postgres://auditor@db/app
  */5 * * * *  sqlaudit seal --dsn app.db >> seal-heads.log`,
		Args: nArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := g.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer db.Close()
			if err := g.requireAudit(cmd, db); err != nil {
				return err
			}
			stop := spinner(cmd.ErrOrStderr(), "sealing")
			head, err := sqlaudit.Seal(cmd.Context(), db)
			stop()
			if err != nil {
				return err
			}
			if head.Seq == 0 { // "head 0:" is no head to keep
				_, err = fmt.Fprintln(cmd.OutOrStdout(), "nothing sealed: the trail has no committed records to chain yet")
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "sealed: %d records in the chain; head %d:%s\n", head.Seq, head.Seq, head.Hash)
			return err
		},
	}
}

func verifyCmd(g *globals) *cobra.Command {
	var head string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the seal chain and the records it covers",
		Long: `Verify recomputes every seal's hash from the records as they are now and
names the first record that was edited, deleted, reordered or inserted after
sealing. With --head SEQ:HASH (printed by seal) it also detects a truncated tail.
Exit code 4 when the trail was tampered with.`,
		Example: `  sqlaudit verify --dsn postgres://auditor@db/app
  sqlaudit verify --dsn app.db --head 1042:9f86d08…`,
		Args: nArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var opts sqlaudit.VerifyOptions
			if head != "" {
				h, err := parseHead(head)
				if err != nil {
					return err
				}
				opts.Head = &h
			}
			db, err := g.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer db.Close()
			if err := g.requireAudit(cmd, db); err != nil {
				return err
			}
			opts.Progress = progressBar(cmd.ErrOrStderr(), "verifying")
			rep, err := sqlaudit.Verify(cmd.Context(), db, opts)
			if err != nil {
				return err
			}
			if rep.Head.Seq == 0 {
				_, err = fmt.Fprintf(cmd.OutOrStdout(), "ok: nothing sealed yet (%d records not sealed; run 'sqlaudit seal')\n", rep.Unsealed)
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "ok: %d sealed records verified, %d not sealed yet; head %d:%s\n",
				rep.Checked, rep.Unsealed, rep.Head.Seq, rep.Head.Hash)
			return err
		},
	}
	cmd.Flags().StringVar(&head, "head", "", "a head printed by seal (SEQ:HASH), to detect a truncated tail")
	return cmd
}

func parseHead(s string) (sqlaudit.Head, error) {
	seq, hash, ok := strings.Cut(s, ":")
	n, err := strconv.ParseInt(seq, 10, 64)
	if !ok || err != nil || len(hash) != 64 {
		return sqlaudit.Head{}, usagef("bad --head %q: want SEQ:HASH as printed by seal", s)
	}
	return sqlaudit.Head{Seq: n, Hash: hash}, nil
}

// tampered reports a verify failure, for its exit code.
func tampered(err error) bool { return errors.Is(err, sqlaudit.ErrTampered) }

func pruneCmd(g *globals) *cobra.Command {
	var before string
	cmd := &cobra.Command{
		Use:   "prune --before TIME",
		Short: "Delete sealed records written before TIME, keeping verify working",
		Long: `Prune deletes the sealed records written before TIME (a prefix of the chain;
never an unsealed record: run seal first) and leaves a checkpoint that verify
continues from. Heads printed by seal before the prune stay valid for verify --head.

` + trail.TimeHelp + `.`,
		Example: `  sqlaudit prune --dsn postgres://auditor@db/app --before 2025-01-01`,
		Args:    nArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if before == "" {
				return usagef("prune needs --before TIME")
			}
			at, err := parseTime("--before", before)
			if err != nil {
				return err
			}
			db, err := g.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer db.Close()
			if err := g.requireAudit(cmd, db); err != nil {
				return err
			}
			stop := spinner(cmd.ErrOrStderr(), "pruning")
			n, err := sqlaudit.Prune(cmd.Context(), db, at)
			stop()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "pruned %d records written before %s\n", n, at.UTC().Format(timeFormat))
			return err
		},
	}
	cmd.Flags().StringVar(&before, "before", "", "delete sealed records written before this time")
	return cmd
}

// requireAudit fails, as the reading commands do, when the audit table is
// missing: before seal creates its seal table beside nothing.
func (g *globals) requireAudit(cmd *cobra.Command, db *sql.DB) error {
	_, err := trail.Log(cmd.Context(), db, trail.Filter{Limit: 1}, g.opts()...)
	return g.friendly(err)
}
