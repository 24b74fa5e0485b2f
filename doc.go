// Package sqlaudit is a database/sql driver wrapper that records every row
// an application inserts, updates or deletes — who changed which row of
// which table, the old and new values of the changed columns, when, in
// which transaction — in an audit table, in the same transaction as the
// change.
//
// An application changes one line, the driver name, and says who acts
// through the context:
//
//	import _ "github.com/sqlaudit/sqlaudit/auditpgx" // or auditpq, auditsqlite3
//
//	db, err := sql.Open("audit-pgx", dsn)
//	ctx = sqlaudit.WithActor(ctx, "alice")
//	_, err = db.ExecContext(ctx, `UPDATE accounts SET balance = balance - $1 WHERE region = $2`, 10, "eu")
//
// Each INSERT, UPDATE and DELETE is analysed with the PostgreSQL parser
// (pg_query; SQLite text is translated first, MySQL has a grammar of its
// own) and run by its Dialect together with its records: on PostgreSQL as
// one rewritten statement, on SQLite by triggers inside the statement, on
// MariaDB as a short sequence inside one transaction. Reads go to the
// underlying driver untouched. A write the wrapper cannot audit is refused
// with an error wrapping ErrUnsupported (or, with Policy Warn, run with a
// logged warning); it is never silently unaudited.
//
// The record format, the options and the DSN parameters are described in
// the README; Options documents each setting.
//
// This package is the public face: the driver objects (driver.go,
// connector.go, conn.go, stmt.go, tx.go, copy.go), the options and DSN
// parameters, the context (with the OpenTelemetry span's ids it adds to
// the metadata), the errors, Seal, Verify and Prune, and Coverage with the
// counters (coverage.go, stats.go, metrics.go). A
// statement's way through it is write.go: the analysis comes from
// internal/sqlstmt, the decision for each table it writes is made here
// (decide, policy.go), and the dialect of internal/dialect/… runs it
// through the contract of internal/engine.
package sqlaudit
