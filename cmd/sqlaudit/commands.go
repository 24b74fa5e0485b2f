package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/sqlaudit/sqlaudit/trail"
)

// filterFlags are the record filters of log and export.
type filterFlags struct {
	table, actor, action, since, until, key, tx string
	column, text, trace, source                 string
	meta                                        []string
	limit                                       int
	after, before                               int64
	newest, count, verbose                      bool
}

func (f *filterFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.table, "table", "", "only this table (as recorded)")
	fl.StringVar(&f.actor, "actor", "", "only this actor")
	fl.StringVar(&f.action, "action", "", "only INSERT, UPDATE or DELETE")
	fl.StringVar(&f.since, "since", "", "only records at or after TIME (UTC unless it names its zone; or 1h, 24h, 7d, yesterday)")
	fl.StringVar(&f.until, "until", "", "only records before TIME")
	fl.StringVar(&f.key, "key", "", `only this row: {"id":42} or id=42 (in any table, or --table's), or a bare 42 with --table`)
	fl.StringVar(&f.tx, "tx", "", "only this transaction")
	fl.StringArrayVar(&f.meta, "meta", nil, "only records whose metadata has KEY=VALUE (VALUE as text: abc, 42, true; repeatable)")
	fl.StringVar(&f.trace, "trace", "", "only records written under this OpenTelemetry trace id (32 hex digits; the metadata's trace_id)")
	fl.StringVar(&f.column, "column", "", "only records that changed this column (UPDATEs of it, INSERTs and DELETEs of rows with it)")
	fl.StringVar(&f.text, "text", "", "only records whose statement contains this text (ignoring case)")
	fl.StringVar(&f.source, "source", "", "only records gathered from this service (a central store: sqlaudit gather)")
}

