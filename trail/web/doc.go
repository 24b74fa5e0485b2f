// Package web is a viewer of the audit trail for people: an http.Handler
// that an application mounts under its own path, behind its own
// authentication, and that the sqlaudit command serves with `sqlaudit
// serve`.
//
// Pages (server-rendered HTML; assets embedded, no network needed; light or
// dark as the system is; readable on a phone; every value escaped):
//
//	/                 the timeline: transactions newest first, filtered by table,
//	                  actor, action, time range (absolute or 15m, 2h, 7d …),
//	                  metadata KEY=VALUE, OpenTelemetry trace id (trace=),
//	                  column changed and statement text;
//	                  keyset pages (before / after cursors)
//	/tx/{id}          one transaction: its statements, each with its records and
//	                  the rows its foreign-key actions changed; the revert's dry
//	                  run (?plan=1) and, when allowed, the confirmed revert
//	/row?table=&key=  one row's history as a diff timeline, and the row as of a
//	                  record (&record=ID) or a time (&at=TIME)
//	/verify           the seal status, and a verify run (?run=1[&head=SEQ:HASH])
//
// The JSON API, which the pages' script also calls (records shaped as
// trail.Record encodes them, as `sqlaudit log -o json` prints them):
//
//	GET  /api/transactions   a timeline page (trail.TxPage)
//	GET  /api/records        records, newest first (before) or oldest first (after)
//	GET  /api/count          records and transactions a filter selects
//	GET  /api/tx/{id}        a transaction's records and statements
//	GET  /api/tx/{id}/plan   a revert's dry run, with the confirm value
//	POST /api/tx/{id}/revert {"confirm": …, "force": false}
//	GET  /api/row            a row's history
//	GET  /api/row/asof       a row as of a time or record
//	GET  /api/seal           the seal status (trail.Seals)
//	GET  /api/verify         sqlaudit.Verify's result
//
// Bad input is answered with 400 (malformed) or 404 (no such transaction,
// table or row) and a message, never 500. Options.Authorize decides who may
// view and who may revert (by default everyone may view, no one revert); a
// revert is recorded with Options.User's name as its actor.
package web
