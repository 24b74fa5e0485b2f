package sqlaudit

import (
	"context"
	"encoding/json"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
	"strings"
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
func pgChildren(ctx context.Context, c *conn, t *tableInfo) error {
	rows, err := c.queryAll(ctx, pgChildrenQuery, named(t.oid)...)
	if err != nil {
		return err
	}
	for _, r := range rows {
		fk := childFK{table: sqlstmt.TableRef{Schema: asString(r[0]), Name: asString(r[1])}}
		fk.display = fk.table.Schema + "." + fk.table.Name
		if b, _ := r[2].(bool); b || asString(r[2]) == "t" {
			fk.display = fk.table.Name
		}
		fk.delAction, fk.updAction = pgAction(asString(r[3])), pgAction(asString(r[4]))
		fk.onDelete, fk.onUpdate = fk.delAction != 0, fk.updAction != 0
		var parent [][2]string
		if err := json.Unmarshal([]byte(asString(r[5])), &fk.cols); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(asString(r[6])), &parent); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(asString(r[7])), &fk.setCols); err != nil {
			return err
		}
		fk.partitioned, _ = r[8].(bool)
		fk.partitioned = fk.partitioned || asString(r[8]) == "t"
		for _, p := range parent {
			fk.parent, fk.types = append(fk.parent, p[0]), append(fk.types, p[1])
		}
		t.children = append(t.children, fk)
	}
	return nil
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
func pgCascadeCheck(ex *execution, t pgTargetRef) string {
	var checks []string
	for _, fk := range ex.cascadeChecks {
		var match, changed []string
		for i, col := range fk.cols {
			p := sqlstmt.QuoteLiteral(fk.parent[i], true)
			match = append(match, "_sqa_c."+sqlstmt.QuoteIdent(col)+" = (w._sqa_old->>"+p+")::"+fk.types[i])
			changed = append(changed, "(w._sqa_old->"+p+")::text IS DISTINCT FROM (w._sqa_new->"+p+")::text")
		}
		cond := "EXISTS (SELECT 1 FROM " + fk.table.Spelled() + " AS _sqa_c WHERE " + strings.Join(match, " AND ") + ")"
		if ex.a.Kind == sqlstmt.Update {
			cond = "(" + strings.Join(changed, " OR ") + ") AND " + cond
		}
		checks = append(checks, "CASE WHEN "+cond+" THEN CAST("+
			sqlstmt.QuoteLiteral(cascadeMessage+" "+fk.display+" ", true)+" || left(w._sqa_old::text, 0) AS integer) = 0 ELSE true END")
	}
	if len(checks) == 0 {
		return ""
	}
	return " AND " + strings.Join(checks, " AND ")
}

// cascadeMessage starts the error of a statement refused because a
// foreign-key action would change rows the wrapper cannot perform itself.
const cascadeMessage = "sqlaudit: a foreign-key action would change rows of"
