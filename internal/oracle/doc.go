// Package oracle is the differential oracle shared by the sqlaudit tests
// (the root package's tests and the ORM integration module).
//
// A test snapshots a table through the plain (unaudited) driver before and
// after a change, as the database itself renders rows to JSON (to_jsonb on
// PostgreSQL, json_object on SQLite, JSON_OBJECT on MariaDB, with the same
// renderings of binary values as the audit records), reads the audit
// records written in between, and checks them against the truth:
//
//   - [Expected] computes the true difference of two snapshots (rows added,
//     removed and changed by key; changed columns only);
//   - [AssertTrail] compares the records with it;
//   - [Replay] applies the records to the first snapshot, failing when an
//     UPDATE's or DELETE's old values differ from the replayed row, so that
//     the caller can compare the result with the second snapshot.
//
// The package holds no test-environment logic (creating databases, choosing
// drivers): its callers open the databases and hand it a plain handle in a
// [DB]. Functions that can fail take a testing.TB and fail the test.
package oracle
