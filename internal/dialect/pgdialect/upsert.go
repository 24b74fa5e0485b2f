package pgdialect

import (
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// An upsert (INSERT … ON CONFLICT DO UPDATE) records each row as the INSERT
// or the UPDATE it was, an UPDATE with the values it overwrote. Those are
// read where PostgreSQL itself has them: the DO UPDATE's WHERE condition is
// evaluated on the conflicting row after it is locked — the version the
// update replaces, also when a concurrent transaction changed it, and in
// any subtransaction — so a condition of the wrapper's there keeps that
// row's image in a transaction-local setting, and RETURNING, evaluated
// right after the row is written, takes it back out (and empties it). A row
// that comes back without one was inserted. The caller's own condition runs
// first: a row it rejects is neither updated nor captured.

// upsertSetting is the transaction-local setting that carries the old
// image from the DO UPDATE's condition to RETURNING.
const upsertSetting = "'sqlaudit.upsert_old'"

// pgUpsertOld is the RETURNING column with the updated row's old image, or
// NULL for an inserted row; reading it empties the setting for the next row
// (concat evaluates its arguments in order).
const pgUpsertOld = "NULLIF(concat(current_setting(" + upsertSetting + ", true), left(set_config(" + upsertSetting +
	", '', true), 0)), '')::jsonb AS _sqa_old"

// pgUpsertBody is the caller's inserted rows and ON CONFLICT clause with the
// capture of the old image added to the DO UPDATE's condition.
func pgUpsertBody(a *sqlstmt.Analysis, t pgTargetRef) string {
	capture := "set_config(" + upsertSetting + ", to_jsonb(" + t.ref + ".*)::text, true) IS NOT NULL"
	if a.ConflictWhere == "" {
		return a.ConflictSet + " WHERE " + capture
	}
	return a.ConflictSet + " WHERE CASE WHEN (" + a.ConflictWhere + ") THEN " + capture + " ELSE false END"
}

// pgUpsertRecords is pgNodeRecords for an upsert: each row recorded as the
// INSERT or the UPDATE it was, keyed by the key it had before.
func pgUpsertRecords(ex *pgExec) string {
	ti := ex.Table
	action := "CASE WHEN w._sqa_old IS NULL THEN 'INSERT' ELSE 'UPDATE' END"
	values := "CASE WHEN w._sqa_old IS NULL THEN NULL ELSE d.o END, CASE WHEN w._sqa_old IS NULL THEN " +
		pgRedactRow(ti, "w._sqa_new") + " ELSE d.n END"
	return pgRecordsInsert(ex, ti, action, pgRowKey(ti, "coalesce(w._sqa_old, w._sqa_new)"), values) +
		" FROM _sqa_w w LEFT JOIN LATERAL " + pgDiff(ti, "w._sqa_old") + " ON true"
}
