package sqlitedialect

import (
	"context"
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// SQLite runs foreign-key actions (with PRAGMA foreign_keys=ON) inside the
// statement; the audited tables' triggers record the rows they change. The
// foreign keys are read so that a write to an excluded parent that may
// cascade into an audited table runs with a live context too, and so that
// DROP TABLE, which deletes the rows without firing triggers but with the
// actions, is refused while it would change audited rows.

// BeforeDrop refuses DROP TABLE of a parent whose rows have children in an
// audited table that a foreign-key action would change: SQLite deletes the
// parent's rows first.
func (Dialect) BeforeDrop(ctx context.Context, c *engine.Session, t *engine.TableInfo) error {
	var checks []string
	for _, fk := range t.Children {
		if !fk.Audited || !fk.OnDelete {
			continue
		}
		var match []string
		for i, col := range fk.Cols {
			match = append(match, "c."+sqlstmt.QuoteIdent(col)+" = p."+sqlstmt.QuoteIdent(fk.Parent[i]))
		}
		checks = append(checks, "EXISTS (SELECT 1 FROM "+sqlstmt.QuoteIdent(fk.Table.Schema)+"."+sqlstmt.QuoteIdent(fk.Table.Name)+
			" AS c JOIN "+t.Quoted+" AS p ON "+strings.Join(match, " AND ")+")")
	}
	if len(checks) == 0 {
		return nil
	}
	found, err := c.QueryAll(ctx, "SELECT (SELECT foreign_keys FROM pragma_foreign_keys) AND ("+strings.Join(checks, " OR ")+")")
	if err != nil || found[0][0] != int64(1) {
		return err
	}
	return engine.Refuse("DROP TABLE "+t.Display, t.Display, "dropping the table deletes its rows first, and a foreign-key action would change rows of an audited table; delete the children first")
}
