package oracle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// Record is one row of an audit table as the tests read it back: row_key,
// old_values, new_values and metadata decoded from JSON (numbers as
// json.Number); Old, New and Metadata are nil for SQL NULL. Table is the
// table name with the test's schema prefix removed (see [DB.Since]).
type Record struct {
	ID       int64
	TxID     int64
	Actor    *string
	Action   string
	Table    string
	RowKey   map[string]any
	Old, New map[string]any
	Metadata map[string]any
	Query    string
}

// String renders r on one line for failure messages: id, transaction,
// actor (NULL when nil), then action, table, row key, old and new values
// as JSON. Metadata and the query are left out.
func (r Record) String() string {
	actor := "NULL"
	if r.Actor != nil {
		actor = *r.Actor
	}
	b, _ := json.Marshal([]any{r.Action, r.Table, r.RowKey, r.Old, r.New})
	return fmt.Sprintf("#%d tx %d actor %s %s", r.ID, r.TxID, actor, b)
}

// Snapshot is a table's rows as the database renders them to JSON (see
// [DB.Snap]), indexed by [Key] of each row over the key columns the
// snapshot was read with.
type Snapshot map[string]map[string]any

// Key is the index of row in a [Snapshot] keyed by the columns key: the
// JSON object of those columns' values (a missing column counts as null).
// Two rows have the same Key exactly when their key columns are equal as
// decoded JSON values.
func Key(row map[string]any, key []string) string {
	k := make(map[string]any, len(key))
	for _, c := range key {
		k[c] = row[c]
	}
	b, _ := json.Marshal(k)
	return string(b)
}

// Decode decodes the JSON object s, numbers as json.Number so that no
// precision is lost; it fails the test when s is not a JSON object (a JSON
// null decodes to a nil map).
func Decode(t testing.TB, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader([]byte(s)))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("bad JSON %q: %v", s, err)
	}
	return m
}

// Expected is the trail a change of table from before to after must write,
// in no particular order: a DELETE (Old the whole row) for each key only in
// before, an INSERT (New the whole row) for each key only in after, and for
// each key whose row differs an UPDATE whose Old and New hold only the
// columns that differ. Only Action, Table, Old and New are set. Both
// snapshots must have been read with the same key columns.
func Expected(table string, before, after Snapshot) []Record {
	var out []Record
	for k, old := range before {
		nw, ok := after[k]
		switch {
		case !ok:
			out = append(out, Record{Action: "DELETE", Table: table, Old: old})
		case !reflect.DeepEqual(old, nw):
			o, n := map[string]any{}, map[string]any{}
			for c, v := range old {
				if !reflect.DeepEqual(v, nw[c]) {
					o[c], n[c] = v, nw[c]
				}
			}
			out = append(out, Record{Action: "UPDATE", Table: table, Old: o, New: n})
		}
	}
	for k, nw := range after {
		if _, ok := before[k]; !ok {
			out = append(out, Record{Action: "INSERT", Table: table, New: nw})
		}
	}
	return out
}

// AssertTrail fails the test unless got holds exactly the records of want,
// as a multiset in any order, comparing Action, Table, Old and New only
// (not ids, keys, actors, metadata or queries). The failure message lists
// both sides and the queries of got.
func AssertTrail(t testing.TB, got, want []Record) {
	t.Helper()
	canon := func(rs []Record) []string {
		var out []string
		for _, r := range rs {
			b, _ := json.Marshal([]any{r.Action, r.Table, r.Old, r.New})
			out = append(out, string(b))
		}
		sort.Strings(out)
		return out
	}
	g, w := canon(got), canon(want)
	if !reflect.DeepEqual(g, w) {
		var qs []string
		for _, r := range got {
			qs = append(qs, r.Query)
		}
		t.Fatalf("trail differs from the true difference\n got: %s\nwant: %s\nqueries: %s",
			strings.Join(g, "\n      "), strings.Join(w, "\n      "), strings.Join(qs, "\n      "))
	}
}

// Replay applies recs, in order, to a copy of before (a snapshot keyed by
// key) and returns the result; before is not modified. Records are found
// by [Key] of their RowKey. It fails the test when an INSERT's row key is
// not its new row's or names a row that is there already (an update
// recorded as an insert), when a DELETE's old values are not the replayed row,
// when an UPDATE names a row that is not there or an old value that is not
// the replayed row's, and on any other action. An UPDATE may change key
// columns: the row moves to its new key.
func Replay(t testing.TB, before Snapshot, recs []Record, key ...string) Snapshot {
	t.Helper()
	state := make(Snapshot, len(before))
	for k, v := range before {
		state[k] = v
	}
	for _, r := range recs {
		k := Key(r.RowKey, key)
		switch r.Action {
		case "INSERT":
			if Key(r.New, key) != k {
				t.Fatalf("record %v: row_key is not the new row's key", r)
			}
			if old, ok := state[k]; ok {
				t.Fatalf("record %v: INSERT of a row that is there already: %v", r, old)
			}
			state[k] = r.New
		case "DELETE":
			if !reflect.DeepEqual(state[k], r.Old) {
				t.Fatalf("record %v: DELETE old values differ from the replayed row %v", r, state[k])
			}
			delete(state, k)
		case "UPDATE":
			cur, ok := state[k]
			if !ok {
				t.Fatalf("record %v: UPDATE of a row that is not there", r)
			}
			row := make(map[string]any, len(cur))
			for c, v := range cur {
				row[c] = v
			}
			for c, v := range r.Old {
				if !reflect.DeepEqual(row[c], v) {
					t.Fatalf("record %v: UPDATE old %s=%v, replayed row has %v", r, c, v, row[c])
				}
				row[c] = r.New[c]
			}
			delete(state, k)
			state[Key(row, key)] = row
		default:
			t.Fatalf("record %v: unknown action", r)
		}
	}
	return state
}
