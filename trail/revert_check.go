package trail

import (
	"context"
	"fmt"

	"github.com/sqlaudit/sqlaudit"
)

// rowState is the last record of one row in the reverted transaction.
type rowState struct {
	key Key    // the row's key after it
	rec Record // the record
}

// lastRecords returns the last record of each row recs change, grouped by
// table, tables and rows in the transaction's order.
func lastRecords(recs []Record) (tables []string, rows map[string][]rowState) {
	type id struct{ table, key string }
	last := map[id]int{} // index into rows[table]
	rows = map[string][]rowState{}
	for _, r := range recs {
		if _, ok := rows[r.Table]; !ok {
			tables = append(tables, r.Table)
			rows[r.Table] = nil
		}
		before := id{r.Table, jsonText(r.Key)}
		k := afterKey(r)
		after := id{r.Table, jsonText(k)}
		if i, ok := last[before]; ok && before != after {
			rows[r.Table][i].key = nil // the row moved: its old key has no state of its own
			delete(last, before)
		}
		if i, ok := last[after]; ok {
			rows[r.Table][i] = rowState{k, r}
			continue
		}
		last[after] = len(rows[r.Table])
		rows[r.Table] = append(rows[r.Table], rowState{k, r})
	}
	return tables, rows
}

// conflicts finds the rows of recs changed after them: by a later record of
// another transaction, or (changes the audit driver did not see) by a
// current row other than the one the transaction left. Each table costs
// one query for the later records and one for the current rows (MariaDB: one
// per batch of keys).
func (c *config) conflicts(ctx context.Context, q querier, recs []Record) ([]Conflict, error) {
	tables, rows := lastRecords(recs)
	var out []Conflict
	for _, table := range tables {
		var states []rowState
		for _, s := range rows[table] {
			if s.key != nil {
				states = append(states, s)
			}
		}
		if len(states) == 0 {
			continue
		}
		shape, err := parseShape(states[0].rec.rawKey)
		if err != nil {
			return nil, err
		}
		later, err := c.laterRecords(ctx, q, table, shape, states, recs[0].ID, recs[0].TxID)
		if err != nil {
			return nil, err
		}
		var rest []rowState
		for _, s := range states {
			if l, ok := later[jsonText(s.key)]; ok {
				out = append(out, Conflict{Table: table, Key: s.key, RecordID: l.ID,
					Reason: fmt.Sprintf("%s by %s in transaction %d (record %d)", l.Action, orNone(l.Actor), l.TxID, l.ID)})
			} else {
				rest = append(rest, s)
			}
		}
		cf, err := c.currentConflicts(ctx, q, table, shape, rest)
		if err != nil {
			return nil, err
		}
		out = append(out, cf...)
	}
	return out, nil
}

// laterRecords returns, by key (as jsonText), the newest record of each of
// the rows that another transaction wrote after firstID.
func (c *config) laterRecords(ctx context.Context, q querier, table string, shape *keyShape, states []rowState, firstID, txID int64) (map[string]Record, error) {
	head := false
	if hd, ok := c.d.(headDetector); ok {
		var err error
		if head, err = c.keyHead(ctx, q, hd); err != nil {
			return nil, err
		}
	}
	want := map[string]bool{}
	for _, s := range states {
		want[jsonText(s.key)] = true
	}
	out := map[string]Record{}
	for lo := 0; lo < len(states); lo += c.d.keyBatch() {
		keys := keysOf(states[lo:min(lo+c.d.keyBatch(), len(states))])
		a := &argList{d: c.d}
		conds := []string{"table_name = " + a.add(table), "id > " + a.add(firstID), "tx_id <> " + a.add(txID)}
		if cond := c.d.keySetCond(shape, head, keys, a); cond != "" {
			conds = append(conds, cond)
		}
		t := c.d.table(c.table)
		query := "SELECT a.id, a.tx_id, a.actor, a.action, a." + c.d.keyColumn() + " FROM " + t + " a JOIN (SELECT max(id) AS id FROM " + t +
			where(conds) + " GROUP BY row_key) m ON a.id = m.id"
		if _, my := c.d.(myDialect); my { // MariaDB groups long text by a prefix (max_sort_length): no grouping
			query = "SELECT id, tx_id, actor, action, row_key FROM " + t + where(conds)
		}
		rows, err := q.QueryContext(ctx, query, a.vals...)
		if err != nil {
			return nil, c.wrap(err)
		}
		for rows.Next() {
			var r Record
			var actor *string
			var key string
			if err := rows.Scan(&r.ID, &r.TxID, &actor, &r.Action, &key); err != nil {
				rows.Close()
				return nil, err
			}
			if actor != nil {
				r.Actor = *actor
			}
			k, err := decodeObject(key)
			if err != nil {
				rows.Close()
				return nil, err
			}
			// MariaDB's narrowing is a superset, and a row's key may be
			// written two ways there: keep the newest exact match.
			if id := jsonText(k); want[id] && out[id].ID < r.ID {
				out[id] = r
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// currentConflicts compares the current rows with what their last records
// left.
func (c *config) currentConflicts(ctx context.Context, q querier, table string, shape *keyShape, states []rowState) ([]Conflict, error) {
	if len(states) == 0 {
		return nil, nil
	}
	current := map[string]map[string]any{}
	for lo := 0; lo < len(states); lo += c.d.keyBatch() {
		got, err := c.d.currentRows(ctx, q, table, shape, keysOf(states[lo:min(lo+c.d.keyBatch(), len(states))]))
		if err != nil {
			return nil, err
		}
		for k, row := range got {
			current[k] = row
		}
	}
	var out []Conflict
	for _, s := range states {
		row, exists := current[jsonText(s.key)]
		if reason := stateDiffers(s.rec, row, exists); reason != "" {
			out = append(out, Conflict{Table: table, Key: s.key, Reason: reason})
		}
	}
	return out, nil
}

func keysOf(states []rowState) []Key {
	keys := make([]Key, len(states))
	for i, s := range states {
		keys[i] = s.key
	}
	return keys
}

// stateDiffers says how the current row is not what record r left.
func stateDiffers(r Record, row map[string]any, exists bool) string {
	if r.Action == "DELETE" {
		if exists {
			return "the deleted row exists again"
		}
		return ""
	}
	if !exists {
		return "the row no longer exists"
	}
	for _, col := range sortedKeys(r.New) {
		v := r.New[col]
		if v != sqlaudit.RedactedValue && jsonText(row[col]) != jsonText(v) {
			return fmt.Sprintf("column %s is %s, the transaction left %s", col, jsonText(row[col]), jsonText(v))
		}
	}
	return ""
}

// rowKeyOf is the key of a row image: its members named as key's.
func rowKeyOf(row map[string]any, names []string) Key {
	k := make(Key, len(names))
	for _, n := range names {
		k[n] = row[n]
	}
	return k
}
