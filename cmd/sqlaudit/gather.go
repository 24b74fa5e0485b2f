package main

import (
	"database/sql"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/sqlaudit/sqlaudit/gather"
)

const gatherLong = `Gather the records that relays stream to NATS JetStream into one central
PostgreSQL trail (--into), read by log, history, show and serve like any trail,
with --source to select one service. A durable consumer (--consumer) keeps the
place; every batch is acknowledged only after its transaction commits, and a
record already there (same source and record id) is skipped, so the gather can
be stopped or killed at any time. The central table is created when missing
(--audit-table names it). One gather per consumer runs at a time: a second one
waits.`

func gatherCmd(g *globals) *cobra.Command {
	var f streamFlags
	var into, consumer string
	cmd := &cobra.Command{
		Use:   "gather",
		Short: "Gather the relays' streams into one central PostgreSQL trail",
		Long:  gatherLong,
		Example: `  sqlaudit gather --nats nats://127.0.0.1:4222 --into postgres://audit@central/trails
  sqlaudit log --dsn postgres://audit@central/trails --source shop`,
		Args: nArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if into == "" {
				return usagef("gather: pass --into, the central PostgreSQL database (postgres://…)")
			}
			if !isPostgres(into) {
				return usagef("gather: --into %q is not a PostgreSQL URL or keyword string: the central store is PostgreSQL", into)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			log, err := f.logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			db, err := sql.Open("pgx", into)
			if err != nil {
				return err
			}
			defer db.Close()
			js, err := f.connect("sqlaudit gather "+consumer, log)
			if err != nil {
				return err
			}
			defer js.Conn().Close()
			p := newProgress(cmd.ErrOrStderr(), f.once)
			defer p.done()
			opts := gather.Options{Stream: f.stream, Prefix: f.prefix, Consumer: consumer, Table: g.auditTable, Once: f.once, Logger: log,
				Progress: func(s gather.Stats) {
					p.show("gather: %d messages (%.0f/s), %d records written, %d pending, lag %s",
						s.Messages, s.Rate, s.Inserted, s.Pending, s.Lag.Round(time.Millisecond))
				}}
			if f.once {
				opts.GiveUp = 2 * time.Minute
			}
			return gather.Run(ctx, db, js, opts)
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&into, "into", os.Getenv("SQLAUDIT_CENTRAL"), "the central PostgreSQL database (default $SQLAUDIT_CENTRAL)")
	cmd.Flags().StringVar(&consumer, "consumer", "sqlaudit_gather", "the durable consumer's name")
	return cmd
}
