package sqlitedialect

import (
	"context"
	"database/sql/driver"
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// liteTable is what the SQLite dialect keeps of a table beside the
// generic entry (TableInfo.Ext).
type liteTable struct {
	Version int64  // the schema version the entry was read at
	DDL     string // the table's CREATE TABLE text (sqlite_schema.sql)
	// Triggers counts the triggers of the table's schema and the
	// application's TEMP triggers: REPLACE may not turn
	// recursive_triggers on under them.
	Triggers int64
}

// liteVersion is the schema version t was read at (0 for views).
func liteVersion(t *engine.TableInfo) int64 {
	e, _ := t.Ext.(liteTable)
	return e.Version
}

// loadTable resolves a name as SQLite does (temp, then main, then attached
// schemas) and reads its columns and key.
func (Dialect) LoadTable(ctx context.Context, c *engine.Session, ref sqlstmt.TableRef) (*engine.TableInfo, error) {
	q := `SELECT schema, name, type, wr FROM pragma_table_list WHERE name = ?1 COLLATE NOCASE`
	vals := []driver.Value{ref.Name}
	if ref.Schema != "" {
		q += ` AND schema = ?2 COLLATE NOCASE`
		vals = append(vals, ref.Schema)
	}
	q += ` ORDER BY CASE schema WHEN 'temp' THEN 0 WHEN 'main' THEN 1 ELSE 2 END LIMIT 1`
	rows, err := c.QueryAll(ctx, q, engine.Named(vals...)...)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	t := &engine.TableInfo{Schema: engine.AsString(rows[0][0]), Name: engine.AsString(rows[0][1])}
	t.Quoted = sqlstmt.QuoteIdent(t.Schema) + "." + sqlstmt.QuoteIdent(t.Name)
	t.Display = t.Name
	if t.Schema != "main" {
		t.Display = t.Schema + "." + t.Name
	}
	switch engine.AsString(rows[0][2]) {
	case "view":
		t.Redirects = "it is a view: a write through it runs its INSTEAD OF triggers, which change other tables the wrapper cannot follow; write to the base tables"
		return t, nil
	case "table":
	default:
		return t, nil // a virtual table: no key, refused as such
	}
	lc, _ := c.State.(*liteConn)
	v, err := readSchemaVersion(ctx, c, t.Schema, lc)
	if err != nil {
		return nil, err
	}
	ext := liteTable{Version: v}
	if err := liteColumns(ctx, c, t, rows[0][3] == int64(1)); err != nil {
		return nil, err
	}
	if err := liteDefinition(ctx, c, t, &ext); err != nil {
		return nil, err
	}
	t.Ext = ext
	return t, liteChildren(ctx, c, t)
}

// liteColumns reads the columns (generated ones included) and the primary
// key; a rowid table without one is keyed by rowid.
func liteColumns(ctx context.Context, c *engine.Session, t *engine.TableInfo, withoutRowid bool) error {
	cols, err := c.QueryAll(ctx, `SELECT name, pk FROM pragma_table_xinfo(?1, ?2) WHERE hidden <> 1 ORDER BY cid`, engine.Named(t.Name, t.Schema)...)
	if err != nil {
		return err
	}
	pk := map[int64]string{}
	for _, r := range cols {
		t.Columns = append(t.Columns, engine.AsString(r[0]))
		if n, _ := r[1].(int64); n > 0 {
			pk[n] = engine.AsString(r[0])
		}
	}
	for i := int64(1); i <= int64(len(pk)); i++ {
		t.Key = append(t.Key, pk[i])
	}
	if len(t.Key) == 0 && !withoutRowid {
		// Documented fallback: the implicit rowid, under the first of its
		// names that no column takes (a column named rowid hides it).
		if alias := rowidAlias(t.Columns); alias != "" {
			t.Key = []string{alias}
		} else {
			t.Unsupported = "it has no primary key and columns named rowid, _rowid_ and oid hide its rowid, so its rows have no key to record; give it a PRIMARY KEY"
		}
	}
	return nil
}

// rowidNames are the names SQLite gives a rowid table's implicit rowid.
var rowidNames = []string{"rowid", "_rowid_", "oid"}

// rowidAlias is the first name of the rowid that is not a column's.
func rowidAlias(cols []string) string {
	for _, n := range rowidNames {
		taken := false
		for _, c := range cols {
			taken = taken || strings.EqualFold(c, n)
		}
		if !taken {
			return n
		}
	}
	return ""
}

// isRowidAlias reports whether the key is the implicit rowid.
func isRowidAlias(t *engine.TableInfo) bool {
	return len(t.Key) == 1 && isRowidName(t, t.Key[0])
}

// isRowidName reports whether name is one of the rowid's names that no
// column of t takes.
func isRowidName(t *engine.TableInfo, name string) bool {
	for _, c := range t.Columns {
		if strings.EqualFold(c, name) {
			return false
		}
	}
	for _, n := range rowidNames {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// liteDefinition reads the table's CREATE TABLE text — a table declaring
// ON CONFLICT REPLACE may delete other rows inside SQLite, unseen, on INSERT
// and UPDATE — and whether triggers of the database's own (or the
// application's TEMP ones) may write other tables when it changes.
func liteDefinition(ctx context.Context, c *engine.Session, t *engine.TableInfo, ext *liteTable) error {
	schema := sqlstmt.QuoteIdent(t.Schema)
	rows, err := c.QueryAll(ctx, `SELECT (SELECT sql FROM `+schema+`.sqlite_schema WHERE type = 'table' AND name = ?1),
		(SELECT count(*) FROM `+schema+`.sqlite_schema WHERE type = 'trigger' AND (?2 <> 'temp' OR name NOT LIKE '\_sqa\_%' ESCAPE '\')) +
		(SELECT count(*) FROM temp.sqlite_schema WHERE type = 'trigger' AND name NOT LIKE '\_sqa\_%' ESCAPE '\' AND ?2 <> 'temp'),
		(SELECT count(*) FROM `+schema+`.sqlite_schema WHERE type = 'trigger' AND tbl_name = ?1 COLLATE NOCASE AND (?2 <> 'temp' OR name NOT LIKE '\_sqa\_%' ESCAPE '\')) +
		(SELECT count(*) FROM temp.sqlite_schema WHERE type = 'trigger' AND tbl_name = ?1 COLLATE NOCASE AND name NOT LIKE '\_sqa\_%' ESCAPE '\' AND ?2 <> 'temp')`,
		engine.Named(t.Name, t.Schema)...)
	if err != nil || len(rows) == 0 {
		return err
	}
	ext.DDL = engine.AsString(rows[0][0])
	ext.Triggers = engine.AsInt(rows[0][1])
	t.Triggers = engine.AsInt(rows[0][2]) > 0
	toks := sqlstmt.Lex(ext.DDL, sqlstmt.StyleSQLite)
	for i := 0; i+2 < len(toks); i++ {
		if toks[i].Is(ext.DDL, "ON") && toks[i+1].Is(ext.DDL, "CONFLICT") && toks[i+2].Is(ext.DDL, "REPLACE") {
			t.Replaces = true
		}
	}
	return nil
}

// liteChildren reads the foreign keys of main-schema tables that reference
// t with an action that changes the referencing rows.
func liteChildren(ctx context.Context, c *engine.Session, t *engine.TableInfo) error {
	rows, err := c.QueryAll(ctx, `SELECT m.name, f.id, f."from", f."to", f.on_delete, f.on_update
		FROM sqlite_schema AS m, pragma_foreign_key_list(m.name) AS f
		WHERE m.type = 'table' AND f."table" = ?1 COLLATE NOCASE ORDER BY m.name, f.id, f.seq`, engine.Named(t.Name)...)
	if err != nil {
		return err
	}
	changes := func(action string) bool {
		switch strings.ToUpper(action) {
		case "CASCADE", "SET NULL", "SET DEFAULT":
			return true
		}
		return false
	}
	var last string
	for _, r := range rows {
		id := engine.AsString(r[0]) + "\x00" + engine.AsString(r[1])
		if id != last {
			last = id
			fk := engine.ChildFK{Table: sqlstmt.TableRef{Schema: "main", Name: engine.AsString(r[0])}, Display: engine.AsString(r[0]),
				OnDelete: changes(engine.AsString(r[4])), OnUpdate: changes(engine.AsString(r[5]))}
			t.Children = append(t.Children, fk)
		}
		fk := &t.Children[len(t.Children)-1]
		to := engine.AsString(r[3])
		if to == "" && len(fk.Parent) < len(t.Key) { // the parent's primary key
			to = t.Key[len(fk.Parent)]
		}
		fk.Cols, fk.Parent = append(fk.Cols, engine.AsString(r[2])), append(fk.Parent, to)
	}
	return nil
}
