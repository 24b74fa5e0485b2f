package pgdialect

import (
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// Foreign-key actions (ON DELETE CASCADE / SET NULL / SET DEFAULT, ON UPDATE
// CASCADE / SET NULL / SET DEFAULT) change rows of other tables inside
// PostgreSQL, where the wrapper cannot see them. The wrapper performs them
// itself instead, as data-modifying WITH queries of the same statement that
// return their row images (cascade_sql.go), so the RI triggers then
// find nothing left to do; see pgRunCascade for how concurrent writers are
// kept from adding rows those triggers would still change unseen.

// pgCascadeCheck fails the statement (nothing is written) when an action
// the wrapper does not perform itself (ex.checks: the statement's
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
