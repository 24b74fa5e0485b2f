package trail

import (
	"context"
	"strconv"
	"strings"
)

// batchDialect is what a set-based revert needs of a dialect: statements
// that change a batch of rows at once, and reads of many rows' records and
// current images by key.
type batchDialect interface {
	// slimColumns is the select list id, tx_id, action, table_name,
	// row_key, old_values, new_values (JSON as text).
	slimColumns() string
	// batchRows is the most rows one statement of a revert changes.
	batchRows() int
	// keyBatch is the most keys one read by keys names.
	keyBatch() int
	// insertRows, updateRows and deleteRows are the set-based forms of
	// insert, update and del: cols are the columns of every row (or set),
	// keyCols the key's columns, sorted.
	insertRows(table string, cols []string, rows []map[string]any) Statement
	updateRows(table string, cols, keyCols []string, sets []map[string]any, keys []Key) Statement
	deleteRows(table string, keyCols []string, keys []Key) Statement
	// keySetCond is a condition on row_key being one of keys (or a
	// superset of them: readers check the key); "" when it has none.
	keySetCond(shape *keyShape, head bool, keys []Key, a *argList) string
	// currentRows reads the rows of table with those keys, by their key
	// (jsonText of the key's members).
	currentRows(ctx context.Context, q querier, table string, shape *keyShape, keys []Key) (map[string]map[string]any, error)
}

// PostgreSQL: a batch is one jsonb array argument, turned into rows of the
// table's own row type by jsonb_populate_recordset (values cast as an
// INSERT would cast them).

func (pgDialect) slimColumns() string {
	return "id, tx_id, action, table_name, row_key::text, old_values::text, new_values::text"
}

func (pgDialect) batchRows() int { return 5000 }
func (pgDialect) keyBatch() int  { return 100000 }

func pgRecordset(table string) string {
	return "jsonb_populate_recordset(NULL::" + quoteTable(table) + ", $1::jsonb)"
}

func pgJoin(left, right string, cols []string) string {
	conds := make([]string, len(cols))
	for i, c := range cols {
		conds[i] = left + "." + quoteIdent(c) + " = " + right + "." + quoteIdent(c)
	}
	return strings.Join(conds, " AND ")
}

func (pgDialect) insertRows(table string, cols []string, rows []map[string]any) Statement {
	return Statement{SQL: "INSERT INTO " + quoteTable(table) + " (" + quoteList(cols) + ") SELECT " + quoteList(cols) + " FROM " + pgRecordset(table),
		Args: []any{jsonText(rows)}}
}

func (pgDialect) updateRows(table string, cols, keyCols []string, sets []map[string]any, keys []Key) Statement {
	objs := make([]map[string]any, len(sets))
	for i := range sets {
		objs[i] = merged(sets[i], keys[i])
	}
	assign := make([]string, len(cols))
	for i, c := range cols {
		assign[i] = quoteIdent(c) + " = rv." + quoteIdent(c)
	}
	return Statement{SQL: "UPDATE " + quoteTable(table) + " AS rt SET " + strings.Join(assign, ", ") + " FROM " + pgRecordset(table) +
		" AS rv WHERE " + pgJoin("rt", "rv", keyCols), Args: []any{jsonText(objs)}}
}

func (pgDialect) deleteRows(table string, keyCols []string, keys []Key) Statement {
	return Statement{SQL: "DELETE FROM " + quoteTable(table) + " AS rt USING " + pgRecordset(table) + " AS rv WHERE " + pgJoin("rt", "rv", keyCols),
		Args: []any{jsonText(keys)}}
}

func (pgDialect) keySetCond(_ *keyShape, _ bool, keys []Key, a *argList) string {
	return "row_key IN (SELECT jsonb_array_elements(" + a.add(jsonText(keys)) + "::jsonb))"
}

func (pgDialect) currentRows(ctx context.Context, q querier, table string, shape *keyShape, keys []Key) (map[string]map[string]any, error) {
	query := "SELECT to_jsonb(rt.*)::text FROM " + quoteTable(table) + " AS rt JOIN " + pgRecordset(table) + " AS rk ON " + pgJoin("rt", "rk", sortedKeys(keys[0]))
	return scanRows(ctx, q, sortedKeys(keys[0]), query, jsonText(keys))
}

// SQLite: a batch is one JSON array of arrays, read back with json_each and
// json_extract, which keep each value's type.

func (liteDialect) slimColumns() string {
	return "id, tx_id, action, table_name, row_key, old_values, new_values"
}

func (liteDialect) batchRows() int { return 5000 }
func (liteDialect) keyBatch() int  { return 100000 }

