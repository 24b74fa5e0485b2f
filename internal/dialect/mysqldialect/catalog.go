package mysqldialect

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// mysqlCatalogQuery reads a table's columns, key positions and kind, and
// the session settings that decide whether its writes can be audited.
const mysqlCatalogQuery = `SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, c.DATA_TYPE, t.TABLE_TYPE,
  c.TABLE_SCHEMA = DATABASE(),
  (SELECT s.SEQ_IN_INDEX FROM information_schema.STATISTICS s WHERE s.TABLE_SCHEMA = c.TABLE_SCHEMA
     AND s.TABLE_NAME = c.TABLE_NAME AND s.INDEX_NAME = 'PRIMARY' AND s.COLUMN_NAME = c.COLUMN_NAME),
  c.EXTRA, @@SESSION.sql_mode, @@SESSION.autocommit,
  EXISTS (SELECT 1 FROM information_schema.CHECK_CONSTRAINTS k WHERE k.CONSTRAINT_SCHEMA = c.TABLE_SCHEMA
     AND k.TABLE_NAME = c.TABLE_NAME AND k.CHECK_CLAUSE = CONCAT('json_valid(', CHAR(96), REPLACE(c.COLUMN_NAME, CHAR(96), REPEAT(CHAR(96), 2)), CHAR(96), ')')),
  c.GENERATION_EXPRESSION
FROM information_schema.COLUMNS c JOIN information_schema.TABLES t
  ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
WHERE c.TABLE_SCHEMA = COALESCE(?, DATABASE()) AND c.TABLE_NAME = ?
ORDER BY c.ORDINAL_POSITION`

func (Dialect) LoadTable(ctx context.Context, c *engine.Session, ref sqlstmt.TableRef) (*engine.TableInfo, error) {
	var schema driver.Value
	if ref.Schema != "" {
		schema = ref.Schema
	}
	rows, err := c.QueryAll(ctx, mysqlCatalogQuery, engine.Named(schema, ref.Name)...)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return mysqlHiddenTable(ctx, c, ref)
	}
	m := c.State.(*myConn)
	m.noAuto = engine.AsString(rows[0][9]) == "0"
	t := &engine.TableInfo{Schema: engine.AsString(rows[0][0]), Name: engine.AsString(rows[0][1])}
	t.Quoted = mysqlIdent(t.Schema) + "." + mysqlIdent(t.Name)
	// table_name is qualified outside the audit table's database (the
	// session's, when that is not named), whatever database a USE made the
	// session's default.
	t.Display = t.Name
	if home := c.Shared.AuditRef.Schema; home != "" && t.Schema != home || home == "" && engine.AsString(rows[0][5]) != "1" {
		t.Display = t.Schema + "." + t.Name
	}
	if mode := engine.AsString(rows[0][8]); strings.Contains(mode, "ANSI_QUOTES") || strings.Contains(mode, "NO_BACKSLASH_ESCAPES") {
		t.Unsupported = "the session's sql_mode (" + mode + ") changes how strings and identifiers are quoted; ANSI_QUOTES and NO_BACKSLASH_ESCAPES are not supported"
	}
	switch engine.AsString(rows[0][4]) {
	case "BASE TABLE", "SYSTEM VERSIONED":
	case "VIEW":
		t.Redirects = "it is a view: a write through it changes its base table, whose rows the wrapper cannot follow through the view; write to the base table"
		return t, nil
	default:
		t.Unsupported = "it is a " + strings.ToLower(engine.AsString(rows[0][4])) + ", not a base table"
		return t, nil
	}
	key := map[int]string{}
	var ext myTable
	for _, r := range rows {
		col := engine.AsString(r[2])
		t.Columns = append(t.Columns, col)
		typ := strings.ToLower(engine.AsString(r[3]))
		if engine.AsInt(r[10]) == 1 { // MariaDB's JSON is LONGTEXT checked by json_valid
			typ = "json"
		}
		ext.Types = append(ext.Types, typ)
		if strings.Contains(engine.AsString(r[7]), "auto_increment") {
			ext.AutoInc = col
		}
		if !strings.Contains(strings.ToUpper(engine.AsString(r[7])), "INVISIBLE") {
			ext.Visible++
		}
		// A system-versioned table's key holds its ROW END column, the same
		// for every current row (the only rows statements see): rows are
		// told apart by the rest.
		if n, err := strconv.Atoi(engine.AsString(r[6])); err == nil && engine.AsString(r[11]) != "ROW END" {
			key[n] = col
		}
		if strings.ContainsAny(col, "\"\\") {
			t.Unsupported = "column " + strconv.Quote(col) + " has a double quote or backslash in its name, which JSON paths cannot name portably"
		}
	}
	for i := 1; i <= len(rows); i++ {
		if k, ok := key[i]; ok {
			t.Key = append(t.Key, k)
		}
	}
	t.Ext = ext
	return t, mysqlChildren(ctx, c, t)
}

