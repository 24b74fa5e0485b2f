// Package mysqldialect audits MariaDB 10.5 or newer through
// go-sql-driver/mysql (Oracle MySQL lacks INSERT … RETURNING and sequences,
// and is refused at connect).
//
// Statements are read by the package's own analyser (analyse.go,
// clauses.go): the shared lexer in its MySQL style, and a MySQL grammar to
// check the structure and name the tables; statements that run SQL inside
// the server (compound statements, CALL, EXECUTE, PREPARE) are refused. An
// UPDATE or DELETE locks and copies the rows it will change into a
// per-connection TEMPORARY table, runs restricted to them — its predicate
// evaluated once, by the copy, unless it is a deterministic function of the
// row (stable.go) — and writes the records set-based from the copies
// (change.go, run.go), as one compound statement when it can (block.go). An
// INSERT returns its keys and the records are read back by them
// (insert.go); an upsert keeps each updated row's old image as it is
// overwritten (upsert.go, upsertrec.go). A table another client changed is
// noticed by the server refusing the wrapper's statements, and the catalog
// is read again (schema.go).
//
// The package implements engine.Dialect; it imports only the engine and
// internal/sqlstmt, never another dialect or the root package.
package mysqldialect
