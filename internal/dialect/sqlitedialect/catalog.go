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
	Version int64 // the schema version the entry was read at
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
	if engine.AsString(rows[0][2]) != "table" {
		return t, nil // a view or virtual table: no key, refused as such
	}
	v, err := c.State.(*liteConn).schemaVersion(ctx)
	if err != nil {
		return nil, err
	}
	t.Ext = liteTable{Version: v}
	if err := liteColumns(ctx, c, t, rows[0][3] == int64(1)); err != nil {
		return nil, err
	}
	if err := liteConflictClauses(ctx, c, t); err != nil {
		return nil, err
	}
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
		t.Key = []string{"rowid"} // documented fallback: the implicit rowid
	}
	return nil
}

// liteConflictClauses notes a table that declares ON CONFLICT REPLACE: its
// INSERTs and UPDATEs may delete other rows inside SQLite, unseen.
func liteConflictClauses(ctx context.Context, c *engine.Session, t *engine.TableInfo) error {
	rows, err := c.QueryAll(ctx, `SELECT sql FROM `+sqlstmt.QuoteIdent(t.Schema)+`.sqlite_schema WHERE type = 'table' AND name = ?1`, engine.Named(t.Name)...)
	if err != nil || len(rows) == 0 {
		return err
	}
	ddl := engine.AsString(rows[0][0])
	toks := sqlstmt.Lex(ddl, sqlstmt.StyleSQLite)
	for i := 0; i+2 < len(toks); i++ {
		if toks[i].Is(ddl, "ON") && toks[i+1].Is(ddl, "CONFLICT") && toks[i+2].Is(ddl, "REPLACE") {
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
