package sqlaudit_test

import (
	"reflect"
	"strings"
	"testing"
)

// The differential oracle for statements that change several tables at once
// (foreign-key actions) and for rows that REPLACE deletes and inserts again
// under the same key or an UPDATE moves to another key.

// checkChangeAll runs change and proves the trail exact on every table of
// keys (table → key columns): per table, the records equal the true
// difference of snapshots (after folding, see fold) and replaying them
// rebuilds the table; no record names another table.
func checkChangeAll(t testing.TB, td *testDB, keys map[string][]string, change func()) []record {
	t.Helper()
	since := td.maxID(t, "audit_log")
	before := map[string]snapshot{}
	for tb, k := range keys {
		before[tb] = td.snap(t, tb, k...)
	}
	change()
	got := td.trail(t, "audit_log", since)
	seen := 0
	for tb, k := range keys {
		name := strings.Trim(tb, `"`)
		after := td.snap(t, tb, k...)
		var mine []record
		for _, r := range got {
			if r.Table == name {
				mine = append(mine, r)
			}
		}
		seen += len(mine)
		assertTrail(t, fold(mine, k, before[tb], after), expected(name, before[tb], after))
		if final := replay(t, before[tb], mine, k...); !reflect.DeepEqual(final, after) {
			t.Fatalf("%s: replaying the trail gives\n%v\nwant\n%v", name, final, after)
		}
	}
	if seen != len(got) {
		t.Fatalf("records of tables the statement should not change: %+v", got)
	}
	return got
}

// fold turns the records of one table into what a snapshot difference
// shows: a DELETE of a key followed by an INSERT of the same key (REPLACE)
// becomes the UPDATE of the columns that differ, or nothing; an UPDATE
// followed by the DELETE of its row (two foreign-key actions on one child)
// becomes the DELETE of the row as it was; an UPDATE that
// moves a row to another key becomes the DELETE of the old row and the
// INSERT of the new one.
func fold(recs []record, key []string, before, after snapshot) []record {
	var out []record
	deleted := map[string]int{} // key → index in out of its DELETE
	updated := map[string]int{} // key → index in out of its UPDATE
	for _, r := range recs {
		switch {
		case r.Action == "INSERT":
			k := keyOf(r.New, key)
			if i, ok := deleted[k]; ok {
				o, n := map[string]any{}, map[string]any{}
				for c, v := range out[i].Old {
					if !reflect.DeepEqual(v, r.New[c]) {
						o[c], n[c] = v, r.New[c]
					}
				}
				out[i] = record{Action: "UPDATE", Table: r.Table, Old: o, New: n}
				if len(o) == 0 {
					out[i].Action = "" // dropped below
				}
				delete(deleted, k)
				continue
			}
		case r.Action == "DELETE":
			k := keyOf(r.Old, key)
			if i, ok := updated[k]; ok { // SET NULL, then CASCADE: one row deleted
				old := map[string]any{}
				for c, v := range r.Old {
					old[c] = v
				}
				for c, v := range out[i].Old {
					old[c] = v
				}
				r.Old, out[i].Action = old, ""
			}
			deleted[k] = len(out)
		case r.Action == "UPDATE" && !movesKey(r, key):
			updated[keyOf(r.RowKey, key)] = len(out)
		case r.Action == "UPDATE":
			old := before[keyOf(r.RowKey, key)]
			moved := map[string]any{}
			for c, v := range old {
				moved[c] = v
			}
			for c, v := range r.New {
				moved[c] = v
			}
			out = append(out, record{Action: "DELETE", Table: r.Table, Old: old},
				record{Action: "INSERT", Table: r.Table, New: after[keyOf(moved, key)]})
			continue
		}
		out = append(out, r)
	}
	kept := out[:0]
	for _, r := range out {
		if r.Action != "" {
			kept = append(kept, r)
		}
	}
	return kept
}

func movesKey(r record, key []string) bool {
	for _, k := range key {
		if _, ok := r.New[k]; ok {
			return true
		}
	}
	return false
}
