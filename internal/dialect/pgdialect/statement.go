package pgdialect

import (
	"strconv"
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// pgStatement builds the one statement that runs ex's write and its records:
//
//	WITH [the caller's CTEs,] _sqa_w AS (<the write, returning row images as jsonb>),
//	     _sqa_a AS (INSERT INTO audit_log … SELECT … FROM _sqa_w)
//	SELECT <count, or the caller's RETURNING list> FROM _sqa_w
//
// or, when every row the write changes gets a record (pgRecordsCount),
//
//	WITH [the caller's CTEs,] _sqa_w AS (<the write>) INSERT INTO audit_log … SELECT … FROM _sqa_w
//
// whose count of records is the write's: the rows are read once.
func pgStatement(ex *pgExec) string {
	a := ex.Stmt
	t := pgTarget(ex)
	var b strings.Builder
	b.WriteString("WITH ")
	if ex.cascade != nil && ex.cascade.closure != nil && a.With == "" {
		b.WriteString("RECURSIVE ") // the descendants of the deleted rows (pgClosureCTEs)
	}
	if a.With != "" {
		b.WriteString(a.With + ", ")
	}
	b.WriteString("_sqa_w AS (" + pgWrite(ex, t) + ")")
	if pgRecordsCount(ex) {
		b.WriteString(" " + pgRecords(ex, t))
		return b.String()
	}
	if ex.Table.Audited {
		b.WriteString(", _sqa_a AS (" + pgRecords(ex, t) + ")")
	}
	check := ""
	if ex.cascade != nil {
		b.WriteString(pgCascadeCTEs(ex, ex.cascade))
		check = " WHERE (SELECT _sqa_ok FROM _sqa_chk)"
	}
	switch {
	case !ex.WantRows:
		b.WriteString(" SELECT count(*) FROM _sqa_w" + check)
	case pgInnerReturning(ex): // the caller's columns, then the images pgExecute hides
		b.WriteString(" SELECT * FROM _sqa_w" + check)
	case a.Returning != "":
		b.WriteString(" SELECT " + a.Returning + " FROM (SELECT (_sqa_row).* FROM _sqa_w) AS " + t.ref + check)
	case check != "":
		b.WriteString(" SELECT FROM _sqa_w WHERE NOT (SELECT _sqa_ok FROM _sqa_chk)")
	default:
		b.WriteString(" SELECT FROM _sqa_w WHERE false")
	}
	return b.String()
}

// pgRecordsCount reports whether the records' INSERT counts the write's
// rows, and so can be the statement itself: a plain DELETE or INSERT of an
// audited table records every row it changes, when no foreign-key action
// adds statements and the caller wants no rows.
func pgRecordsCount(ex *pgExec) bool {
	return pgTypedKeys(ex) && !ex.WantRows
}

// pgTypedKeys reports whether the write returns its key columns as they
// are typed, beside the row image, for the records' row keys: a plain
// DELETE or INSERT of an audited table without foreign-key actions or
// their checks (whose statements read keys from images). A key column renamed or dropped by
// another client then fails the statement when the server re-plans it
// (pgError), as a lookup in the image could not.
func pgTypedKeys(ex *pgExec) bool {
	a := ex.Stmt
	return (a.Kind == sqlstmt.Delete || a.Kind == sqlstmt.Insert && !a.Upsert) && ex.Table.Audited && ex.cascade == nil && len(ex.checks) == 0
}

// pgKeyReturning is the typed key columns the write returns (pgTypedKeys),
// each followed by ", ".
func pgKeyReturning(ex *pgExec, t pgTargetRef) string {
	if !pgTypedKeys(ex) {
		return ""
	}
	var b strings.Builder
	for i, k := range ex.Table.Key {
		b.WriteString(t.ref + "." + sqlstmt.QuoteIdent(k) + " AS _sqa_k" + strconv.Itoa(i) + ", ")
	}
	return b.String()
}

// pgTargetRef is how the rewritten statement names the target table.
type pgTargetRef struct {
	spelled string // the table as the statement names it, quoted
	rel     string // [ONLY] spelled [AS alias]
	ref     string // the alias, or the table name: what column references qualify with
	image   string // the jsonb row image the record's key is taken from
}

func pgTarget(ex *pgExec) pgTargetRef {
	a, t := ex.Stmt, ex.Table
	r := pgTargetRef{spelled: a.Table.Spelled(), ref: sqlstmt.QuoteIdent(t.Name), image: "w._sqa_old"}
	r.rel = r.spelled
	if a.Table.Only {
		r.rel = "ONLY " + r.rel
	}
	if a.Table.Alias != "" {
		r.ref = sqlstmt.QuoteIdent(a.Table.Alias)
		r.rel += " AS " + r.ref
	}
	switch {
	case a.Kind == sqlstmt.Merge, a.Upsert:
		r.image = "coalesce(w._sqa_old, w._sqa_new)"
	case a.Kind == sqlstmt.Insert:
		r.image = "w._sqa_new"
	}
	return r
}

// pgWrite is the caller's write, rewritten to return its row images. Before
// PostgreSQL 18 an UPDATE is joined by key to the rows its predicate
// selects, locked, so the old image is the version the UPDATE overwrites;
// from 18 on RETURNING OLD says it (oldnew.go).
func pgWrite(ex *pgExec, t pgTargetRef) string {
	a := ex.Stmt
	if a.Kind == sqlstmt.Merge || (a.Kind == sqlstmt.Update || a.Upsert) && pgOldNew(ex) {
		return pgOldNewWrite(ex, t)
	}
	row, ret := "", " RETURNING "
	switch {
	case pgInnerReturning(ex):
		ret += a.Returning + ", " // first, so that the joined tables resolve
	case ex.WantRows && a.Returning != "":
		row = ", ROW(" + t.ref + ".*)::" + t.spelled + " AS _sqa_row"
	}
	where := ""
	if a.Where != "" {
		where = " WHERE " + a.Where
	}
	switch a.Kind {
	case sqlstmt.Delete:
		using := ""
		if a.From != "" {
			using = " USING " + a.From
		}
		return "DELETE FROM " + t.rel + using + where + ret + pgKeyReturning(ex, t) + "to_jsonb(" + t.ref + ".*) AS _sqa_old" + row
	case sqlstmt.Insert:
		into := "INSERT INTO " + strings.TrimPrefix(t.rel, "ONLY ") + " "
		if a.Upsert {
			return into + pgUpsertBody(a, t) + ret + "to_jsonb(" + t.ref + ".*) AS _sqa_new, " + pgUpsertOld + row
		}
		return into + a.InsertBody + ret + pgKeyReturning(ex, t) + "to_jsonb(" + t.ref + ".*) AS _sqa_new" + row
	}
	sel, join, images := pgUpdateImages(ex, t)
	selected, from := where, ""
	if a.From != "" {
		// The rows the join selects, each once: FOR UPDATE cannot take DISTINCT.
		selected = " WHERE EXISTS (SELECT 1 FROM " + a.From + where + ")"
		from = a.From + ", "
	}
	// The predicate runs once, in the locked subquery: the UPDATE changes
	// exactly the rows it locked, so a volatile predicate (random(),
	// nextval(), a subquery ordered by random()) decides once, as in the
	// plain statement. Joined tables need it again to bind their rows.
	cond := strings.Join(join, " AND ")
	if a.From != "" && a.Where != "" {
		cond += " AND (" + a.Where + ")"
	}
	return "UPDATE " + t.rel + " SET " + a.Set + " FROM " + from + "(SELECT " + strings.Join(sel, ", ") +
		" FROM " + t.rel + selected + " FOR UPDATE OF " + t.ref + ") AS _sqa_o WHERE " + cond + ret + images + row
}
