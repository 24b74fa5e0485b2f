package main

import (
	"database/sql"
	"strings"

	"github.com/spf13/cobra"
	"github.com/sqlaudit/sqlaudit/trail"
)

// filterFlags are the record filters of log and export.
type filterFlags struct {
	table, actor, action, since, until, key, tx string
	limit                                       int
	after                                       int64
}

func (f *filterFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.table, "table", "", "only this table (as recorded)")
	fl.StringVar(&f.actor, "actor", "", "only this actor")
	fl.StringVar(&f.action, "action", "", "only INSERT, UPDATE or DELETE")
	fl.StringVar(&f.since, "since", "", "only records at or after TIME")
	fl.StringVar(&f.until, "until", "", "only records before TIME")
	fl.StringVar(&f.key, "key", "", "only this row (needs --table for a bare value)")
	fl.StringVar(&f.tx, "tx", "", "only this transaction")
}

// filter builds the trail filter but for the key (see withKey).
func (f *filterFlags) filter() (trail.Filter, error) {
	out := trail.Filter{Table: f.table, Actor: f.actor, Limit: f.limit, AfterID: f.after}
	var err error
	if f.action != "" {
		out.Action = strings.ToUpper(f.action)
		if out.Action != "INSERT" && out.Action != "UPDATE" && out.Action != "DELETE" {
			return out, usagef("bad --action %q: want INSERT, UPDATE or DELETE", f.action)
		}
	}
	if out.Since, err = parseTime("--since", f.since); err != nil {
		return out, err
	}
	if out.Until, err = parseTime("--until", f.until); err != nil {
		return out, err
	}
	if f.tx != "" {
		if out.TxID, err = parseTx(f.tx); err != nil {
			return out, err
		}
	}
	return out, nil
}

// withKey adds --key to flt, reading a bare value against db.
func (f *filterFlags) withKey(cmd *cobra.Command, g *globals, db *sql.DB, flt *trail.Filter) error {
	if f.key == "" {
		return nil
	}
	var err error
	flt.Key, err = parseKey(cmd.Context(), g, db, f.table, f.key)
	return err
}

func logCmd(g *globals) *cobra.Command {
	var f filterFlags
	var format string
	cmd := &cobra.Command{
		Use:   "log",
		Short: "List audit records, filtered",
		Long:  "List audit records, oldest first, as an aligned table (default), JSON lines or CSV.\nPage with --limit and --after (the last ID shown).",
		Example: `  sqlaudit log --actor alice --since 2025-05-01 --until 2025-06-01
  sqlaudit log --table orders --key 42 -o json
  sqlaudit log --action DELETE --limit 50 --after 1200 -o csv`,
		Args: nArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.printRecords(cmd, &f, format)
		},
	}
	f.register(cmd)
	cmd.Flags().IntVar(&f.limit, "limit", 0, "at most this many records (0: all)")
	cmd.Flags().Int64Var(&f.after, "after", 0, "only records with an ID above this (paging)")
	cmd.Flags().StringVarP(&format, "output", "o", "table", "output format: table, json (JSON lines) or csv")
	return cmd
}

func exportCmd(g *globals) *cobra.Command {
	var f filterFlags
	var format string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Stream audit records as JSON lines or CSV",
		Long:  "Stream every record the filters select, oldest first, as JSON lines (default) or CSV.\nRecords are read and written one at a time: memory stays constant on any trail.",
		Example: `  sqlaudit export > trail.jsonl
  sqlaudit export -o csv --since 2025-01-01 --until 2025-02-01 > january.csv`,
		Args: nArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format == "table" {
				return usagef("export writes json or csv")
			}
			return g.printRecords(cmd, &f, format)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVarP(&format, "output", "o", "json", "output format: json (JSON lines) or csv")
	return cmd
}

// printRecords streams the records the filters select in format.
func (g *globals) printRecords(cmd *cobra.Command, f *filterFlags, format string) error {
	w, err := newRecordWriter(format, cmd.OutOrStdout())
	if err != nil {
		return err
	}
	flt, err := f.filter()
	if err != nil {
		return err
	}
	db, err := g.open(cmd.Context(), false)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := f.withKey(cmd, g, db, &flt); err != nil {
		return err
	}
	for r, err := range trail.Query(cmd.Context(), db, flt, g.opts()...) {
		if err != nil {
			return g.friendly(err)
		}
		if err := w.write(r); err != nil {
			return err
		}
	}
	return w.flush()
}

func showCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "show TX",
		Short:   "Show the records of one transaction",
		Example: "  sqlaudit show 7311\n  sqlaudit show 7311 -o json",
		Args:    nArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tx, err := parseTx(args[0])
			if err != nil {
				return err
			}
			w, err := newRecordWriter(format, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			db, err := g.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer db.Close()
			recs, err := trail.Transaction(cmd.Context(), db, tx, g.opts()...)
			if err != nil {
				return g.friendly(err)
			}
			for _, r := range recs {
				if err := w.write(r); err != nil {
					return err
				}
			}
			return w.flush()
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "table", "output format: table, json or csv")
	return cmd
}
