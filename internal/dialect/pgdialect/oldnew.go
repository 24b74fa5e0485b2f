package pgdialect

import (
	"strconv"
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// From PostgreSQL 18 on, RETURNING names the row a write replaced (OLD)
// beside the row it wrote (NEW): the version the statement actually
// overwrote after waiting for a concurrent writer and re-checking its
// predicate, in the same statement that changes it. There UPDATE, upserts,
// UPDATE … FROM and MERGE read their old images that way — no locked
// self-join, the predicate and the joins evaluated once — and DELETE and
// INSERT as before.

// pgOldNewVersion is the first server version with RETURNING OLD/NEW.
const pgOldNewVersion = 180000

// pgOldNewTriggerFix is the first version whose RETURNING OLD is right for a
// table with a BEFORE UPDATE row trigger that meets a concurrent update
// ("Fix RETURNING OLD with BEFORE UPDATE trigger and concurrent update",
// committed after 18.4 and released in 18.5 or 18.6: the later is assumed).
const pgOldNewTriggerFix = 180006

// pgOldNew reports whether ex's write reads its old image with RETURNING
// OLD. Writes whose foreign-key actions the statement performs keep their
// locked self-join: the lock statements that precede them need it.
func pgOldNew(ex *pgExec) bool {
	v := pgt(ex.Table).Version
	switch {
	case v < pgOldNewVersion || ex.cascade != nil:
		return false
	case pgt(ex.Table).BeforeUpdate && v < pgOldNewTriggerFix:
		return false
	}
	return true
}

// pgInnerReturning: the caller wants RETURNING rows whose list must be
// evaluated inside the write — it may name joined tables (UPDATE … FROM,
// DELETE … USING) or, from PostgreSQL 18 on, old and new. The write then
// returns the caller's list first and its own columns after it, which
// pgExecute hides (pgHidden).
func pgInnerReturning(ex *pgExec) bool {
	a := ex.Stmt
	return ex.WantRows && a.Returning != "" && (a.From != "" || pgOldNew(ex) || a.Kind == sqlstmt.Merge)
}

// pgHidden is the number of the write's own columns after the caller's
// RETURNING list.
func pgHidden(ex *pgExec) int {
	a := ex.Stmt
	switch {
	case a.Kind == sqlstmt.Merge:
		return 3 // _sqa_act, _sqa_old, _sqa_new
	case a.Kind == sqlstmt.Update, a.Upsert:
		return 2 // _sqa_old, _sqa_new
	case pgTypedKeys(ex):
		return 1 + len(ex.Table.Key) // _sqa_k…, the image
	}
	return 1
}

// pgOldNewNames are how the write's RETURNING names OLD and NEW: as old and
// new, unless a table of the statement is called that (its alias, or a word
// of its FROM list) — then WITH (OLD AS …, NEW AS …) renames them.
func pgOldNewNames(a *sqlstmt.Analysis) (with, o, n string) {
	taken := strings.EqualFold(a.Table.Alias, "old") || strings.EqualFold(a.Table.Alias, "new") ||
		strings.EqualFold(a.Table.Name, "old") || strings.EqualFold(a.Table.Name, "new")
	for _, tok := range sqlstmt.Lex(a.From, sqlstmt.StylePostgres) {
		taken = taken || tok.Is(a.From, "old") || tok.Is(a.From, "new")
	}
	if taken {
		return "WITH (OLD AS _sqa_po, NEW AS _sqa_pn) ", "_sqa_po", "_sqa_pn"
	}
	return "", "old", "new"
}

// pgOldNewWrite is the caller's UPDATE, upsert or MERGE returning its old
// and new images through OLD and NEW (typed columns for the typed UPDATE,
// jsonb images otherwise), after the caller's own list when it is evaluated
// inside.
func pgOldNewWrite(ex *pgExec, t pgTargetRef) string {
	a := ex.Stmt
	with, o, n := pgOldNewNames(a)
	ret := " RETURNING " + with
	if pgInnerReturning(ex) {
		ret += a.Returning + ", "
	}
	images := "to_jsonb(" + o + ") AS _sqa_old, to_jsonb(" + n + ") AS _sqa_new"
	switch a.Kind {
	case sqlstmt.Merge:
		return a.MergeBody + ret + "merge_action() AS _sqa_act, " + images
	case sqlstmt.Insert: // an upsert: OLD is null for an inserted row
		return "INSERT INTO " + strings.TrimPrefix(t.rel, "ONLY ") + " " + a.InsertBody + ret +
			"to_jsonb(" + n + ") AS _sqa_new, to_jsonb(" + o + ") AS _sqa_old"
	}
	if pgTypedUpdate(ex) {
		cols := make([]string, 0, 2*len(ex.Table.Columns))
		for _, side := range []struct{ rel, prefix string }{{o, "_sqa_o"}, {n, "_sqa_n"}} {
			for i, c := range ex.Table.Columns {
				cols = append(cols, side.rel+"."+sqlstmt.QuoteIdent(c)+" AS "+side.prefix+strconv.Itoa(i))
			}
		}
		images = strings.Join(cols, ", ")
	}
	q := "UPDATE " + t.rel + " SET " + a.Set
	if a.From != "" {
		q += " FROM " + a.From
	}
	if a.Where != "" {
		q += " WHERE " + a.Where
	}
	return q + ret + images
}

// pgMergeRecords is pgNodeRecords for a MERGE: each row recorded as the
// INSERT, UPDATE or DELETE its WHEN clause made of it (merge_action()).
func pgMergeRecords(ex *pgExec) string {
	ti := ex.Table
	values := "CASE w._sqa_act WHEN 'INSERT' THEN NULL WHEN 'DELETE' THEN " + pgRedactRow(ti, "w._sqa_old") + " ELSE d.o END, " +
		"CASE w._sqa_act WHEN 'INSERT' THEN " + pgRedactRow(ti, "w._sqa_new") + " WHEN 'DELETE' THEN NULL ELSE d.n END"
	return pgRecordsInsert(ex, ti, "w._sqa_act", pgRowKey(ti, "coalesce(w._sqa_old, w._sqa_new)"), values) +
		" FROM _sqa_w w LEFT JOIN LATERAL " + pgDiff(ti, "w._sqa_old") + " ON true"
}
