package engine

import (
	"database/sql/driver"
	"fmt"
	"strconv"
)

// Named numbers values as statement arguments ($1, ?1 …).
func Named(vals ...driver.Value) []driver.NamedValue {
	out := make([]driver.NamedValue, len(vals))
	for i, v := range vals {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return out
}

// Values drops the names and ordinals of arguments.
func Values(args []driver.NamedValue) []driver.Value {
	out := make([]driver.Value, len(args))
	for i, a := range args {
		out[i] = a.Value
	}
	return out
}

// AsString renders a text value as drivers return it ([]byte or string).
func AsString(v driver.Value) string {
	switch s := v.(type) {
	case string:
		return s
	case []byte:
		return string(s)
	case nil:
		return ""
	default:
		return fmt.Sprint(s)
	}
}

// AsInt reads an integer that a driver returned as a number or as text; 0
// when it is neither.
func AsInt(v driver.Value) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case uint64:
		return int64(n)
	case float64:
		return int64(n)
	case []byte:
		i, _ := strconv.ParseInt(string(n), 10, 64)
		return i
	case string:
		i, _ := strconv.ParseInt(n, 10, 64)
		return i
	}
	return 0
}

// Result is the driver.Result of an audited statement.
type Result struct {
	Rows int64
	// LastID is the LastInsertId when HasLast; otherwise LastInsertId fails
	// with LastNote, as the underlying driver's would.
	LastID   int64
	HasLast  bool
	LastNote string
}

// RowsAffected returns Rows.
func (r Result) RowsAffected() (int64, error) { return r.Rows, nil }

// LastInsertId returns LastID, or the error the underlying driver gives.
func (r Result) LastInsertId() (int64, error) {
	if !r.HasLast {
		return 0, driverError(r.LastNote)
	}
	return r.LastID, nil
}

type driverError string

func (e driverError) Error() string { return string(e) }
