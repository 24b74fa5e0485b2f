package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/mattn/go-runewidth"
	"github.com/sqlaudit/sqlaudit/trail"
)

// timeFormat is how the table, history and messages show times: UTC with
// milliseconds. CSV and JSON keep microseconds (csvTimeFormat).
const (
	timeFormat    = "2006-01-02T15:04:05.000Z"
	csvTimeFormat = "2006-01-02T15:04:05.000000Z"
)

// recordWriter writes records in one output format, one at a time.
type recordWriter interface {
	write(r trail.Record) error
	flush() error
}

// writerOptions are what the writers need besides the output.
type writerOptions struct {
	verbose bool          // table: METADATA and STATEMENT columns too
	order   *columnOrders // table: values in table order
}

// newRecordWriter returns the writer of format: table, json or csv.
func newRecordWriter(format string, out io.Writer, o writerOptions) (recordWriter, error) {
	switch format {
	case "table", "":
		header := []string{"ID", "TX", "TIME", "ACTOR", "ACTION", "TABLE", "KEY", "CHANGES"}
		if o.verbose {
			header = append(header, "METADATA", "STATEMENT")
		}
		return &tableWriter{t: newStreamTable(out, header), o: o}, nil
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
	return c.w.Write([]string{strconv.FormatInt(r.ID, 10), strconv.FormatInt(r.TxID, 10), r.OccurredAt.UTC().Format(csvTimeFormat),
		r.Actor, r.Action, r.Table, jsonOrEmpty(r.Key), jsonOrEmpty(r.Old), jsonOrEmpty(r.New), jsonOrEmpty(r.Metadata), r.Query})
}

func (c *csvWriter) flush() error {
	if !c.headed {
		c.w.Write(csvHeader)
	}
	c.w.Flush()
	return c.w.Error()
}

// tableWriter writes records as an aligned table, streaming.
type tableWriter struct {
	t *streamTable
	o writerOptions
}

func (w *tableWriter) write(r trail.Record) error {
	cells := []string{strconv.FormatInt(r.ID, 10), strconv.FormatInt(r.TxID, 10), r.OccurredAt.UTC().Format(timeFormat),
		orDash(r.Actor), r.Action, r.Table, jsonText(r.Key), changes(r, w.o.order.of(r.Table))}
	if w.o.verbose {
		meta := "-"
		if r.Metadata != nil {
			meta = jsonText(r.Metadata)
		}
		cells = append(cells, meta, strings.Join(strings.Fields(r.Query), " "))
	}
	return w.t.row(cells)
}

func (w *tableWriter) flush() error { return w.t.flush() }

// streamTable prints an aligned, borderless table without trailing blanks
// in constant memory: the first rows (up to alignRows) set the column
// widths, later rows are printed at once, a wider cell widening its column
// from then on.
type streamTable struct {
	out     io.Writer
	widths  []int
	pending [][]string // rows not printed yet (before the widths are set)
	started bool
}

// alignRows is how many rows are held to align the columns.
const alignRows = 200

func newStreamTable(out io.Writer, header []string) *streamTable {
	return &streamTable{out: out, widths: make([]int, len(header)), pending: [][]string{header}}
}

func (t *streamTable) row(cells []string) error {
	if t.started {
		return t.print(cells)
	}
	t.pending = append(t.pending, cells)
	if len(t.pending) > alignRows {
		return t.flush()
	}
	return nil
}

// flush prints the rows held.
func (t *streamTable) flush() error {
	for _, r := range t.pending {
		for i, c := range r {
			t.widths[i] = max(t.widths[i], runewidth.StringWidth(c))
		}
	}
	t.started = true
	for _, r := range t.pending {
		if err := t.print(r); err != nil {
			return err
		}
	}
	t.pending = nil
	return nil
}

func (t *streamTable) print(cells []string) error {
	var b strings.Builder
	for i, c := range cells {
		b.WriteString(c)
		if i < len(cells)-1 {
			w := runewidth.StringWidth(c)
			t.widths[i] = max(t.widths[i], w)
			b.WriteString(strings.Repeat(" ", t.widths[i]-w+2))
		}
	}
	_, err := io.WriteString(t.out, strings.TrimRight(b.String(), " ")+"\n")
	return err
}

// renderTable prints a small table at once.
func renderTable(out io.Writer, header []string, rows [][]string) error {
	t := newStreamTable(out, header)
	for _, r := range rows {
		if err := t.row(r); err != nil {
			return err
		}
	}
	return t.flush()
}

// changes summarises a record's values, in the table's column order: col:
// old → new for an UPDATE, the row image for an INSERT or DELETE.
func changes(r trail.Record, order []string) string {
	var parts []string
	switch r.Action {
	case "UPDATE":
		for _, c := range inOrder(r.New, order) {
			parts = append(parts, c+": "+jsonText(r.Old[c])+" → "+jsonText(r.New[c]))
		}
	case "INSERT":
		for _, c := range inOrder(r.New, order) {
			parts = append(parts, c+"="+jsonText(r.New[c]))
		}
	case "DELETE":
		for _, c := range inOrder(r.Old, order) {
			parts = append(parts, c+"="+jsonText(r.Old[c]))
		}
	}
	return strings.Join(parts, ", ")
}

// inOrder is m's keys in order's order, those order lacks (columns since
// dropped) after them, sorted.
func inOrder[M ~map[string]any](m M, order []string) []string {
	keys := sortedKeys(m)
	slices.SortStableFunc(keys, func(a, b string) int {
		ia, ib := slices.Index(order, a), slices.Index(order, b)
		switch {
		case ia == ib:
			return 0
		case ia < 0:
			return 1
		case ib < 0:
			return -1
		}
		return ia - ib
	})
	return keys
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
