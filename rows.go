package sqlaudit

import (
	"database/sql/driver"
	"io"
)

// bufferedRows are rows read in full before the wrapper committed the
// records of the statement that returned them (SQLite RETURNING).
type bufferedRows struct {
	cols []string
	data [][]driver.Value
	next int
}

var _ driver.Rows = (*bufferedRows)(nil)

func (r *bufferedRows) Columns() []string { return r.cols }
func (r *bufferedRows) Close() error      { r.data = nil; return nil }

func (r *bufferedRows) Next(dest []driver.Value) error {
	if r.next >= len(r.data) {
		return io.EOF
	}
	copy(dest, r.data[r.next])
	r.next++
	return nil
}

// keep copies a row out of the driver's buffers and returns its first n
// columns.
func keep(row []driver.Value, n int) []driver.Value {
	out := make([]driver.Value, n)
	for i := range out {
		if b, ok := row[i].([]byte); ok {
			row[i] = append([]byte(nil), b...)
		}
		out[i] = row[i]
	}
	return out
}
