package sqlaudit

import (
	"context"
	"encoding/json"
	"strings"
)

// Foreign-key actions (ON DELETE CASCADE / SET NULL / SET DEFAULT, ON UPDATE
// …) change rows of other tables inside PostgreSQL, where the wrapper
// cannot see them. Until they are recorded, a statement that would make
// such an action change a row of an audited table is refused; statements
// whose parent rows have no children run as usual.

const pgChildrenQuery = `SELECT cn.nspname, cc.relname, cn.nspname = 'public',
  con.confdeltype IN ('c', 'n', 'd'), con.confupdtype IN ('c', 'n', 'd'),
  (SELECT json_agg(a.attname ORDER BY k.ord) FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum)::text,
  (SELECT json_agg(json_build_array(a.attname, format_type(a.atttypid, a.atttypmod)) ORDER BY k.ord)
     FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum)::text
FROM pg_constraint con JOIN pg_class cc ON cc.oid = con.conrelid JOIN pg_namespace cn ON cn.oid = cc.relnamespace
WHERE con.contype = 'f' AND con.confrelid = $1::bigint::oid
  AND (con.confdeltype IN ('c', 'n', 'd') OR con.confupdtype IN ('c', 'n', 'd'))`

// pgChildren reads the foreign keys whose actions change other tables' rows
// when rows of t are deleted or their referenced columns updated.
func pgChildren(ctx context.Context, c *conn, t *tableInfo) error {
	rows, err := c.queryAll(ctx, pgChildrenQuery, named(t.oid)...)
	if err != nil {
		return err
	}
	for _, r := range rows {
		fk := childFK{table: tableRef{schema: asString(r[0]), name: asString(r[1])}}
		fk.display = fk.table.schema + "." + fk.table.name
		if b, _ := r[2].(bool); b {
			fk.display = fk.table.name
		}
		fk.onDelete, _ = r[3].(bool)
		fk.onUpdate, _ = r[4].(bool)
		var parent [][2]string
		if err := json.Unmarshal([]byte(asString(r[5])), &fk.cols); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(asString(r[6])), &parent); err != nil {
			return err
		}
		for _, p := range parent {
			fk.parent, fk.types = append(fk.parent, p[0]), append(fk.types, p[1])
		}
		t.children = append(t.children, fk)
	}
	return nil
}

// pgCascadeCheck fails the statement (nothing is written) when a written
// row has children in an audited table that a foreign-key action would
// change: for a DELETE any child, for an UPDATE children of a row whose
// referenced columns changed.
func pgCascadeCheck(ex *execution, t pgTargetRef) string {
	var checks []string
	for _, fk := range ex.t.children {
		if !fk.audited || ex.a.kind == kindDelete && !fk.onDelete || ex.a.kind == kindUpdate && !fk.onUpdate || ex.a.kind == kindInsert {
			continue
		}
		var match, changed []string
		for i, col := range fk.cols {
			p := quoteLiteral(fk.parent[i], true)
			match = append(match, "_sqa_c."+quoteIdent(col)+" = (w._sqa_old->>"+p+")::"+fk.types[i])
			changed = append(changed, "(w._sqa_old->"+p+") IS DISTINCT FROM (w._sqa_new->"+p+")")
		}
		cond := "EXISTS (SELECT 1 FROM " + fk.table.spelled() + " AS _sqa_c WHERE " + strings.Join(match, " AND ") + ")"
		if ex.a.kind == kindUpdate {
			cond = "(" + strings.Join(changed, " OR ") + ") AND " + cond
		}
		checks = append(checks, "CASE WHEN "+cond+" THEN CAST("+
			quoteLiteral(cascadeMessage+" "+fk.display+" ", true)+" || left(w._sqa_old::text, 0) AS integer) = 0 ELSE true END")
	}
	if len(checks) == 0 {
		return ""
	}
	return " AND " + strings.Join(checks, " AND ")
}

// cascadeMessage starts the error of a statement refused because a
// foreign-key action would change rows the wrapper cannot see.
const cascadeMessage = "sqlaudit: a foreign-key action would change rows of"
