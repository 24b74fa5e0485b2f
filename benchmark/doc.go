// Package benchmark measures what auditing costs: the same workload run, in
// one interleaved run, through four or five variants on the same driver —
//
//	P  the plain driver in autocommit (the baseline, ratio 1.00)
//	T  trigger-based auditing: AFTER … FOR EACH ROW triggers writing the
//	   record contract into audit_log_trigger (PL/pgSQL with a jsonb diff of
//	   the changed columns; SQLite json_object; MariaDB JSON_OBJECT with the
//	   unchanged columns removed)
//	S  PostgreSQL only: the fastest trigger design, AFTER … FOR EACH
//	   STATEMENT triggers over transition tables, one INSERT … SELECT per
//	   statement (an UPDATE's old and new rows paired by key)
//	N  the naive client-side sequence: BEGIN; SELECT … FOR UPDATE (SQLite: a
//	   plain SELECT); the statement; INSERT the records computed in Go; COMMIT
//	L  sqlaudit, through its audit driver
//
// The drivers are pgx and lib/pq (PostgreSQL), mattn/go-sqlite3 and
// go-sql-driver/mysql (MariaDB). Each variant has its own PostgreSQL
// schema, SQLite file or MariaDB database holding identical data. Every workload runs in rounds P T S N L P T S N L … so that
// machine drift (other processes, checkpoints, CPU frequency) falls on all
// variants alike; untimed work (re-inserting deleted rows, removing inserted
// ones) happens right after each operation, outside its timing.
//
// Run executes a Config and prints, per workload × driver × variant, the
// median and p90 time per operation and the ratio of medians to P, the
// machine, versions and settings, and benchstat-compatible lines. The
// command cmd/sqlaudit-bench is its front end; benchmark_test.go has the same
// workloads as go test -bench benchmarks (not interleaved). The cost of
// sqlaudit's statement analysis alone is measured by BenchmarkAnalysis in
// the root package.
package benchmark
