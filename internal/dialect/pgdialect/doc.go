// Package pgdialect audits PostgreSQL through lib/pq and pgx.
//
// Each write becomes one statement and one round trip (statement.go): a
// data-modifying WITH query that runs the caller's write — an UPDATE joined
// by key to the rows its predicate selects, locked, so that the old image is
// the version it overwrites — returns the row images, inserts one record
// per changed row (records.go; the plain UPDATE compares typed columns,
// update.go) and returns exactly what the original statement would
// (run.go). Checks inside the statement fail it, changing nothing, when the
// catalog the plan was built from no longer holds (the name resolves to
// another table, a column was added): ErrConflict, and the connection reads
// its catalog again (catalog.go).
//
// Foreign-key actions, which change rows inside PostgreSQL where the
// wrapper cannot see them, are performed by the statement itself after the
// rows that fire them are locked level by level (cascade*.go); lib/pq's
// CopyIn streams into a staging table and is inserted by one audited
// INSERT … SELECT (copy.go).
//
// The package implements engine.Dialect and engine.CopyPreparer; it imports
// only the engine and internal/sqlstmt, never another dialect or the root
// package.
package pgdialect
