package trail

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// dialect is everything that differs between the databases a trail is read
// from: placeholders, JSON columns, timestamps, reading the current row and
// writing a row image back. pgDialect, liteDialect and myDialect are its forms.
type dialect interface {
	// ph is the n-th placeholder (1-based).
	ph(n int) string
	// columns is the select list of a Record, JSON columns as text.
	columns() string
	// timeCond compares occurred_at with t (op is <, >= or >).
	timeCond(op string, t time.Time, a *argList) string
	// table quotes a recorded table name, "schema.table" or "table".
	table(name string) string
	// keyColumn is row_key as JSON text.
	keyColumn() string
	// keyCond is a condition on row_key equal to k.key (typed), using the
	// row index where k says how.
	keyCond(k keyLookup, a *argList) string
	// metaCond is a condition on metadata member k having the text v
	// (see Filter.Metadata).
	metaCond(k, v string, a *argList) string
	// columnCond is a condition on old_values or new_values holding col.
	columnCond(col string, a *argList) string
	// textCond is a condition on query matching the LIKE pattern, ignoring
	// case, with likeEscape as its escape character.
	textCond(pattern string, a *argList) string
	// seqScale reports that tx_id is the id of the transaction's first
	// record, so that every record of a transaction has id >= tx_id.
	seqScale() bool
	// readTx are the options of a consistent read.
	readTx() *sql.TxOptions
	// currentRow reads the row of table with key as a JSON object rendered
	// as the audit driver renders row images; ok is false when it is absent.
	currentRow(ctx context.Context, q querier, table string, key Key) (map[string]any, bool, error)
	// insert, update and del write row images back to table.
	insert(table string, row map[string]any) Statement
	update(table string, set map[string]any, key Key) Statement
	del(table string, key Key) Statement
	batchDialect
	// missingTable reports an error saying that a table does not exist.
	missingTable(err error) bool
}

// querier is a *sql.DB or *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// argList collects the arguments of a statement being built.
type argList struct {
	d    dialect
	vals []any
}

// add appends v and returns its placeholder.
func (a *argList) add(v any) string {
	a.vals = append(a.vals, v)
	return a.d.ph(len(a.vals))
}

// pgDialect reads PostgreSQL trails: jsonb columns, timestamptz, $n.
type pgDialect struct{}

func (pgDialect) ph(n int) string { return fmt.Sprintf("$%d", n) }

func (pgDialect) columns() string {
	return "id, tx_id, occurred_at, actor, action, table_name, row_key::text, old_values::text, new_values::text, metadata::text, query"
}

func (pgDialect) timeCond(op string, t time.Time, a *argList) string {
	return "occurred_at " + op + " " + a.add(t)
}

func (pgDialect) table(name string) string { return quoteTable(name) }

func (pgDialect) keyColumn() string { return "row_key::text" }

// keyCond compares jsonb values: numbers by value, members in any order.
func (pgDialect) keyCond(k keyLookup, a *argList) string {
	return "row_key = " + a.add(jsonText(k.key)) + "::jsonb"
}

func (pgDialect) metaCond(k, v string, a *argList) string {
	return "metadata ->> " + a.add(k) + " = " + a.add(v)
}

func (pgDialect) columnCond(col string, a *argList) string {
	ph := a.add(col)
	return "(new_values ? " + ph + " OR old_values ? " + ph + ")"
}

func (pgDialect) textCond(pattern string, a *argList) string {
	return "query ILIKE " + a.add(pattern) + " ESCAPE '" + likeEscape + "'"
}

func (pgDialect) seqScale() bool { return false }

func (pgDialect) readTx() *sql.TxOptions {
	return &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
}

// field is column col of the row image in the JSON argument ph, typed as
// the table's column: jsonb_populate_record casts it as an INSERT would.
func (pgDialect) field(table, ph, col string) string {
	return "(jsonb_populate_record(NULL::" + quoteTable(table) + ", " + ph + "::jsonb))." + quoteIdent(col)
}

func (d pgDialect) keyWhere(table string, key Key, ph string) string {
	var conds []string
	for _, k := range sortedKeys(key) {
		conds = append(conds, quoteIdent(k)+" = "+d.field(table, ph, k))
	}
	return strings.Join(conds, " AND ")
}

