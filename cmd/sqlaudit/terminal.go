package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/fatih/color"
	"github.com/mattn/go-isatty"
	"github.com/sqlaudit/sqlaudit/trail"
)

// isTerminal reports a terminal; tests replace it.
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// palette colors the history; its colors are off unless enabled.
type palette struct{ head, old, new *color.Color }

// newPalette enables color for mode always, or for auto when out is a
// terminal and NO_COLOR is not set.
func newPalette(mode string, out io.Writer) (*palette, error) {
	p := &palette{color.New(color.Bold), color.New(color.FgRed), color.New(color.FgGreen)}
	on := false
	switch mode {
	case "always":
		on = true
	case "never":
	case "auto", "":
		_, noColor := os.LookupEnv("NO_COLOR")
		on = !noColor && isTerminal(out)
	default:
		return nil, usagef("bad --color %q: want auto, always or never", mode)
	}
	for _, c := range []*color.Color{p.head, p.old, p.new} {
		if on {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
	}
	return p, nil
}

// printHistory prints a timeline: one header line per record, then one
// line per column (in the table's order) with its old → new value, then
// the metadata and, verbose, the statement.
func printHistory(out io.Writer, p *palette, recs []trail.Record, order []string, verbose bool) {
	for _, r := range recs {
		fmt.Fprintln(out, p.head.Sprintf("%s  tx %d  %s  %s", r.OccurredAt.UTC().Format(timeFormat), r.TxID, orDash(r.Actor), r.Action))
		cols := inOrder(r.New, order)
		if r.Action == "DELETE" {
			cols = inOrder(r.Old, order)
		}
		width := 0
		for _, c := range cols {
			width = max(width, len(c))
		}
		for _, c := range cols {
			fmt.Fprintf(out, "    %-*s  %s → %s\n", width, c, p.old.Sprint(valueOrNone(r.Old, c)), p.new.Sprint(valueOrNone(r.New, c)))
		}
		if len(r.Metadata) > 0 {
			fmt.Fprintf(out, "    (metadata %s)\n", jsonText(r.Metadata))
		}
		if verbose {
			fmt.Fprintf(out, "    (statement %s)\n", strings.Join(strings.Fields(r.Query), " "))
		}
	}
}

func valueOrNone(m map[string]any, c string) string {
	if v, ok := m[c]; ok {
		return jsonText(v)
	}
	return "∅"
}

// columnOrders caches the column order of each table a listing shows
// (trail.Columns: one query per table).
type columnOrders struct {
	ctx    context.Context
	db     *sql.DB
	opts   []trail.Option
	tables map[string][]string
}

func newColumnOrders(ctx context.Context, db *sql.DB, opts []trail.Option) *columnOrders {
	return &columnOrders{ctx: ctx, db: db, opts: opts, tables: map[string][]string{}}
}

// of is table's columns in order; nil (alphabetical) when unknown.
func (o *columnOrders) of(table string) []string {
	if o == nil {
		return nil
	}
	cols, ok := o.tables[table]
	if !ok {
		cols, _ = trail.Columns(o.ctx, o.db, table, o.opts...) // a table since dropped shows alphabetically
		o.tables[table] = cols
	}
	return cols
}
