package main

import (
	"database/sql"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/sqlaudit/sqlaudit/trail"
)

// filterFlags are the record filters of log and export.
type filterFlags struct {
	table, actor, action, since, until, key, tx string
	column, text, source                        string
	meta                                        []string
	limit                                       int
	after, before                               int64
	newest, count                               bool
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
	fl.StringArrayVar(&f.meta, "meta", nil, "only records whose metadata has KEY=VALUE (VALUE as text: abc, 42, true; repeatable)")
	fl.StringVar(&f.column, "column", "", "only records that changed this column (UPDATEs of it, INSERTs and DELETEs of rows with it)")
	fl.StringVar(&f.text, "text", "", "only records whose statement contains this text (ignoring case)")
	fl.StringVar(&f.source, "source", "", "only records gathered from this service (a central store: sqlaudit gather)")
}

// filter builds the trail filter but for the key (see withKey).
func (f *filterFlags) filter() (trail.Filter, error) {
	out := trail.Filter{Table: f.table, Actor: f.actor, Limit: f.limit, AfterID: f.after, BeforeID: f.before,
		NewestFirst: f.newest, Column: f.column, Text: f.text, Source: f.source}
	var err error
	for _, kv := range f.meta {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return out, usagef("bad --meta %q: want KEY=VALUE (e.g. request_id=abc)", kv)
		}
		if out.Metadata == nil {
			out.Metadata = map[string]string{}
		}
		out.Metadata[k] = v
	}
	if f.before != 0 && !f.newest {
		return out, usagef("--before pages newest first: add --newest-first (oldest first pages with --after)")
	}
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
		Long: `List audit records, oldest first (newest first with --newest-first), as an
aligned table (default), JSON lines or CSV. Page with --limit and --after (the
last ID shown), or newest first with --limit and --before. --count prints how
many records (in how many transactions) the filters select instead.`,
		Example: `  sqlaudit log --actor alice --since 2025-05-01 --until 2025-06-01
  sqlaudit log --table orders --key 42 -o json
  sqlaudit log --action DELETE --limit 50 --after 1200 -o csv
  sqlaudit log --meta request_id=abc --column price --newest-first --limit 20
  sqlaudit log --text "delete from orders" --count`,
		Args: nArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.printRecords(cmd, &f, format)
		},
	}
	f.register(cmd)
	cmd.Flags().IntVar(&f.limit, "limit", 0, "at most this many records (0: all)")
	cmd.Flags().Int64Var(&f.after, "after", 0, "only records with an ID above this (paging)")
	cmd.Flags().Int64Var(&f.before, "before", 0, "only records with an ID below this (paging with --newest-first)")
	cmd.Flags().BoolVar(&f.newest, "newest-first", false, "newest records first")
	cmd.Flags().BoolVar(&f.count, "count", false, "print the number of records and transactions selected, not the records")
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
	if f.count {
		n, err := trail.Count(cmd.Context(), db, flt, g.opts()...)
		if err != nil {
			return g.friendly(err)
		}
		if format == "json" || format == "jsonl" {
			return w.(jsonWriter).enc.Encode(n)
		}
		_, err = fmt.Fprintf(cmd.OutOrStdout(), "%d records in %d transactions\n", n.Records, n.Transactions)
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
