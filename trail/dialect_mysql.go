package trail

import (
	"context"
	"database/sql"
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

func (myDialect) keyCond(key Key, a *argList) string {
	var conds []string
	for _, k := range sortedKeys(key) {
		path := `'$."` + strings.ReplaceAll(k, `'`, `''`) + `"'`
		conds = append(conds, "JSON_VALUE(row_key, "+path+") = "+a.add(native(key[k])))
	}
	return "(" + strings.Join(conds, " AND ") + ")"
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
	schema, name, ok := strings.Cut(table, ".")
	if !ok {
		schema, name = "", table
	}
	rows, err := q.QueryContext(ctx, `SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE()) AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, schema, name)
	if err != nil {
		return nil, false, err
	}
	var parts []string
	for rows.Next() {
		var col, typ string
		if err := rows.Scan(&col, &typ); err != nil {
			rows.Close()
			return nil, false, err
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
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	a := &argList{d: d}
	query := "SELECT JSON_OBJECT(" + strings.Join(parts, ", ") + ") FROM " + d.table(table) + " WHERE " + d.keyWhere(key, a)
	return scanRow(ctx, q, query, a.vals...)
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
