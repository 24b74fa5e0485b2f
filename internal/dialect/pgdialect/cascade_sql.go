package pgdialect

import (
	"strconv"
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// The rewritten statement of a write with foreign-key actions performs the
// actions itself, one data-modifying WITH query per child node, each
// returning its row images like the statement's own write (_sqa_w):
//
//	_sqa_c1 AS (DELETE FROM ONLY kids AS _sqa_t USING (<parent rows>) AS _sqa_p
//	            WHERE _sqa_t.parent_id = _sqa_p._sqa_v0 RETURNING to_jsonb(_sqa_t.*) AS _sqa_old),
//	_sqa_a1 AS (INSERT INTO audit_log … FROM _sqa_c1 …),
//
// When the RI triggers run at the end of the statement, the rows they would
// change are gone or changed already. _sqa_chk fails the statement unless
// every row whose change fires an action was locked beforehand (see
// pgRunCascade).

// pgCascadeCTEs returns the WITH queries of the child nodes and their
// records, each starting with ", ".
func pgCascadeCTEs(ex *pgExec, cs *pgCascade) string {
	var b strings.Builder
	if cs.closure != nil {
		b.WriteString(pgClosureCTEs(ex, cs.closure))
	}
	for i := 1; i < len(cs.nodes); i++ {
		n := &cs.nodes[i]
		b.WriteString(", " + n.cte + " AS (" + pgChildWrite(cs, n) + ")")
		if n.t.Audited {
			kind := sqlstmt.Delete
			if n.update {
				kind = sqlstmt.Update
			}
			b.WriteString(", _sqa_a" + strconv.Itoa(i) + " AS (" + pgNodeRecords(ex, n.t, n.cte, kind, "w._sqa_old") + " WHERE " + pgChanged(kind) + ")")
		}
	}
	b.WriteString(", _sqa_chk AS (" + pgLockedCheck(ex, cs) + ")")
	return b.String()
}

// pgChanged is the records' condition: an UPDATE records rows with a
// changed column only.
func pgChanged(kind sqlstmt.Kind) string {
	if kind == sqlstmt.Update {
		return "d.o IS NOT NULL"
	}
	return "true"
}

// pgParentRows selects, from the parent node's images, the rows whose change
// fires n's action — every deleted row, or an updated row whose referenced
// columns changed (compared as rendered, as the RI trigger compares
// images) — with the referenced values before (_sqa_vI) and after (_sqa_nI).
func pgParentRows(cs *pgCascade, n *pgNode) string {
	p := &cs.nodes[n.parent]
	var cols []string
	for j, ref := range n.fk.Parent {
		l := sqlstmt.QuoteLiteral(ref, true)
		cols = append(cols, "(w._sqa_old->>"+l+")::"+pgfk(n.fk).Types[j]+" AS _sqa_v"+strconv.Itoa(j))
		if p.update {
			cols = append(cols, "(w._sqa_new->>"+l+")::"+pgfk(n.fk).Types[j]+" AS _sqa_n"+strconv.Itoa(j))
		}
	}
	return "SELECT " + strings.Join(cols, ", ") + " FROM " + pgNodeRows(cs, n.parent) + " AS w WHERE " + pgFires(p, []*engine.ChildFK{n.fk})
}

// pgNodeRows is the WITH query of node i's row images: for the root of a
// table that references itself, its deleted rows and their descendants.
func pgNodeRows(cs *pgCascade, i int) string {
	if i == 0 && cs.closure != nil {
		return "(SELECT _sqa_old FROM _sqa_w UNION ALL SELECT _sqa_old FROM _sqa_x)"
	}
	return cs.nodes[i].cte
}

// pgClosureCTEs delete the descendants of the rows the statement deletes
// from a table with an ON DELETE CASCADE foreign key to itself: _sqa_xd
// walks the tree down from them (UNION: a cycle in the data ends the walk),
// _sqa_x deletes every row it reaches that the statement itself does not
// delete (waiting for _sqa_w, so no row is deleted twice and RowsAffected
// stays the statement's).
func pgClosureCTEs(ex *pgExec, fk *engine.ChildFK) string {
	rel := "ONLY " + fk.Table.Spelled()
	if pgfk(fk).Partitioned {
		rel = fk.Table.Spelled()
	}
	var cols, base, step, roots, join []string
	for j, k := range ex.Table.Key {
		cols = append(cols, "_sqa_t."+sqlstmt.QuoteIdent(k)+" AS _sqa_k"+strconv.Itoa(j))
		join = append(join, "_sqa_t."+sqlstmt.QuoteIdent(k)+" = d._sqa_k"+strconv.Itoa(j))
	}
	for j, r := range fk.Parent {
		cols = append(cols, "_sqa_t."+sqlstmt.QuoteIdent(r)+" AS _sqa_r"+strconv.Itoa(j))
		base = append(base, "_sqa_t."+sqlstmt.QuoteIdent(fk.Cols[j]))
		roots = append(roots, "(w._sqa_old->>"+sqlstmt.QuoteLiteral(r, true)+")::"+pgfk(fk).Types[j])
		step = append(step, "_sqa_t."+sqlstmt.QuoteIdent(fk.Cols[j])+" = d._sqa_r"+strconv.Itoa(j))
	}
	sel := "SELECT " + strings.Join(cols, ", ") + " FROM " + rel + " AS _sqa_t"
	q := ", _sqa_xd AS (" + sel + " WHERE (" + strings.Join(base, ", ") + ") IN (SELECT " + strings.Join(roots, ", ") + " FROM _sqa_w AS w)" +
		" UNION " + sel + " JOIN _sqa_xd AS d ON " + strings.Join(step, " AND ") + ")"
	q += ", _sqa_x AS (DELETE FROM " + rel + " AS _sqa_t USING _sqa_xd AS d WHERE " + strings.Join(join, " AND ") +
		" AND NOT EXISTS (SELECT 1 FROM _sqa_w AS w WHERE " + pgRowKey(ex.Table, "w._sqa_old") + " = " + pgRowKey(ex.Table, "to_jsonb(_sqa_t.*)") +
		") RETURNING to_jsonb(_sqa_t.*) AS _sqa_old)"
	if ex.Table.Audited {
		q += ", _sqa_ax AS (" + pgNodeRecords(ex, ex.Table, "_sqa_x", sqlstmt.Delete, "w._sqa_old") + " WHERE true)"
	}
	return q
}

// pgFires is the condition on a row image w of node p under which a change
// of the row fires one of the actions of fks.
func pgFires(p *pgNode, fks []*engine.ChildFK) string {
	if !p.update {
		return "true"
	}
	var changed []string
	for _, fk := range fks {
		for _, ref := range fk.Parent {
			l := sqlstmt.QuoteLiteral(ref, true)
			changed = append(changed, "(w._sqa_old->"+l+")::text IS DISTINCT FROM (w._sqa_new->"+l+")::text")
		}
	}
	return "(" + strings.Join(changed, " OR ") + ")"
}

// pgChildWrite is the action on node n's table. A deleted child is returned
// as deleted; an updated child is joined by key to its rows locked in a
// subquery (as the statement's own UPDATE is) so that its old image is the
// version the action overwrites.
func pgChildWrite(cs *pgCascade, n *pgNode) string {
	var match, recheck []string
	for j, col := range n.fk.Cols {
		v := "_sqa_v" + strconv.Itoa(j)
		match = append(match, "_sqa_t."+sqlstmt.QuoteIdent(col)+" = _sqa_p."+v)
		recheck = append(recheck, "_sqa_t."+sqlstmt.QuoteIdent(col)+" = _sqa_o."+v)
	}
	parents := "(" + pgParentRows(cs, n) + ") AS _sqa_p"
	if !n.update {
		return "DELETE FROM " + n.rel() + " AS _sqa_t USING " + parents + " WHERE " + strings.Join(match, " AND ") +
			" RETURNING to_jsonb(_sqa_t.*) AS _sqa_old"
	}
	var sel, sets []string
	for j, k := range n.t.Key {
		sel = append(sel, "_sqa_t."+sqlstmt.QuoteIdent(k)+" AS _sqa_k"+strconv.Itoa(j))
		recheck = append(recheck, "_sqa_t."+sqlstmt.QuoteIdent(k)+" = _sqa_o._sqa_k"+strconv.Itoa(j))
	}
	for j := range n.fk.Cols {
		sel = append(sel, "_sqa_p._sqa_v"+strconv.Itoa(j))
		if n.action == 'c' {
			sel = append(sel, "_sqa_p._sqa_n"+strconv.Itoa(j))
		}
	}
	for _, col := range n.sets {
		switch n.action {
		case 'n':
			sets = append(sets, sqlstmt.QuoteIdent(col)+" = NULL")
		case 'd':
			sets = append(sets, sqlstmt.QuoteIdent(col)+" = DEFAULT")
		default:
			sets = append(sets, sqlstmt.QuoteIdent(col)+" = _sqa_o._sqa_n"+strconv.Itoa(slicesIndex(n.fk.Cols, col)))
		}
	}
	if n.self { // a row the statement deletes is not also updated (waiting for _sqa_w decides which)
		match = append(match, "NOT EXISTS (SELECT 1 FROM _sqa_w AS w WHERE "+pgRowKey(n.t, "w._sqa_old")+" = "+pgRowKey(n.t, "to_jsonb(_sqa_t.*)")+")")
	}
	return "UPDATE " + n.rel() + " AS _sqa_t SET " + strings.Join(sets, ", ") + " FROM (SELECT " + strings.Join(sel, ", ") +
		", to_jsonb(_sqa_t.*) AS _sqa_old FROM " + n.rel() + " AS _sqa_t JOIN " + parents + " ON " + strings.Join(match, " AND ") +
		" FOR UPDATE OF _sqa_t) AS _sqa_o WHERE " + strings.Join(recheck, " AND ") +
		" RETURNING _sqa_o._sqa_old, to_jsonb(_sqa_t.*) AS _sqa_new"
}

func slicesIndex(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// pgLockedCheck fails the statement (nothing is written) when a row whose
// change fires an action was not among the rows the locking statement
// locked ($L, by node): it came to match after that statement, and a
// concurrent transaction may have given it a child the statement cannot see
// but the RI trigger would change. Running the statement again succeeds.
func pgLockedCheck(ex *pgExec, cs *pgCascade) string {
	param := "$" + strconv.Itoa(len(ex.Args)+3) + "::jsonb"
	var counts []string
	for i := range cs.nodes {
		n := &cs.nodes[i]
		if !n.source {
			continue
		}
		var fks []*engine.ChildFK
		for j := range cs.nodes {
			if cs.nodes[j].parent == i {
				fks = append(fks, cs.nodes[j].fk)
			}
		}
		counts = append(counts, "(SELECT count(*) FROM "+pgNodeRows(cs, i)+" AS w LEFT JOIN jsonb_array_elements("+param+"->'"+strconv.Itoa(i)+
			"') AS _sqa_e ON _sqa_e.value->'k' = "+pgRowKey(n.t, "w._sqa_old")+" WHERE _sqa_e.value IS NULL AND "+pgFires(n, fks)+")")
	}
	return "SELECT CASE WHEN s.n = 0 THEN true ELSE CAST(" + sqlstmt.QuoteLiteral(cascadeConflictMessage+" ", true) +
		" || s.n AS boolean) END AS _sqa_ok FROM (SELECT " + strings.Join(counts, " + ") + " AS n) AS s"
}

// cascadeConflictMessage starts the error of a write whose foreign-key
// actions could not be recorded exactly; the wrapper turns it into
// ErrConflict.
const cascadeConflictMessage = "sqlaudit: rows whose foreign-key actions fire came to match the statement after it locked its rows; retry the statement. Rows"
