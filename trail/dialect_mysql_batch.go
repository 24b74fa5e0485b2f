package trail

import (
	"context"
	"strings"
)

// MariaDB: batches are placeholders (MariaDB 10.5 has no JSON_TABLE), so
// they are smaller.

func (myDialect) slimColumns() string {
	return "id, tx_id, action, table_name, row_key, old_values, new_values"
}

func (myDialect) batchRows() int { return 200 }
func (myDialect) keyBatch() int  { return 500 }

// myRowValues is "(c1, c2) IN ((?, ?), …)" (or "c IN (?, …)") for keys.
func (d myDialect) myRowValues(cols []string, keys []Key, a *argList) string {
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = myIdent(c)
	}
	tuples := make([]string, len(keys))
	for i, k := range keys {
		phs := make([]string, len(cols))
		for j, c := range cols {
			phs[j] = a.add(native(k[c]))
		}
		tuples[i] = "(" + strings.Join(phs, ", ") + ")"
	}
	return "(" + strings.Join(quoted, ", ") + ") IN (" + strings.Join(tuples, ", ") + ")"
}

func (d myDialect) insertRows(table string, cols []string, rows []map[string]any) Statement {
	a := &argList{d: d}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = myIdent(c)
	}
	tuples := make([]string, len(rows))
	for i, r := range rows {
		phs := make([]string, len(cols))
		for j, c := range cols {
			phs[j] = a.add(native(r[c]))
		}
		tuples[i] = "(" + strings.Join(phs, ", ") + ")"
	}
	return Statement{SQL: "INSERT INTO " + d.table(table) + " (" + strings.Join(quoted, ", ") + ") VALUES " + strings.Join(tuples, ", "), Args: a.vals}
}

// updateRows sets each column with a CASE on the key: a single-table UPDATE,
// the form the audit driver reads most simply.
func (d myDialect) updateRows(table string, cols, keyCols []string, sets []map[string]any, keys []Key) Statement {
	a := &argList{d: d}
	assign := make([]string, len(cols))
	for i, c := range cols {
		var b strings.Builder
		b.WriteString(myIdent(c) + " = CASE")
		for j, k := range keys {
			conds := make([]string, len(keyCols))
			for n, kc := range keyCols {
				conds[n] = myIdent(kc) + " = " + a.add(native(k[kc]))
			}
			b.WriteString(" WHEN " + strings.Join(conds, " AND ") + " THEN " + a.add(native(sets[j][c])))
		}
		assign[i] = b.String() + " END"
	}
	where := d.myRowValues(keyCols, keys, a)
	return Statement{SQL: "UPDATE " + d.table(table) + " SET " + strings.Join(assign, ", ") + " WHERE " + where, Args: a.vals}
}

func (d myDialect) deleteRows(table string, keyCols []string, keys []Key) Statement {
	a := &argList{d: d}
	where := d.myRowValues(keyCols, keys, a)
	return Statement{SQL: "DELETE FROM " + d.table(table) + " WHERE " + where, Args: a.vals}
}

// keySetCond narrows by row_key_first (see keyCond) when the audit table has
// it; readers check the keys.
func (myDialect) keySetCond(shape *keyShape, head bool, keys []Key, a *argList) string {
	if !head || !shape.matches(keys[0]) || !narrowable(shape) {
		return ""
	}
	seen := map[string]bool{}
	var texts []string
	for _, k := range keys {
		for _, n := range shape.names {
			t, ok := numberText(k[n])
			if !ok {
				t, _ = k[n].(string)
			}
			if !seen[t] {
				seen[t] = true
				texts = append(texts, "LEFT("+a.add(t)+", 190)")
			}
		}
	}
	return "row_key_first IN (" + strings.Join(texts, ", ") + ")"
}

func (d myDialect) currentRows(ctx context.Context, q querier, table string, _ *keyShape, keys []Key) (map[string]map[string]any, error) {
	obj, err := d.rowObject(ctx, q, table)
	if err != nil {
		return nil, err
	}
	cols := sortedKeys(keys[0])
	a := &argList{d: d}
	query := "SELECT " + obj + " FROM " + d.table(table) + " WHERE " + d.myRowValues(cols, keys, a)
	return scanRows(ctx, q, cols, query, a.vals...)
}
