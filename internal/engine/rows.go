package engine

import (
	"database/sql/driver"
	"io"
	"reflect"
)

// BufferedRows are rows read in full before the wrapper finished the
// statement that returned them (its records are written after them, or its
// own transaction commits before the caller reads them).
type BufferedRows struct {
	Cols []string
	Data [][]driver.Value
	next int
}

var _ driver.Rows = (*BufferedRows)(nil)

func (r *BufferedRows) Columns() []string { return r.Cols }
func (r *BufferedRows) Close() error      { r.Data = nil; return nil }

func (r *BufferedRows) Next(dest []driver.Value) error {
	if r.next >= len(r.Data) {
		return io.EOF
	}
	copy(dest, r.Data[r.next])
	r.next++
	return nil
}

// Keep copies a row out of the driver's buffers and returns its first n
// columns.
func Keep(row []driver.Value, n int) []driver.Value {
	out := make([]driver.Value, n)
	for i := range out {
		if b, ok := row[i].([]byte); ok {
			row[i] = append([]byte(nil), b...)
		}
		out[i] = row[i]
	}
	return out
}

// HiddenRows are rows whose last columns are the wrapper's own (PostgreSQL
// row images after the RETURNING list of an UPDATE … FROM): the caller sees
// the others, with the driver's column types.
type HiddenRows struct {
	driver.Rows
	n   int // visible columns
	buf []driver.Value
}

// NewHiddenRows hides the last hidden columns of rows.
func NewHiddenRows(rows driver.Rows, hidden int) *HiddenRows {
	all := len(rows.Columns())
	return &HiddenRows{Rows: rows, n: all - hidden, buf: make([]driver.Value, all)}
}

func (r *HiddenRows) Columns() []string { return r.Rows.Columns()[:r.n] }

func (r *HiddenRows) Next(dest []driver.Value) error {
	if err := r.Rows.Next(r.buf); err != nil {
		return err
	}
	copy(dest, r.buf[:r.n])
	return nil
}

func (r *HiddenRows) ColumnTypeDatabaseTypeName(i int) string { return columnTypeOf(r.Rows, i).name }
func (r *HiddenRows) ColumnTypeScanType(i int) reflect.Type   { return columnTypeOf(r.Rows, i).scan }

func (r *HiddenRows) ColumnTypeLength(i int) (int64, bool) {
	ct := columnTypeOf(r.Rows, i)
	return ct.length, ct.hasLength
}

func (r *HiddenRows) ColumnTypeNullable(i int) (bool, bool) {
	ct := columnTypeOf(r.Rows, i)
	return ct.nullable, ct.hasNullable
}

func (r *HiddenRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	ct := columnTypeOf(r.Rows, i)
	return ct.prec, ct.scale, ct.hasPrec
}

// BufferRows reads rows into memory, with the driver's column types, and
// closes them.
func BufferRows(rows driver.Rows) (driver.Rows, error) {
	defer rows.Close()
	b := &typedRows{BufferedRows: BufferedRows{Cols: rows.Columns()}}
	for i := range b.Cols {
		b.types = append(b.types, columnTypeOf(rows, i))
	}
	for {
		row := make([]driver.Value, len(b.Cols))
		if err := rows.Next(row); err == io.EOF {
			return b, nil
		} else if err != nil {
			return nil, err
		}
		b.Data = append(b.Data, Keep(row, len(row)))
	}
}

// columnType is what a driver says of one result column; without the
// driver's answer, database/sql's defaults.
type columnType struct {
	name                  string
	scan                  reflect.Type
	length                int64
	hasLength             bool
	nullable, hasNullable bool
	prec, scale           int64
	hasPrec               bool
}

func columnTypeOf(rows driver.Rows, i int) columnType {
	ct := columnType{scan: reflect.TypeFor[any]()}
	if c, ok := rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		ct.name = c.ColumnTypeDatabaseTypeName(i)
	}
	if c, ok := rows.(driver.RowsColumnTypeScanType); ok {
		ct.scan = c.ColumnTypeScanType(i)
	}
	if c, ok := rows.(driver.RowsColumnTypeLength); ok {
		ct.length, ct.hasLength = c.ColumnTypeLength(i)
	}
	if c, ok := rows.(driver.RowsColumnTypeNullable); ok {
		ct.nullable, ct.hasNullable = c.ColumnTypeNullable(i)
	}
	if c, ok := rows.(driver.RowsColumnTypePrecisionScale); ok {
		ct.prec, ct.scale, ct.hasPrec = c.ColumnTypePrecisionScale(i)
	}
	return ct
}

// typedRows are buffered rows that keep the driver's column types.
type typedRows struct {
	BufferedRows
	types []columnType
}

func (r *typedRows) ColumnTypeDatabaseTypeName(i int) string { return r.types[i].name }
func (r *typedRows) ColumnTypeScanType(i int) reflect.Type   { return r.types[i].scan }
func (r *typedRows) ColumnTypeLength(i int) (int64, bool) {
	return r.types[i].length, r.types[i].hasLength
}
func (r *typedRows) ColumnTypeNullable(i int) (bool, bool) {
	return r.types[i].nullable, r.types[i].hasNullable
}
func (r *typedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	return r.types[i].prec, r.types[i].scale, r.types[i].hasPrec
}
