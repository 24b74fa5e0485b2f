// Package sqlstmt reads statement texts for the wrapper, once per distinct
// text: a lexer that knows where words, literals, comments and placeholders
// begin and end in each SQL dialect (it never parses), the real PostgreSQL
// parser (pg_query) behind Analyse, the classification of every statement —
// an INSERT, UPDATE or DELETE to audit, a read or other statement to pass
// through, DDL, transaction control, or a write that cannot be audited and
// why — and the clause texts of an audited write, sliced from the text the
// database will run and cross-checked against the parse tree.
//
// It knows no database driver and no dialect: a dialect brings its Rules
// (its lexing style and a translation of its text into what pg_query reads;
// SQLite's live in internal/dialect/sqlitedialect), and MySQL, which the
// PostgreSQL grammar cannot read, brings its own analyser built on the same
// lexer and types (internal/dialect/mysqldialect). The analysis is a value
// shared read-only by every connection; a dialect may hang its own reading
// of the statement on Analysis.Ext.
package sqlstmt
