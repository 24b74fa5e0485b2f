// Package engine is the contract between the wrapper (the root package
// sqlaudit) and the dialects (internal/dialect/…): the Dialect interface and
// its named abilities, the Session a dialect runs its statements on (raw
// execution, prepared-statement cache, catalog), what all connections of a
// database share (Shared: analysis, plan and catalog-entry caches), the
// Execution of one audited write, the Inventory a coverage report reads
// (inventory.go), and the helpers every dialect needs
// (rows, values, the internal Error type).
//
// A statement travels: root conn → Shared.Analysis (internal/sqlstmt) → the
// root's decision (audited, passed, refused) → Dialect.Run(*Execution) →
// the dialect's plan, run on the Session → the result as the underlying
// driver would return it.
//
// The engine knows no database: nothing here names a dialect's types or
// switches on one. Dialects import the engine and internal/sqlstmt, never
// each other and never the root package; where a dialect needs the wrapper
// to act (read the catalog again and run once more) it returns a sentinel
// (ErrRunAgain) instead of calling back.
package engine