func (d pgDialect) currentRow(ctx context.Context, q querier, table string, key Key) (map[string]any, bool, error) {
	query := "SELECT to_jsonb(t.*)::text FROM " + quoteTable(table) + " AS t WHERE " + d.keyWhere(table, key, "$1")
	return scanRow(ctx, q, query, jsonText(key))
}

func (d pgDialect) insert(table string, row map[string]any) Statement {
	cols := sortedKeys(row)
	vals := make([]string, len(cols))
	for i, c := range cols {
		vals[i] = d.field(table, "$1", c)
	}
	return Statement{SQL: "INSERT INTO " + quoteTable(table) + " (" + quoteList(cols) + ") VALUES (" + strings.Join(vals, ", ") + ")", Args: []any{jsonText(row)}}
}

func (d pgDialect) update(table string, set map[string]any, key Key) Statement {
	var sets []string
	for _, c := range sortedKeys(set) {
		sets = append(sets, quoteIdent(c)+" = "+d.field(table, "$1", c))
	}
	return Statement{SQL: "UPDATE " + quoteTable(table) + " SET " + strings.Join(sets, ", ") + " WHERE " + d.keyWhere(table, key, "$2"), Args: []any{jsonText(set), jsonText(key)}}
}

func (d pgDialect) del(table string, key Key) Statement {
	return Statement{SQL: "DELETE FROM " + quoteTable(table) + " WHERE " + d.keyWhere(table, key, "$1"), Args: []any{jsonText(key)}}
}

func (pgDialect) missingTable(err error) bool {
	return strings.Contains(err.Error(), "42P01") || strings.Contains(err.Error(), "does not exist")
}

// liteDialect reads SQLite trails: JSON text, ISO-8601 text times, ?.
type liteDialect struct{}

// liteTime is the format of occurred_at on SQLite.
const liteTime = "2006-01-02T15:04:05.000Z"

func (liteDialect) ph(int) string { return "?" }

func (liteDialect) columns() string {
	return "id, tx_id, occurred_at, actor, action, table_name, row_key, old_values, new_values, metadata, query"
}

func (liteDialect) timeCond(op string, t time.Time, a *argList) string {
	return "occurred_at " + op + " " + a.add(t.UTC().Format(liteTime))
}

func (liteDialect) table(name string) string { return quoteTable(name) }

func (liteDialect) keyColumn() string { return "row_key" }

// keyCond renders the key as the triggers do — json_object of the key
// columns in the recorded order, each value read back from a JSON array so
// that it keeps its type — and compares the text, which the row index
// serves. Without the trail's shape it compares member by member.
func (liteDialect) keyCond(k keyLookup, a *argList) string {
	if k.shape.matches(k.key) {
		arr := k.shape.keyValues(k.key)
		parts := make([]string, len(k.shape.names))
		for i, n := range k.shape.names {
			parts[i] = quoteLiteral(n) + ", json_extract(" + a.add(arr) + ", '$[" + strconv.Itoa(i) + "]')"
		}
		return "row_key = json_object(" + strings.Join(parts, ", ") + ")"
	}
	var conds []string
	for _, col := range sortedKeys(k.key) {
		conds = append(conds, "json_extract(row_key, "+jsonPath(col)+") = "+a.add(native(k.key[col])))
	}
	return "(" + strings.Join(conds, " AND ") + ")"
}

// metaCond compares a text member's contents, or any other member's JSON
// text (->), with v; a JSON null matches nothing.
func (liteDialect) metaCond(k, v string, a *argList) string {
	p := jsonMember(k)
	return "(CASE json_type(metadata, " + a.add(p) + ") WHEN 'text' THEN json_extract(metadata, " + a.add(p) +
		") WHEN 'null' THEN NULL ELSE metadata -> " + a.add(p) + " END) = " + a.add(v)
}

func (liteDialect) columnCond(col string, a *argList) string {
	p := jsonMember(col)
	return "(json_type(new_values, " + a.add(p) + ") IS NOT NULL OR json_type(old_values, " + a.add(p) + ") IS NOT NULL)"
}

