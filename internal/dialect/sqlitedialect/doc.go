// Package sqlitedialect audits SQLite through mattn/go-sqlite3.
//
// Rows are captured inside SQLite: on its first write to a schema a
// connection gives every audited table there TEMP triggers (triggers.go)
// that write each record in the same statement as its change — also rows
// changed by foreign-key actions, REPLACE, upserts and the database's own
// triggers. They record only while the connection's context row (actor,
// metadata, statement text, transaction id) is live; the dialect sets it
// and then runs the caller's statement exactly as sent (run.go), so every
// result is the plain driver's. A schema changed by another connection is
// noticed by its version (catalog.go, conn.go): the write then changes
// nothing and the wrapper runs it again (engine.ErrRunAgain).
//
// SQLite text is read by the shared analyser after a translation of its
// placeholders, identifier quotes and OR conflict clauses (analyse.go).
//
// The package implements engine.Dialect and engine.DropChecker, and its
// per-connection state the engine's Capturer, DDLPreparer, Observer and
// CatalogChecker; it imports only the engine and internal/sqlstmt, never
// another dialect or the root package.
package sqlitedialect