// liteItems is a select list of the n members of each json_each element,
// as k0, k1 … when named.
func liteItems(n int, prefix string) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = "json_extract(value, '$[" + strconv.Itoa(i) + "]')"
		if prefix != "" {
			parts[i] += " AS " + prefix + strconv.Itoa(i)
		}
	}
	return strings.Join(parts, ", ")
}

// arrays is the JSON array of each map's values in cols' order.
func arrays[M ~map[string]any](ms []M, cols []string) string {
	out := make([][]any, len(ms))
	for i, m := range ms {
		out[i] = make([]any, len(cols))
		for j, c := range cols {
			out[i][j] = m[c]
		}
	}
	return jsonText(out)
}

func (liteDialect) insertRows(table string, cols []string, rows []map[string]any) Statement {
	return Statement{SQL: "INSERT INTO " + quoteTable(table) + " (" + quoteList(cols) + ") SELECT " + liteItems(len(cols), "") + " FROM json_each(?)",
		Args: []any{arrays(rows, cols)}}
}

func (liteDialect) updateRows(table string, cols, keyCols []string, sets []map[string]any, keys []Key) Statement {
	objs := make([]map[string]any, len(sets))
	for i := range sets {
		objs[i] = merged(sets[i], keys[i])
	}
	all := append(append([]string{}, keyCols...), cols...)
	self := quoteIdent(bareName(table))
	assign := make([]string, len(cols))
	for i, c := range cols {
		assign[i] = quoteIdent(c) + " = rv.c" + strconv.Itoa(len(keyCols)+i)
	}
	conds := make([]string, len(keyCols))
	for i, c := range keyCols {
		conds[i] = self + "." + quoteIdent(c) + " = rv.c" + strconv.Itoa(i)
	}
	return Statement{SQL: "UPDATE " + quoteTable(table) + " SET " + strings.Join(assign, ", ") + " FROM (SELECT " + liteItems(len(all), "c") +
		" FROM json_each(?)) AS rv WHERE " + strings.Join(conds, " AND "), Args: []any{arrays(objs, all)}}
}

func (liteDialect) deleteRows(table string, keyCols []string, keys []Key) Statement {
	return Statement{SQL: "DELETE FROM " + quoteTable(table) + " WHERE " + liteRowValue(keyCols) + " IN (SELECT " + liteItems(len(keyCols), "") + " FROM json_each(?))",
		Args: []any{arrays(keys, keyCols)}}
}

// liteRowValue is a column, or a row value of several.
func liteRowValue(cols []string) string {
	if len(cols) == 1 {
		return quoteIdent(cols[0])
	}
	return "(" + quoteList(cols) + ")"
}

// keySetCond renders each key as the triggers do (see keyCond); without a
// shape naming the keys' columns it has no condition.
func (liteDialect) keySetCond(shape *keyShape, _ bool, keys []Key, a *argList) string {
	if !shape.matches(keys[0]) {
		return ""
	}
	parts := make([]string, len(shape.names))
	for i, n := range shape.names {
		parts[i] = quoteLiteral(n) + ", json_extract(value, '$[" + strconv.Itoa(i) + "]')"
	}
	return "row_key IN (SELECT json_object(" + strings.Join(parts, ", ") + ") FROM json_each(" + a.add(arrays(keys, shape.names)) + "))"
}

func (d liteDialect) currentRows(ctx context.Context, q querier, table string, _ *keyShape, keys []Key) (map[string]map[string]any, error) {
	obj, err := d.rowObject(ctx, q, table)
	if err != nil {
		return nil, err
	}
	cols := sortedKeys(keys[0])
	query := "SELECT " + obj + " FROM " + quoteTable(table) + " WHERE " + liteRowValue(cols) + " IN (SELECT " + liteItems(len(cols), "") + " FROM json_each(?))"
	return scanRows(ctx, q, cols, query, arrays(keys, cols))
}

// merged is a row's key and values to set in one object.
func merged(set map[string]any, key Key) map[string]any {
	out := make(map[string]any, len(set)+len(key))
	for k, v := range set {
		out[k] = v
	}
	for k, v := range key {
		out[k] = v
	}
	return out
}

// bareName is a recorded table name without its schema.
func bareName(table string) string { return table[strings.LastIndexByte(table, '.')+1:] }

// scanRows runs a query returning JSON objects of rows, by their key.
func scanRows(ctx context.Context, q querier, keyCols []string, query string, args ...any) (map[string]map[string]any, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]map[string]any{}
	for rows.Next() {
		var text string
		if err := rows.Scan(&text); err != nil {
			return nil, err
		}
		m, err := decodeObject(text)
		if err != nil {
			return nil, err
		}
		out[jsonText(rowKeyOf(m, keyCols))] = m
	}
	return out, rows.Err()
}
