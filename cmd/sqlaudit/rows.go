package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/sqlaudit/sqlaudit/trail"
)

func historyCmd(g *globals) *cobra.Command {
	var format string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "history TABLE KEY",
		Short: "Show the timeline of one row",
		Long: `Show every change of one row, oldest first: a line per record (time,
transaction, actor, action), then old → new per column in the table's order
(∅: no value), the metadata and, with -v, the statement. Colored when writing
to a terminal, unless NO_COLOR is set (see --color).

KEY is a value of the table's key column (42; typed as the trail records it, so
42 finds a text key "42" too), col=value pairs (order_id=7,line=2) or a JSON
object ({"id":42}).`,
		Example: `  sqlaudit history orders 42
  sqlaudit history billing.invoices id=7
  sqlaudit history order_lines order_id=42,line=1 -o json`,
		Args: nArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := newPalette(g.color, g.stdout)
			if err != nil {
				return err
			}
			if format != "text" {
				if _, err := newRecordWriter(format, nil, writerOptions{}); err != nil {
					return err
				}
			}
			db, err := g.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer db.Close()
			key, err := parseKey(cmd.Context(), g, db, args[0], args[1])
			if err != nil {
				return err
			}
			recs, err := trail.History(cmd.Context(), db, args[0], key, g.opts()...)
			if err != nil {
				return g.friendly(err)
			}
			if len(recs) == 0 {
				return fmt.Errorf("no records of %s %s%s", args[0], jsonText(key), keyHint(cmd.Context(), g, db, args[0]))
			}
			order := newColumnOrders(cmd.Context(), db, g.opts())
			if format == "text" {
				printHistory(cmd.OutOrStdout(), p, recs, order.of(args[0]), verbose)
				return nil
			}
			w, _ := newRecordWriter(format, cmd.OutOrStdout(), writerOptions{verbose: verbose, order: order})
			for _, r := range recs {
				if err := w.write(r); err != nil {
					return err
				}
			}
			return w.flush()
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "text", "output format: text (timeline), table, json or csv")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "show each record's statement too")
	return cmd
}

func asofCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "asof TABLE KEY TIME",
		Short: "Show a row as it was at a time",
		Long: `Show a row as it was at TIME, rebuilt from the current row and the trail
written since, or say that it did not exist then. A row that exists but has no
record at all has an unknown past: asof says so instead of showing the
current row.

` + trail.TimeHelp + `.`,
		Example: `  sqlaudit asof orders 42 2025-05-01T12:00:00Z
  sqlaudit asof orders 42 "2025-05-01 14:00" -o json
  sqlaudit asof orders 42 yesterday`,
		Args: nArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			at, err := parseTime("TIME", args[2])
			if err != nil {
				return err
			}
			if format != "table" && format != "json" {
				return usagef("bad --output %q: want table or json", format)
			}
			db, err := g.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer db.Close()
			key, err := parseKey(cmd.Context(), g, db, args[0], args[1])
			if err != nil {
				return err
			}
			row, ok, err := trail.AsOf(cmd.Context(), db, args[0], key, at, g.opts()...)
			if errors.Is(err, trail.ErrNoRecords) {
				return err // names the trail's key
			}
			if err != nil {
				return g.friendly(err)
			}
			order := newColumnOrders(cmd.Context(), db, g.opts())
			return printRow(cmd, format, args[0], key, at, row, ok, order.of(args[0]))
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", "table", "output format: table or json (the row, or null)")
	return cmd
}

func printRow(cmd *cobra.Command, format, table string, key trail.Key, at time.Time, row map[string]any, ok bool, order []string) error {
	out := cmd.OutOrStdout()
	if format == "json" {
		if !ok {
			row = nil
		}
		_, err := fmt.Fprintln(out, jsonText(row))
		return err
	}
	if !ok {
		_, err := fmt.Fprintf(out, "%s %s did not exist at %s\n", table, jsonText(key), at.UTC().Format(timeFormat))
		return err
	}
	var rows [][]string
	for _, c := range inOrder(row, order) {
		rows = append(rows, []string{c, jsonText(row[c])})
	}
	return renderTable(out, []string{"COLUMN", "VALUE"}, rows)
}
