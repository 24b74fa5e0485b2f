package pgdialect

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// The records of a PostgreSQL write: one audit row per changed row, computed
// from the row images the rewritten statement returns, and the checks that
// fail the statement when they could not be exact.

// pgRecords inserts one record per row of _sqa_w; for an UPDATE only rows
// with a changed column, with the changed columns only. Values are compared
// as to_jsonb renders them, so 1.0 → 1.00 in a numeric column is a change
// (the stored value's scale changed) and key order in a json column is not.
func pgRecords(ex *pgExec, t pgTargetRef) string {
	a := ex.Stmt
	var q, changed string
	image := t.image
	switch {
	case a.Upsert:
		q, changed = pgUpsertRecords(ex), "w._sqa_old IS NULL OR d.o IS NOT NULL"
	case a.Kind == sqlstmt.Merge:
		image = t.image
		q, changed = pgMergeRecords(ex), "w._sqa_act <> 'UPDATE' OR d.o IS NOT NULL"
	case pgTypedUpdate(ex):
		return pgTypedRecords(ex, t)
	case pgTypedKeys(ex): // every row recorded, keyed by its typed key columns
		q = pgRecordsInsert(ex, ex.Table, "'"+strings.ToUpper(a.Kind.String())+"'", pgTypedKey(ex.Table, "w._sqa_k"), pgNodeValues(ex.Table, a.Kind)) + " FROM _sqa_w w"
		return q + " WHERE CASE WHEN " + pgResolvesCheck(ex, t) + " THEN true END"
	default:
		q, changed = pgNodeRecords(ex, ex.Table, "_sqa_w", a.Kind, t.image), pgChanged(a.Kind)
	}
	return q + " WHERE CASE WHEN " + pgResolvesCheck(ex, t) + " AND " + pgKeysCheck(ex.Table, image) +
		" THEN " + changed + " END" + pgCascadeCheck(ex, t)
}

// pgTypedKey is the JSON object of the key columns the write returned as
// prefix0, prefix1, ….
func pgTypedKey(t *engine.TableInfo, prefix string) string {
	parts := make([]string, 0, 2*len(t.Key))
	for i, k := range t.Key {
		parts = append(parts, sqlstmt.QuoteLiteral(k, true), prefix+strconv.Itoa(i))
	}
	return "jsonb_build_object(" + strings.Join(parts, ", ") + ")"
}

// pgNodeRecords selects one record per row of the WITH query cte (row
// images w._sqa_old and w._sqa_new) of table ti, keyed from image; for an
// UPDATE joined to the changed columns d.o and d.n. The caller adds WHERE.
func pgNodeRecords(ex *pgExec, ti *engine.TableInfo, cte string, kind sqlstmt.Kind, image string) string {
	diff := ""
	if kind == sqlstmt.Update {
		diff = " CROSS JOIN LATERAL " + pgDiff(ti, "w._sqa_old")
	}
	return pgRecordsInsert(ex, ti, "'"+strings.ToUpper(kind.String())+"'", pgRowKey(ti, image), pgNodeValues(ti, kind)) + " FROM " + cte + " w" + diff
}

// pgNodeValues is a record's old and new values: an UPDATE's changed
// columns d.o and d.n, a DELETE's old image, an INSERT's new one.
func pgNodeValues(ti *engine.TableInfo, kind sqlstmt.Kind) string {
	switch kind {
	case sqlstmt.Update:
		return "d.o, d.n"
	case sqlstmt.Delete:
		return pgRedactRow(ti, "w._sqa_old") + ", NULL"
	}
	return "NULL, " + pgRedactRow(ti, "w._sqa_new")
}

// pgRecordsInsert is the INSERT … SELECT of records with the given action,
// row key and old and new values; the caller adds FROM and WHERE.
func pgRecordsInsert(ex *pgExec, ti *engine.TableInfo, action, key, values string) string {
	n := len(ex.Args)
	return "INSERT INTO " + ex.Session.Shared.Audit + " (" + engine.RecordColumns + ")" +
		" SELECT (SELECT pg_current_xact_id()::text::bigint), $" + strconv.Itoa(n+1) + "::text, " + action + ", " +
		sqlstmt.QuoteLiteral(ti.Display, true) + ", " + key + ", " + values +
		", $" + strconv.Itoa(n+2) + "::jsonb, " + sqlstmt.QuoteLiteral(ex.Query, true)
}

// The checks below fail the statement (nothing is written) when the catalog
// its plan was built from no longer holds, so that no change goes
// unrecorded or recorded under a wrong key: the records' conditions put
// them first (CASE WHEN check THEN …), so that they run as soon as the
// statement changed a row. The wrapper drops the connection's catalog and,
// outside a transaction, runs the statement again (pgError).

