package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/fatih/color"
	"github.com/mattn/go-isatty"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
	"github.com/sqlaudit/sqlaudit/trail"
)

const timeFormat = "2006-01-02T15:04:05.000Z"

// recordWriter writes records in one output format.
type recordWriter interface {
	write(r trail.Record) error
	flush() error
}

// newRecordWriter returns the writer of format: table, json or csv.
func newRecordWriter(format string, out io.Writer) (recordWriter, error) {
	switch format {
	case "table", "":
		return &tableWriter{out: out}, nil
	case "json", "jsonl":
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		return jsonWriter{enc}, nil
	case "csv":
		return &csvWriter{w: csv.NewWriter(out)}, nil
	}
	return nil, usagef("bad --output %q: want table, json or csv", format)
}

type jsonWriter struct{ enc *json.Encoder }

func (w jsonWriter) write(r trail.Record) error { return w.enc.Encode(r) }
func (w jsonWriter) flush() error               { return nil }

var csvHeader = []string{"id", "tx_id", "occurred_at", "actor", "action", "table_name", "row_key", "old_values", "new_values", "metadata", "query"}

type csvWriter struct {
	w      *csv.Writer
	headed bool
}

func (c *csvWriter) write(r trail.Record) error {
	if !c.headed {
		c.headed = true
		if err := c.w.Write(csvHeader); err != nil {
			return err
		}
	}
	return c.w.Write([]string{strconv.FormatInt(r.ID, 10), strconv.FormatInt(r.TxID, 10), r.OccurredAt.UTC().Format(timeFormat),
		r.Actor, r.Action, r.Table, jsonOrEmpty(r.Key), jsonOrEmpty(r.Old), jsonOrEmpty(r.New), jsonOrEmpty(r.Metadata), r.Query})
}

func (c *csvWriter) flush() error {
	if !c.headed {
		c.w.Write(csvHeader)
	}
	c.w.Flush()
	return c.w.Error()
}

type tableWriter struct {
	out  io.Writer
	rows [][]string
}

func (t *tableWriter) write(r trail.Record) error {
	t.rows = append(t.rows, []string{strconv.FormatInt(r.ID, 10), strconv.FormatInt(r.TxID, 10), r.OccurredAt.UTC().Format(timeFormat),
		orDash(r.Actor), r.Action, r.Table, jsonText(r.Key), changes(r)})
	return nil
}

func (t *tableWriter) flush() error {
	return renderTable(t.out, []string{"ID", "TX", "TIME", "ACTOR", "ACTION", "TABLE", "KEY", "CHANGES"}, t.rows)
}

// renderTable prints an aligned, borderless table without trailing blanks.
func renderTable(out io.Writer, header []string, rows [][]string) error {
	var buf bytes.Buffer
	tbl := tablewriter.NewTable(&buf,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders:  tw.BorderNone,
			Symbols:  tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{Separators: tw.SeparatorsNone, Lines: tw.LinesNone},
		})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithPadding(tw.Padding{Right: "  ", Overwrite: true}),
	)
	tbl.Header(header)
	if err := tbl.Bulk(rows); err != nil {
		return err
	}
	if err := tbl.Render(); err != nil {
		return err
	}
	for _, l := range strings.SplitAfter(buf.String(), "\n") {
		if l == "" {
			continue
		}
		if _, err := io.WriteString(out, strings.TrimRight(l, " \n")+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// changes summarises a record's values: col: old → new for an UPDATE, the
// row image for an INSERT or DELETE.
func changes(r trail.Record) string {
	var parts []string
	switch r.Action {
	case "UPDATE":
		for _, c := range sortedKeys(r.New) {
			parts = append(parts, c+": "+jsonText(r.Old[c])+" → "+jsonText(r.New[c]))
		}
	case "INSERT":
		for _, c := range sortedKeys(r.New) {
			parts = append(parts, c+"="+jsonText(r.New[c]))
		}
	case "DELETE":
		for _, c := range sortedKeys(r.Old) {
			parts = append(parts, c+"="+jsonText(r.Old[c]))
		}
	}
	return strings.Join(parts, ", ")
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
		f, ok := out.(*os.File)
		_, noColor := os.LookupEnv("NO_COLOR")
		on = ok && !noColor && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
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
// line per column with its old → new value.
func printHistory(out io.Writer, p *palette, recs []trail.Record) {
	for _, r := range recs {
		fmt.Fprintln(out, p.head.Sprintf("%s  tx %d  %s  %s", r.OccurredAt.UTC().Format(timeFormat), r.TxID, orDash(r.Actor), r.Action))
		cols := sortedKeys(r.New)
		if r.Action == "DELETE" {
			cols = sortedKeys(r.Old)
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
	}
}

func valueOrNone(m map[string]any, c string) string {
	if v, ok := m[c]; ok {
		return jsonText(v)
	}
	return "∅"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func jsonText(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	return strings.TrimSuffix(buf.String(), "\n")
}

func jsonOrEmpty[M ~map[string]any](m M) string {
	if m == nil {
		return ""
	}
	return jsonText(m)
}

func sortedKeys[M ~map[string]any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
