package sqlitedialect

import (
	"context"
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// VACUUM may renumber the rowids of every table without an INTEGER PRIMARY
// KEY. A table without a primary key is recorded by its rowid, so after
// such a VACUUM the records would name other rows: a VACUUM of a schema
// holding an audited one is refused (VACUUM INTO, which writes a copy,
// runs).

// isVacuumText reports a VACUUM that rewrites the database in place.
func isVacuumText(q string) bool {
	toks := sqlstmt.Lex(q, sqlstmt.StyleSQLite)
	if len(toks) == 0 || !toks[0].Is(q, "VACUUM") {
		return false
	}
	for _, t := range toks[1:] {
		if t.Is(q, "INTO") {
			return false
		}
	}
	return true
}

func isVacuum(a *sqlstmt.Analysis) bool { return a != nil && isVacuumText(a.Text) }

// beforeVacuum refuses a VACUUM of a schema with an audited table keyed by
// its rowid.
func (lc *liteConn) beforeVacuum(ctx context.Context, a *sqlstmt.Analysis) error {
	schema := "main"
	toks := sqlstmt.Lex(a.Text, sqlstmt.StyleSQLite)
	if len(toks) > 1 && (toks[1].Kind == sqlstmt.TokWord || toks[1].Kind == sqlstmt.TokIdent) {
		schema = strings.Trim(toks[1].Text(a.Text), "\"`[]")
	}
	names, err := lc.c.QueryAll(ctx, `SELECT name FROM pragma_table_list WHERE schema = ?1 COLLATE NOCASE AND type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`, engine.Named(schema)...)
	if err != nil {
		return err
	}
	for _, r := range names {
		t, err := lc.c.Table(ctx, sqlstmt.TableRef{Schema: schema, Name: engine.AsString(r[0])})
		if err != nil {
			return err
		}
		if t != nil && t.Audited && !t.IsAudit && isRowidAlias(t) {
			return engine.Fail(a.Text, t.Display, "VACUUM may renumber the rowids of tables without an INTEGER PRIMARY KEY, and this audited table is recorded by its rowid; give it a PRIMARY KEY, exclude it, or use VACUUM INTO", engine.Unsupported)
		}
	}
	return nil
}
