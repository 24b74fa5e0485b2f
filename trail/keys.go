package trail

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"weak"
)

// A key the caller gives is typed as the trail records the table's keys
// before it is looked up: trail.Key{"id": "3"} finds the records of an
// integer key 3, trail.Key{"code": 42} those of a text key "42". Without
// that, a key that looks like a number (or is one) would silently match no
// record — and AsOf would take the current row for the past one.

// kind is the JSON type of a recorded key value.
type kind int

const (
	kindOther  kind = iota
	kindString      // a JSON string
	kindInt         // a number without fraction or exponent
	kindReal        // any other number
	kindBool
)

// keyShape is how the trail records a table's keys: the members of one
// recorded row_key, in the order the database wrote them, and their types.
type keyShape struct {
	names []string
	kinds []kind
}

// shapeOf reads the shape of table's keys from one of its records; nil
// when the trail has none.
func (c *config) shapeOf(ctx context.Context, q querier, table string) (*keyShape, error) {
	a := &argList{d: c.d}
	query := "SELECT " + c.d.keyColumn() + " FROM " + c.d.table(c.table) + " WHERE table_name = " + a.add(table) + " LIMIT 1"
	rows, err := q.QueryContext(ctx, query, a.vals...)
	if err != nil {
		return nil, c.wrap(err)
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	var text string
	if err := rows.Scan(&text); err != nil {
		return nil, err
	}
	return parseShape(text)
}

// parseShape reads the members of a JSON object in order.
func parseShape(text string) (*keyShape, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("trail: bad row_key %q", text)
	}
	s := &keyShape{}
	for dec.More() {
		name, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("trail: bad row_key %q: %w", text, err)
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("trail: bad row_key %q: %w", text, err)
		}
		s.names = append(s.names, name.(string))
		s.kinds = append(s.kinds, kindOf(v))
	}
	return s, nil
}

func kindOf(v any) kind {
	switch x := v.(type) {
	case string:
		return kindString
	case bool:
		return kindBool
	case json.Number:
		if strings.ContainsAny(string(x), ".eE") {
			return kindReal
		}
		return kindInt
	}
	return kindOther
}

// describe lists the members and their types: id (a number), code (text).
func (s *keyShape) describe() string {
	words := map[kind]string{kindString: "text", kindInt: "a number", kindReal: "a number", kindBool: "a boolean", kindOther: "JSON"}
	parts := make([]string, len(s.names))
	for i, n := range s.names {
		parts[i] = n + " (" + words[s.kinds[i]] + ")"
	}
	return strings.Join(parts, ", ")
}

// matches reports that key names exactly the shape's members.
func (s *keyShape) matches(key Key) bool {
	if s == nil || len(key) != len(s.names) {
		return false
	}
	for _, n := range s.names {
		if _, ok := key[n]; !ok {
			return false
		}
	}
	return true
}

// typed returns key with each value typed as the shape's member of that
// name; values of other names, and values that cannot take the type, are
// left as they are (they match no record, as they should).
func (s *keyShape) typed(key Key) Key {
	if s == nil {
		return key
	}
	out := make(Key, len(key))
	for k, v := range key {
		out[k] = v
		for i, n := range s.names {
			if n == k {
				out[k] = typedAs(s.kinds[i], v)
			}
		}
	}
	return out
}

// typedAs converts v to a value of kind k when it denotes one: "3" → 3 for
// a number, 42 → "42" for a string; integral numbers take the integer or
// real form the trail records (3.0 → 3 for an integer key, 3 → 3.0 for a
// real one, which SQLite renders differently).
func typedAs(k kind, v any) any {
	text, isNum := numberText(v)
	switch k {
	case kindString:
		if isNum {
			return text
		}
	case kindInt, kindReal:
		s, isStr := v.(string)
		if isStr {
			text = strings.TrimSpace(s)
		}
		if !isNum && !isStr {
			return v
		}
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return v
		}
		if k == kindReal {
			if f == math.Trunc(f) && math.Abs(f) < 1<<53 && !strings.ContainsAny(text, ".eE") {
				return json.Number(text + ".0")
			}
			return json.Number(text)
		}
		if _, err := strconv.ParseInt(text, 10, 64); err == nil {
			return json.Number(text)
		}
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return json.Number(strconv.FormatInt(int64(f), 10))
		}
		if isDigits(text) {
			return json.Number(text) // beyond int64: numeric keys keep their digits
		}
	case kindBool:
		if s, ok := v.(string); ok {
			if b, err := strconv.ParseBool(strings.TrimSpace(s)); err == nil {
				return b
			}
		}
	}
	return v
}

// numberText is the decimal text of a numeric value.
func numberText(v any) (string, bool) {
	switch x := v.(type) {
	case json.Number:
		return string(x), true
	case int:
		return strconv.Itoa(x), true
	case int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(x), true
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32), true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	}
	return "", false
}

func isDigits(s string) bool {
	s = strings.TrimPrefix(s, "-")
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// keyValues is the JSON array of key's values in the shape's order: the
// argument from which SQLite and MariaDB render and compare the key.
func (s *keyShape) keyValues(key Key) string {
	vals := make([]any, len(s.names))
	for i, n := range s.names {
		vals[i] = key[n]
	}
	return jsonText(vals)
}

// keyLookup is a key to look up, typed, with what the dialect may use to
// find it by index.
type keyLookup struct {
	key   Key
	shape *keyShape // nil: the trail's shape is unknown (no table given, or no records)
	head  bool      // MariaDB: the audit table has the row_key_first column
}

// prepare types f.Key as the trail records f.Table's keys, reading their
// shape from the trail (one small query) when f names a table and a key.
func (c *config) prepare(ctx context.Context, q querier, f *Filter) error {
	if len(f.Key) == 0 || f.Table == "" || f.shape != nil {
		return nil
	}
	s, err := c.shapeOf(ctx, q, f.Table)
	if err != nil || s == nil {
		return err
	}
	f.shape, f.Key = s, s.typed(f.Key)
	if hd, ok := c.d.(headDetector); ok {
		f.keyHead, err = c.keyHead(ctx, q, hd)
	}
	return err
}

// headDetector is a dialect whose row index needs a column that only
// migrated audit tables have (MariaDB's row_key_first).
type headDetector interface {
	hasKeyHead(ctx context.Context, q querier, table string) (bool, error)
}

// keyHeads caches, per database handle and audit table, whether the audit
// table has its key-head column (one catalog query per handle). The handle
// is held weakly: the cache keeps no handle alive, and a new handle at a
// collected one's address is another key.
var keyHeads sync.Map

func (c *config) keyHead(ctx context.Context, q querier, hd headDetector) (bool, error) {
	type id struct {
		db    weak.Pointer[sql.DB]
		table string
	}
	k := id{weak.Make(c.db), c.table}
	if v, ok := keyHeads.Load(k); ok {
		return v.(bool), nil
	}
	has, err := hd.hasKeyHead(ctx, q, c.table)
	if err == nil && c.db != nil {
		keyHeads.Store(k, has)
	}
	return has, err
}