func (liteDialect) textCond(pattern string, a *argList) string {
	return "query LIKE " + a.add(pattern) + " ESCAPE '" + likeEscape + "'"
}

// seqScale: a SQLite transaction's tx_id is its first record's id.
func (liteDialect) seqScale() bool { return true }

func (liteDialect) readTx() *sql.TxOptions { return nil }

func (liteDialect) keyWhere(key Key, a *argList) string {
	var conds []string
	for _, k := range sortedKeys(key) {
		conds = append(conds, quoteIdent(k)+" = "+a.add(native(key[k])))
	}
	return strings.Join(conds, " AND ")
}

func (d liteDialect) currentRow(ctx context.Context, q querier, table string, key Key) (map[string]any, bool, error) {
	obj, err := d.rowObject(ctx, q, table)
	if err != nil {
		return nil, false, err
	}
	a := &argList{d: d}
	query := "SELECT " + obj + " FROM " + quoteTable(table) + " WHERE " + d.keyWhere(key, a)
	return scanRow(ctx, q, query, a.vals...)
}

// rowObject is the json_object of a row of table as the triggers render it
// (BLOBs as hex).
func (liteDialect) rowObject(ctx context.Context, q querier, table string) (string, error) {
	rows, err := q.QueryContext(ctx, "SELECT * FROM "+quoteTable(table)+" LIMIT 0")
	if err != nil {
		return "", err
	}
	cols, err := rows.Columns()
	rows.Close()
	if err != nil {
		return "", err
	}
	parts := make([]string, 0, 2*len(cols))
	for _, c := range cols {
		v := quoteIdent(c)
		parts = append(parts, quoteLiteral(c), "CASE WHEN typeof("+v+") = 'blob' THEN hex("+v+") ELSE "+v+" END")
	}
	return "json_object(" + strings.Join(parts, ", ") + ")", nil
}

func (d liteDialect) insert(table string, row map[string]any) Statement {
	cols := sortedKeys(row)
	a := &argList{d: d}
	vals := make([]string, len(cols))
	for i, c := range cols {
		vals[i] = a.add(native(row[c]))
	}
	return Statement{SQL: "INSERT INTO " + quoteTable(table) + " (" + quoteList(cols) + ") VALUES (" + strings.Join(vals, ", ") + ")", Args: a.vals}
}

func (d liteDialect) update(table string, set map[string]any, key Key) Statement {
	a := &argList{d: d}
	var sets []string
	for _, c := range sortedKeys(set) {
		sets = append(sets, quoteIdent(c)+" = "+a.add(native(set[c])))
	}
	where := d.keyWhere(key, a)
	return Statement{SQL: "UPDATE " + quoteTable(table) + " SET " + strings.Join(sets, ", ") + " WHERE " + where, Args: a.vals}
}

func (d liteDialect) del(table string, key Key) Statement {
	a := &argList{d: d}
	where := d.keyWhere(key, a)
	return Statement{SQL: "DELETE FROM " + quoteTable(table) + " WHERE " + where, Args: a.vals}
}

func (liteDialect) missingTable(err error) bool {
	return strings.Contains(err.Error(), "no such table")
}

// native turns a decoded JSON value into a value SQLite stores as the audit
// driver rendered it: integers stay integers, objects become JSON text.
func native(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any, []any:
		return jsonText(x)
	}
	return v
}

// scanRow runs a query returning at most one JSON object.
func scanRow(ctx context.Context, q querier, query string, args ...any) (map[string]any, bool, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, false, rows.Err()
	}
	var text string
	if err := rows.Scan(&text); err != nil {
		return nil, false, err
	}
	m, err := decodeObject(text)
	return m, err == nil, err
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func quoteLiteral(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

func quoteList(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = quoteIdent(c)
	}
	return strings.Join(q, ", ")
}

// quoteTable quotes a recorded table name, "schema.table" or "table".
func quoteTable(name string) string {
	if s, t, ok := strings.Cut(name, "."); ok {
		return quoteIdent(s) + "." + quoteIdent(t)
	}
	return quoteIdent(name)
}

func jsonPath(col string) string {
	return quoteLiteral(`$."` + strings.ReplaceAll(col, `"`, `\"`) + `"`)
}
