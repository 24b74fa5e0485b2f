package sqlaudit

import (
	"database/sql/driver"
	"io"
	"reflect"
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

// hiddenRows are rows whose last columns are the wrapper's own (PostgreSQL
// row images after the RETURNING list of an UPDATE … FROM): the caller sees
// the others, with the driver's column types.
type hiddenRows struct {
	driver.Rows
	n   int // visible columns
	buf []driver.Value
}

func newHiddenRows(rows driver.Rows, hidden int) *hiddenRows {
	all := len(rows.Columns())
	return &hiddenRows{Rows: rows, n: all - hidden, buf: make([]driver.Value, all)}
}

func (r *hiddenRows) Columns() []string { return r.Rows.Columns()[:r.n] }

func (r *hiddenRows) Next(dest []driver.Value) error {
	if err := r.Rows.Next(r.buf); err != nil {
		return err
	}
	copy(dest, r.buf[:r.n])
	return nil
}

func (r *hiddenRows) ColumnTypeDatabaseTypeName(i int) string {
	if c, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return c.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *hiddenRows) ColumnTypeScanType(i int) reflect.Type {
	if c, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return c.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *hiddenRows) ColumnTypeLength(i int) (int64, bool) {
	if c, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return c.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *hiddenRows) ColumnTypeNullable(i int) (bool, bool) {
	if c, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return c.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *hiddenRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if c, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return c.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}
