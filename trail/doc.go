// Package trail reads the audit trail that the sqlaudit drivers write: the
// records of a row (History), of a transaction (Transaction), of any filter
// with paging either way (Log) or streamed for exports (Query); pages of
// transactions, newest first (Transactions); counts (Count); the seal
// status (Seals); a row as it was at a past time or after one of its
// records (AsOf, AsOfRecord); and the undoing of a transaction (Revert),
// itself recorded through the audit driver.
//
// A Filter selects by table, actor, action, time range, row key,
// transaction, metadata KEY=VALUE, column changed and statement text.
// Paging is by keyset on the records' primary key (AfterID oldest first,
// BeforeID with NewestFirst), never by offset.
//
// Every function takes the *sql.DB opened through an audit driver
// ("audit-pgx", "audit-postgres", "audit-sqlite3", "audit-mysql"), whose dialect it
// detects; a plain *sql.DB on the same database works for reading with
// WithDialect. WithTable names an audit table other than "audit_log".
//
// Table names are as recorded in table_name: schema-qualified when the table
// is not in the default schema. Keys are the row_key objects, e.g.
// trail.Key{"id": 1}, typed before they are looked up as the trail records
// the table's keys (Key{"id": "1"} finds an integer key, Key{"code": 42} a
// text key "42"). Values read back are as the database rendered them into
// JSON; numbers are json.Number so that no digit is lost. A row's records
// are found by the audit table's row index (see sqlaudit.DDL); ParseTime
// reads times as people type them, UTC unless they name a zone.
//
// Reverting a transaction writes its inverse (DELETE for each INSERT,
// INSERT for each DELETE, the old values for each UPDATE, newest first) in
// one transaction through db, with the metadata {"revert_of": txID}, a
// statement per batch of rows of one table and kind. A row that changed
// after the transaction — a later record, or a current value that is not
// what the transaction left, both checked with one query per table — makes
// Revert return a *ConflictError (errors.Is ErrConflict) listing every such
// row, and change nothing, unless forced. A redacted old value cannot be
// written back (RevertOptions.SkipRedacted reverts around it), and a
// revert whose own records would hold in clear a column the trail shows
// redacted, but that the trail's settings table does not list, is refused.
package trail
