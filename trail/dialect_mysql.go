package trail

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// myDialect reads MariaDB trails (audit-mysql): JSON text, TIMESTAMP(6)
// read as Unix seconds (independent of the session's time zone), ?, and
// backtick identifiers. Row images are rendered as the audit driver renders
// them: JSON_OBJECT, binary strings and BLOBs as hex, BIT as a number.
type myDialect struct{}

func (myDialect) ph(int) string { return "?" }

func (myDialect) columns() string {
	return "id, tx_id, CAST(UNIX_TIMESTAMP(occurred_at) AS CHAR), actor, action, table_name, row_key, old_values, new_values, metadata, query"
}

func (myDialect) timeCond(op string, t time.Time, a *argList) string {
	us := t.UnixMicro()
	return "occurred_at " + op + " FROM_UNIXTIME(" + a.add(strconv.FormatInt(us/1e6, 10)+"."+pad6(us%1e6)) + ")"
}

func pad6(n int64) string {
	s := strconv.FormatInt(n, 10)
	return strings.Repeat("0", 6-len(s)) + s
}

func (myDialect) table(name string) string {
	if s, t, ok := strings.Cut(name, "."); ok {
		return myIdent(s) + "." + myIdent(t)
	}
	return myIdent(name)
}

func myIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

func (myDialect) keyColumn() string { return "row_key" }

// keyCond compares each member with JSON_VALUE (numbers by value, members
// in any order). When the audit table has its row_key_first column — the
// text of the first member as stored, which the row index covers — it also
// asks for that to be the text of one of the key's values: a superset of
// the row's records whichever member the writer put first. Numbers with a
// fraction or exponent are left to JSON_VALUE (their text varies: 1.5,
// 1.50).
func (myDialect) keyCond(k keyLookup, a *argList) string {
	var conds []string
	if k.head && k.shape.matches(k.key) && narrowable(k.shape) {
		arr := k.shape.keyValues(k.key)
		var texts []string
		for i := range k.shape.names {
			texts = append(texts, "LEFT(JSON_VALUE("+a.add(arr)+", '$["+strconv.Itoa(i)+"]'), 190)")
		}
		conds = append(conds, "row_key_first IN ("+strings.Join(texts, ", ")+")")
	}
	for _, col := range sortedKeys(k.key) {
		conds = append(conds, "JSON_VALUE(row_key, "+a.add(jsonMember(col))+") = "+a.add(native(k.key[col])))
	}
	return "(" + strings.Join(conds, " AND ") + ")"
}

// narrowable: every member is text or an integer, whose text is one.
func narrowable(s *keyShape) bool {
	for _, k := range s.kinds {
		if k != kindString && k != kindInt {
			return false
		}
	}
	return true
}

// hasKeyHead asks the catalog for the row_key_first column (sqlaudit
// migrate adds it to audit tables made before it existed).
func (d myDialect) hasKeyHead(ctx context.Context, q querier, audit string) (bool, error) {
	schema, name, ok := strings.Cut(audit, ".")
	if !ok {
		schema, name = "", audit
	}
	rows, err := q.QueryContext(ctx, `SELECT 1 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE())
		AND TABLE_NAME = ? AND COLUMN_NAME = 'row_key_first'`, schema, name)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	return rows.Next(), rows.Err()
}

// metaCond unquotes a string member and keeps any other's JSON text
// (JSON_VALUE would render true as 1); a JSON null matches nothing.
func (myDialect) metaCond(k, v string, a *argList) string {
	p := jsonMember(k)
	return "(CASE JSON_TYPE(JSON_EXTRACT(metadata, " + a.add(p) + ")) WHEN 'NULL' THEN NULL ELSE JSON_UNQUOTE(JSON_EXTRACT(metadata, " +
		a.add(p) + ")) END) = " + a.add(v)
}

func (myDialect) columnCond(col string, a *argList) string {
	p := jsonMember(col)
	return "(JSON_CONTAINS_PATH(new_values, 'one', " + a.add(p) + ") OR JSON_CONTAINS_PATH(old_values, 'one', " + a.add(p) + "))"
}

// textCond lowers both sides: the audit table's collation is binary.
func (myDialect) textCond(pattern string, a *argList) string {
	return "LOWER(query) LIKE LOWER(" + a.add(pattern) + ") ESCAPE '" + likeEscape + "'"
}

// seqScale is false: tx_id comes from the id sequence but the audit table
// has an index on it anyway.
func (myDialect) seqScale() bool { return false }

func (myDialect) readTx() *sql.TxOptions {
	return &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
}

func (d myDialect) keyWhere(key Key, a *argList) string {
	var conds []string
	for _, k := range sortedKeys(key) {
		conds = append(conds, myIdent(k)+" = "+a.add(native(key[k])))
	}
	return strings.Join(conds, " AND ")
}

func (d myDialect) currentRow(ctx context.Context, q querier, table string, key Key) (map[string]any, bool, error) {
	obj, err := d.rowObject(ctx, q, table)
	if err != nil {
		return nil, false, err
	}
	a := &argList{d: d}
	query := "SELECT " + obj + " FROM " + d.table(table) + " WHERE " + d.keyWhere(key, a)
	return scanRow(ctx, q, query, a.vals...)
}

// rowObject is the JSON_OBJECT of a row of table as the audit driver renders
// row images: binary strings, BLOBs and geometry as hex, BIT as a number.
func (d myDialect) rowObject(ctx context.Context, q querier, table string) (string, error) {
	schema, name, ok := strings.Cut(table, ".")
	if !ok {
		schema, name = "", table
	}
	rows, err := q.QueryContext(ctx, `SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE()) AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, schema, name)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var col, typ string
		if err := rows.Scan(&col, &typ); err != nil {
			return "", err
		}
		v := myIdent(col)
		switch typ {
		case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "geometry", "point", "linestring",
			"polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection":
			v = "HEX(" + v + ")"
		case "bit":
			v = "(" + v + " + 0)"
		}
		parts = append(parts, quoteLiteral(col), v)
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("trail: table %s does not exist", table)
	}
	return "JSON_OBJECT(" + strings.Join(parts, ", ") + ")", nil
}

func (d myDialect) insert(table string, row map[string]any) Statement {
	cols := sortedKeys(row)
	a := &argList{d: d}
	quoted, vals := make([]string, len(cols)), make([]string, len(cols))
	for i, c := range cols {
		quoted[i], vals[i] = myIdent(c), a.add(native(row[c]))
	}
	return Statement{SQL: "INSERT INTO " + d.table(table) + " (" + strings.Join(quoted, ", ") + ") VALUES (" + strings.Join(vals, ", ") + ")", Args: a.vals}
}

func (d myDialect) update(table string, set map[string]any, key Key) Statement {
	a := &argList{d: d}
	var sets []string
	for _, c := range sortedKeys(set) {
		sets = append(sets, myIdent(c)+" = "+a.add(native(set[c])))
	}
	where := d.keyWhere(key, a)
	return Statement{SQL: "UPDATE " + d.table(table) + " SET " + strings.Join(sets, ", ") + " WHERE " + where, Args: a.vals}
}

func (d myDialect) del(table string, key Key) Statement {
	a := &argList{d: d}
	return Statement{SQL: "DELETE FROM " + d.table(table) + " WHERE " + d.keyWhere(key, a), Args: a.vals}
}

func (myDialect) missingTable(err error) bool {
	return strings.Contains(err.Error(), "1146") || strings.Contains(err.Error(), "doesn't exist")
}