// filter builds the trail filter but for the key (see withKey).
func (f *filterFlags) filter() (trail.Filter, error) {
	out := trail.Filter{Table: f.table, Actor: f.actor, Limit: f.limit, AfterID: f.after, BeforeID: f.before,
		NewestFirst: f.newest, Column: f.column, Text: f.text, Source: f.source}
	var err error
	if k := strings.TrimSpace(f.key); k != "" && f.table == "" && !strings.HasPrefix(k, "{") && !strings.Contains(k, "=") {
		return out, usagef("--key %s needs --table, or its column: --key id=%s", k, k)
	}
	if f.limit < 0 {
		return out, usagef("bad --limit %d: want a number of records, or 0 for all", f.limit)
	}
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
	if f.trace != "" {
		if err := trail.ValidTraceID(f.trace); err != nil {
			return out, usagef("--trace: %v", err)
		}
		out.TraceID = f.trace
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

// terminalPage is how many records log shows on a terminal unless --limit
// says otherwise: a page, with the cursor of the next one.
const terminalPage = 100

func logCmd(g *globals) *cobra.Command {
	var f filterFlags
	var format string
	cmd := &cobra.Command{
		Use:   "log",
		Short: "List audit records, filtered",
		Long: `List audit records, oldest first (newest first with --newest-first), as an
aligned table (default; -v adds the metadata and the statement), JSON lines or
CSV. Records are read and written one at a time: memory stays constant on any
trail. On a terminal log shows ` + strconv.Itoa(terminalPage) + ` records unless --limit says otherwise
(--limit 0: all) and ends with the cursor of the next page; page with --after
(the last ID shown), or newest first with --before. --count prints how many
records (in how many transactions) the filters select instead.

` + trail.TimeHelp + `.`,
		Example: `  sqlaudit log --actor alice --since 2025-05-01 --until 2025-06-01
  sqlaudit log --since 24h --newest-first -v
  sqlaudit log --table orders --key 42 -o json
  sqlaudit log --action DELETE --limit 50 --after 1200 -o csv
  sqlaudit log --meta request_id=abc --column price --newest-first --limit 20
  sqlaudit log --text "delete from orders" --count
  sqlaudit log --trace 4bf92f3577b34da6a3ce929d0e0e4736   # the records of one request's trace`,
		Args: nArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("limit") && isTerminal(cmd.OutOrStdout()) && !f.count {
				f.limit = terminalPage
			}
			return g.printRecords(cmd, &f, format)
		},
	}
	f.register(cmd)
	cmd.Flags().IntVar(&f.limit, "limit", 0, "at most this many records (0: all; default on a terminal: "+strconv.Itoa(terminalPage)+")")
	cmd.Flags().Int64Var(&f.after, "after", 0, "only records with an ID above this (paging)")
	cmd.Flags().Int64Var(&f.before, "before", 0, "only records with an ID below this (paging with --newest-first)")
	cmd.Flags().BoolVar(&f.newest, "newest-first", false, "newest records first")
	cmd.Flags().BoolVar(&f.count, "count", false, "print the number of records and transactions selected, not the records")
	cmd.Flags().BoolVarP(&f.verbose, "verbose", "v", false, "table: add the METADATA and STATEMENT columns")
	cmd.Flags().StringVarP(&format, "output", "o", "table", "output format: table, json (JSON lines) or csv")
	return cmd
}

func exportCmd(g *globals) *cobra.Command {
	var f filterFlags
	var format string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Stream audit records as JSON lines or CSV",
		Long: `Stream every record the filters select, oldest first, as JSON lines (default),
CSV or a table. Records are read and written one at a time: memory stays
constant on any trail. With stdout redirected, a terminal on stderr shows the
records written so far.

` + trail.TimeHelp + `.`,
		Example: `  sqlaudit export > trail.jsonl
  sqlaudit export -o csv --since 2025-01-01 --until 2025-02-01 > january.csv`,
		Args: nArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.printRecords(cmd, &f, format)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVarP(&format, "output", "o", "json", "output format: json (JSON lines), csv or table")
	return cmd
}

// printRecords streams the records the filters select in format, with a
// count of them on a terminal's stderr when stdout goes elsewhere, and the
// next page's cursor when it stopped at --limit.
func (g *globals) printRecords(cmd *cobra.Command, f *filterFlags, format string) error {
	flt, err := f.filter()
	if err != nil {
		return err
	}
	if _, err := newRecordWriter(format, nil, writerOptions{}); err != nil {
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
	out := cmd.OutOrStdout()
	if f.count {
		n, err := trail.Count(cmd.Context(), db, flt, g.opts()...)
		if err != nil {
			return g.friendly(err)
		}
		if format == "json" || format == "jsonl" {
			return json.NewEncoder(out).Encode(n)
		}
		_, err = fmt.Fprintf(out, "%d records in %d transactions\n", n.Records, n.Transactions)
		return err
	}
	w, _ := newRecordWriter(format, out, writerOptions{verbose: f.verbose, order: newColumnOrders(cmd.Context(), db, g.opts())})
	limit := flt.Limit
	if limit > 0 {
		flt.Limit++ // one more tells whether there is a next page
	}
	prog := newCounter(cmd.ErrOrStderr(), out, "records")
	var shown int
	var last int64
	more := false
	for r, err := range trail.Query(cmd.Context(), db, flt, g.opts()...) {
		if err != nil {
			return g.friendly(err)
		}
		if limit > 0 && shown == limit {
			more = true
			break
		}
		if err := w.write(r); err != nil {
			return err
		}
		shown, last = shown+1, r.ID
		prog.add(1)
	}
	prog.done()
	if err := w.flush(); err != nil {
		return err
	}
	if shown == 0 && format == "table" { // a header alone reads like a failure
		fmt.Fprintln(cmd.ErrOrStderr(), "-- no records match")
	}
	if more {
		cursor := "--after"
		if f.newest {
			cursor = "--before"
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "-- %d records shown, more follow; next page: %s %d (all: --limit 0)\n", shown, cursor, last)
	}
	return nil
}

func showCmd(g *globals) *cobra.Command {
	var format string
	var verbose bool
	cmd := &cobra.Command{
		Use:     "show TX",
		Short:   "Show the records of one transaction",
		Example: "  sqlaudit show 7311\n  sqlaudit show 7311 -v\n  sqlaudit show 7311 -o json",
		Args:    nArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tx, err := parseTx(args[0])
			if err != nil {
				return err
			}
			if _, err := newRecordWriter(format, nil, writerOptions{}); err != nil {
				return err
			}
			db, err := g.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer db.Close()
			w, _ := newRecordWriter(format, cmd.OutOrStdout(), writerOptions{verbose: verbose, order: newColumnOrders(cmd.Context(), db, g.opts())})
			n := 0
			for r, err := range trail.Query(cmd.Context(), db, trail.Filter{TxID: tx}, g.opts()...) {
				if err != nil {
					return g.friendly(err)
				}
				if err := w.write(r); err != nil {
					return err
				}
				n++
			}
			if n == 0 {
				return fmt.Errorf("%w for transaction %d", trail.ErrNoRecords, tx)
			}
			return w.flush()
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "table", "output format: table, json or csv")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "table: add the METADATA and STATEMENT columns")
	return cmd
}