// myTable is what the MySQL dialect keeps of a table beside the generic
// entry (TableInfo.Ext).
type myTable struct {
	Types   []string // DATA_TYPE by column, "json" for MariaDB's JSON
	AutoInc string   // the AUTO_INCREMENT column, or ""
	Visible int      // the columns SELECT * returns (INVISIBLE ones are not)
}

// myt is the MySQL part of t's entry (zero for views and hidden tables).
func myt(t *engine.TableInfo) myTable {
	e, _ := t.Ext.(myTable)
	return e
}

// mysqlHiddenTable: information_schema does not list TEMPORARY tables. A
// name that still reads as a table is one: refuse its writes rather than
// let them through unaudited.
func mysqlHiddenTable(ctx context.Context, c *engine.Session, ref sqlstmt.TableRef) (*engine.TableInfo, error) {
	rows, err := c.RawQuery(ctx, `SELECT 1 FROM `+mysqlSpelled(ref)+` WHERE 1 = 0`, nil)
	if err != nil {
		return nil, nil // no such table: the database says so in its own words
	}
	rows.Close()
	return &engine.TableInfo{Name: ref.Name, Display: ref.Name, Quoted: mysqlSpelled(ref),
		Unsupported: "it is a TEMPORARY table (or one information_schema does not show); its columns and key cannot be read"}, nil
}

// mysqlChildren reads the foreign keys whose actions change rows of other
// tables when rows of t are deleted or their keys updated.
func mysqlChildren(ctx context.Context, c *engine.Session, t *engine.TableInfo) error {
	rows, err := c.QueryAll(ctx, `SELECT r.CONSTRAINT_SCHEMA, r.TABLE_NAME, r.DELETE_RULE, r.UPDATE_RULE,
  JSON_ARRAYAGG(k.COLUMN_NAME ORDER BY k.ORDINAL_POSITION), JSON_ARRAYAGG(k.REFERENCED_COLUMN_NAME ORDER BY k.ORDINAL_POSITION)
FROM information_schema.REFERENTIAL_CONSTRAINTS r JOIN information_schema.KEY_COLUMN_USAGE k
  ON k.CONSTRAINT_SCHEMA = r.CONSTRAINT_SCHEMA AND k.CONSTRAINT_NAME = r.CONSTRAINT_NAME AND k.TABLE_NAME = r.TABLE_NAME
WHERE r.UNIQUE_CONSTRAINT_SCHEMA = ? AND r.REFERENCED_TABLE_NAME = ?
GROUP BY r.CONSTRAINT_SCHEMA, r.CONSTRAINT_NAME, r.TABLE_NAME, r.DELETE_RULE, r.UPDATE_RULE`, engine.Named(t.Schema, t.Name)...)
	if err != nil {
		return err
	}
	acts := func(rule driver.Value) bool {
		s := engine.AsString(rule)
		return s == "CASCADE" || s == "SET NULL" || s == "SET DEFAULT"
	}
	for _, r := range rows {
		fk := engine.ChildFK{Table: sqlstmt.TableRef{Schema: engine.AsString(r[0]), Name: engine.AsString(r[1])}, OnDelete: acts(r[2]), OnUpdate: acts(r[3])}
		if json.Unmarshal([]byte(engine.AsString(r[4])), &fk.Cols) != nil || json.Unmarshal([]byte(engine.AsString(r[5])), &fk.Parent) != nil {
			return fmt.Errorf("sqlaudit: reading the foreign keys referencing %s: unexpected column lists %q, %q", t.Display, r[4], r[5])
		}
		fk.Display = fk.Table.Name
		if fk.Table.Schema != t.Schema {
			fk.Display = fk.Table.Schema + "." + fk.Table.Name
		}
		if fk.OnDelete || fk.OnUpdate {
			t.Children = append(t.Children, fk)
		}
	}
	return nil
}