// pgResolvesCheck: the table name still resolves to the table the records
// describe (a session may have changed its search_path or created a
// temporary table of the same name; set_config() in a SELECT is not seen by
// the wrapper), and its primary key is still the one the catalog read (a
// migration by another client may have moved it). Evaluated once, from the
// server's catalog caches rather than by scanning catalog tables: the
// primary key's index is still there exactly when the key did not move
// (dropping the key drops its index; a new key has a new one). A table
// without a primary key, keyed by the caller's Options, is checked by a
// scan to still have none.
func pgResolvesCheck(ex *pgExec, t pgTargetRef) string {
	pt := pgt(ex.Table)
	oid := strconv.FormatInt(pt.OID, 10)
	cond := "to_regclass(" + sqlstmt.QuoteLiteral(t.spelled, true) + ")::oid::bigint = " + oid
	if pt.PKIndex != 0 {
		cond += " AND pg_index_has_property(" + strconv.FormatInt(pt.PKIndex, 10) + ", 'clusterable') IS NOT NULL"
	} else {
		cond += " AND NOT EXISTS (SELECT FROM pg_index i WHERE i.indrelid = " + oid + " AND i.indisprimary)"
	}
	return pgRaiseUnless("(SELECT "+cond+")", staleCatalogMessage, "left("+t.image+"::text, 0)")
}

// pgKeysCheck: the key columns are still in the row image (a key column
// renamed by another client would otherwise be recorded as null).
func pgKeysCheck(ti *engine.TableInfo, image string) string {
	keys := make([]string, len(ti.Key))
	for i, k := range ti.Key {
		keys[i] = sqlstmt.QuoteLiteral(k, true)
	}
	return pgRaiseUnless(image+" ?& ARRAY["+strings.Join(keys, ", ")+"]", staleColumnsMessage, "left("+image+"::text, 0)")
}

// pgRaiseUnless is true when cond is, and otherwise fails the statement
// with message followed by detail, a row-dependent text: casting it to
// integer is how plain SQL raises an error the planner cannot fold away.
// The wrapper recognises the message in the error (pgError).
func pgRaiseUnless(cond, message, detail string) string {
	return "CASE WHEN " + cond + " THEN true ELSE CAST(" + sqlstmt.QuoteLiteral(message+" ", true) + " || " + detail + " AS integer) = 0 END"
}

// staleCatalogMessage starts the error of a statement whose table name
// resolved to another table than the connection's catalog holds.
const staleCatalogMessage = "sqlaudit: the table name now resolves to another table; retry the statement. Table"

// pgDiff is the changed columns of the old image and w._sqa_new, as two
// objects d.o and d.n (NULL when nothing changed).
func pgDiff(t *engine.TableInfo, old string) string {
	return "(SELECT jsonb_object_agg(jo.key, " + pgRedactValue(t, "jo") +
		") AS o, jsonb_object_agg(jo.key, " + pgRedactValue(t, "jn") + ") AS n" +
		" FROM jsonb_each(" + old + ") jo JOIN jsonb_each(w._sqa_new) jn ON jn.key = jo.key" +
		" WHERE jo.value::text IS DISTINCT FROM jn.value::text) d"
}

// pgRowKey is the JSON object of the key columns taken from a row image.
func pgRowKey(t *engine.TableInfo, image string) string {
	parts := make([]string, 0, 2*len(t.Key))
	for _, k := range t.Key {
		l := sqlstmt.QuoteLiteral(k, true)
		parts = append(parts, l, image+"->"+l)
	}
	return "jsonb_build_object(" + strings.Join(parts, ", ") + ")"
}

// pgRedactRow masks the redacted columns of a whole-row image.
func pgRedactRow(t *engine.TableInfo, image string) string {
	if len(t.Redact) == 0 {
		return image
	}
	mask := map[string]string{}
	for _, c := range t.Redact {
		mask[c] = engine.RedactedValue
	}
	b, _ := json.Marshal(mask)
	return "(" + image + " || " + sqlstmt.QuoteLiteral(string(b), true) + "::jsonb)"
}

// pgRedactValue masks the value of one jsonb_each entry when its column is
// redacted.
func pgRedactValue(t *engine.TableInfo, each string) string {
	if len(t.Redact) == 0 {
		return each + ".value"
	}
	lits := make([]string, len(t.Redact))
	for i, c := range t.Redact {
		lits[i] = sqlstmt.QuoteLiteral(c, true)
	}
	mask, _ := json.Marshal(engine.RedactedValue)
	return "CASE WHEN " + each + ".key IN (" + strings.Join(lits, ", ") + ") THEN " +
		sqlstmt.QuoteLiteral(string(mask), true) + "::jsonb ELSE " + each + ".value END"
}
