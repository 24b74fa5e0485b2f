package sqlaudit

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// Foreign-key actions (ON DELETE CASCADE / SET NULL / SET DEFAULT, ON UPDATE
// CASCADE / SET NULL / SET DEFAULT) change rows of other tables inside
// PostgreSQL, where the wrapper cannot see them. The wrapper performs them
// itself instead, as data-modifying WITH queries of the same statement that
// return their row images (postgres_cascade_sql.go), so the RI triggers then
// find nothing left to do; see pgRunCascade for how concurrent writers are
// kept from adding rows those triggers would still change unseen.

const pgChildrenQuery = `SELECT cn.nspname, cc.relname, cn.nspname = 'public', con.confdeltype::text, con.confupdtype::text,
  (SELECT json_agg(a.attname ORDER BY k.ord) FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum)::text,
  (SELECT json_agg(json_build_array(a.attname, format_type(a.atttypid, a.atttypmod)) ORDER BY k.ord)
     FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum)::text,
  coalesce((SELECT json_agg(a.attname ORDER BY k.ord) FROM unnest(con.confdelsetcols) WITH ORDINALITY AS k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum), '[]')::text,
  cc.relkind = 'p'
FROM pg_constraint con JOIN pg_class cc ON cc.oid = con.conrelid JOIN pg_namespace cn ON cn.oid = cc.relnamespace
WHERE con.contype = 'f' AND con.confrelid = $1::bigint::oid
  AND (con.confdeltype IN ('c', 'n', 'd') OR con.confupdtype IN ('c', 'n', 'd'))
ORDER BY con.conname, con.oid`

// pgChildren reads the foreign keys whose actions change other tables' rows
// when rows of t are deleted or their referenced columns updated.
func pgChildren(ctx context.Context, c *engine.Session, t *engine.TableInfo) error {
	rows, err := c.QueryAll(ctx, pgChildrenQuery, engine.Named(pgt(t).OID)...)
	if err != nil {
		return err
	}
	for _, r := range rows {
		fk := engine.ChildFK{Table: sqlstmt.TableRef{Schema: engine.AsString(r[0]), Name: engine.AsString(r[1])}}
		fk.Display = fk.Table.Schema + "." + fk.Table.Name
		if pgBool(r[2]) {
			fk.Display = fk.Table.Name
		}
		var ext pgFK
		ext.DelAction, ext.UpdAction = pgAction(engine.AsString(r[3])), pgAction(engine.AsString(r[4]))
		fk.OnDelete, fk.OnUpdate = ext.DelAction != 0, ext.UpdAction != 0
		var parent [][2]string
		if err := json.Unmarshal([]byte(engine.AsString(r[5])), &fk.Cols); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(engine.AsString(r[6])), &parent); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(engine.AsString(r[7])), &ext.SetCols); err != nil {
			return err
		}
		ext.Partitioned = pgBool(r[8])
		for _, p := range parent {
			fk.Parent, ext.Types = append(fk.Parent, p[0]), append(ext.Types, p[1])
		}
		fk.Ext = ext
		t.Children = append(t.Children, fk)
	}
	return nil
}

// pgFK is what the PostgreSQL dialect keeps of a foreign key beside the
// generic entry (ChildFK.Ext): the actions ('c' cascade, 'n' set null, 'd'
// set default, 0 none that changes rows), the referenced columns' types,
// the columns ON DELETE SET NULL (cols) assigns, and whether the
// referencing table is partitioned (the RI triggers then write it without
// ONLY).
type pgFK struct {
	DelAction, UpdAction byte
	Types                []string
	SetCols              []string
	Partitioned          bool
}

// pgfk is the PostgreSQL part of fk's entry.
func pgfk(fk *engine.ChildFK) pgFK {
	e, _ := fk.Ext.(pgFK)
	return e
}

// pgBool reads a boolean as lib/pq (bool) or pgx's text protocol ("t")
// returns it.
func pgBool(v any) bool {
	b, _ := v.(bool)
	return b || engine.AsString(v) == "t"
}

// pgAction maps pg_constraint's action codes to the ones that change rows:
// 'c' cascade, 'n' set null, 'd' set default; 0 for the others.
func pgAction(code string) byte {
	switch code {
	case "c", "n", "d":
		return code[0]
	}
	return 0
}

// pgCascadeCheck fails the statement (nothing is written) when an action
// the wrapper does not perform itself (ex.cascadeChecks: the statement's
// actions when pgCascadeTree refused them, or an ON UPDATE action whose
// referenced columns the SET does not assign) would change a row: for a
// DELETE when a written row has a child, for an UPDATE when a written row's
// referenced columns changed and it has a child.
func pgCascadeCheck(ex *pgExec, t pgTargetRef) string {
	var checks []string
	for _, fk := range ex.checks {
		var match, changed []string
		for i, col := range fk.Cols {
			p := sqlstmt.QuoteLiteral(fk.Parent[i], true)
			match = append(match, "_sqa_c."+sqlstmt.QuoteIdent(col)+" = (w._sqa_old->>"+p+")::"+pgfk(fk).Types[i])
			changed = append(changed, "(w._sqa_old->"+p+")::text IS DISTINCT FROM (w._sqa_new->"+p+")::text")
		}
		cond := "EXISTS (SELECT 1 FROM " + fk.Table.Spelled() + " AS _sqa_c WHERE " + strings.Join(match, " AND ") + ")"
		if ex.Stmt.Kind == sqlstmt.Update {
			cond = "(" + strings.Join(changed, " OR ") + ") AND " + cond
		}
		checks = append(checks, "CASE WHEN "+cond+" THEN CAST("+
			sqlstmt.QuoteLiteral(cascadeMessage+" "+fk.Display+" ", true)+" || left(w._sqa_old::text, 0) AS integer) = 0 ELSE true END")
	}
	if len(checks) == 0 {
		return ""
	}
	return " AND " + strings.Join(checks, " AND ")
}

// cascadeMessage starts the error of a statement refused because a
// foreign-key action would change rows the wrapper cannot perform itself.
const cascadeMessage = "sqlaudit: a foreign-key action would change rows of"
