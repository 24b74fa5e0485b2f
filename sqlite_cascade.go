package sqlaudit

import (
	"context"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
	"strings"
)

// SQLite runs foreign-key actions (with PRAGMA foreign_keys=ON) inside the
// statement; the audited tables' triggers record the rows they change. The
// foreign keys are read so that a write to an excluded parent that may
// cascade into an audited table runs with a live context too, and so that
// DROP TABLE, which deletes the rows without firing triggers but with the
// actions, is refused while it would change audited rows.

// liteChildren reads the foreign keys of main-schema tables that reference
// t with an action that changes the referencing rows.
func liteChildren(ctx context.Context, c *conn, t *tableInfo) error {
	rows, err := c.queryAll(ctx, `SELECT m.name, f.id, f."from", f."to", f.on_delete, f.on_update
		FROM sqlite_schema AS m, pragma_foreign_key_list(m.name) AS f
		WHERE m.type = 'table' AND f."table" = ?1 COLLATE NOCASE ORDER BY m.name, f.id, f.seq`, named(t.name)...)
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
		id := asString(r[0]) + "\x00" + asString(r[1])
		if id != last {
			last = id
			fk := childFK{table: sqlstmt.TableRef{Schema: "main", Name: asString(r[0])}, display: asString(r[0]),
				onDelete: changes(asString(r[4])), onUpdate: changes(asString(r[5]))}
			t.children = append(t.children, fk)
		}
		fk := &t.children[len(t.children)-1]
		to := asString(r[3])
		if to == "" && len(fk.parent) < len(t.key) { // the parent's primary key
			to = t.key[len(fk.parent)]
		}
		fk.cols, fk.parent = append(fk.cols, asString(r[2])), append(fk.parent, to)
	}
	return nil
}

// beforeDrop refuses DROP TABLE of a parent whose rows have children in an
// audited table that a foreign-key action would change: SQLite deletes the
// parent's rows first.
func (sqliteDialect) beforeDrop(ctx context.Context, c *conn, t *tableInfo) error {
	var checks []string
	for _, fk := range t.children {
		if !fk.audited || !fk.onDelete {
			continue
		}
		var match []string
		for i, col := range fk.cols {
			match = append(match, "c."+sqlstmt.QuoteIdent(col)+" = p."+sqlstmt.QuoteIdent(fk.parent[i]))
		}
		checks = append(checks, "EXISTS (SELECT 1 FROM "+sqlstmt.QuoteIdent(fk.table.Schema)+"."+sqlstmt.QuoteIdent(fk.table.Name)+
			" AS c JOIN "+t.quoted+" AS p ON "+strings.Join(match, " AND ")+")")
	}
	if len(checks) == 0 {
		return nil
	}
	found, err := c.queryAll(ctx, "SELECT (SELECT foreign_keys FROM pragma_foreign_keys) AND ("+strings.Join(checks, " OR ")+")")
	if err != nil || found[0][0] != int64(1) {
		return err
	}
	return stmtError("DROP TABLE "+t.display, t.display, "dropping the table deletes its rows first, and a foreign-key action would change rows of an audited table; delete the children first", ErrUnsupported)
}
