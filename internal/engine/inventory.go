package engine

import (
	"context"
	"database/sql/driver"
	"encoding/json"

	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// Inventory is a Dialect that can list its database's tables and select
// records by time, for the coverage report (which tables are audited, which
// are not, and why).
type Inventory interface {
	// Tables lists the base tables of the schemas named (PostgreSQL
	// schemas, MariaDB databases, SQLite schemas), or of the dialect's
	// default set when none is named, each resolved (schema and name).
	// Views are not listed: they hold no rows of their own.
	Tables(ctx context.Context, s *Session, schemas []string) ([]sqlstmt.TableRef, error)
	// RecordedAt is a condition on the occurred_at of record a: op is the
	// comparison (">=", "<"), n the argument's 1-based number (dialects
	// with positional placeholders ignore it); the argument is
	// SealSQL.TimeArg's rendering of the time.
	RecordedAt(op string, n int) string
}

// Describe reads a table's entry afresh, with the options applied (audited
// or not, the audit table itself), without keeping it in the connection's
// catalog or the shared cache: a report that reads every table once must
// not crowd out the entries the writes use. A nil entry means the table
// does not exist (any more).
func (s *Session) Describe(ctx context.Context, ref sqlstmt.TableRef) (*TableInfo, error) {
	t, err := s.Shared.Dialect.LoadTable(ctx, s, ref)
	if err != nil || t == nil {
		return nil, err
	}
	return t, s.applyOptions(ctx, ref, t)
}

// ListTables runs q, a query of (schema, name) rows, with the schemas as
// one JSON array text argument, given copies times (for dialects whose
// placeholders are positional and q names the array more than once).
func ListTables(ctx context.Context, s *Session, q string, schemas []string, copies int) ([]sqlstmt.TableRef, error) {
	if schemas == nil {
		schemas = []string{}
	}
	b, err := json.Marshal(schemas)
	if err != nil {
		return nil, err
	}
	args := make([]driver.Value, copies)
	for i := range args {
		args[i] = string(b)
	}
	rows, err := s.QueryAll(ctx, q, Named(args...)...)
	if err != nil {
		return nil, err
	}
	out := make([]sqlstmt.TableRef, 0, len(rows))
	for _, r := range rows {
		out = append(out, sqlstmt.TableRef{Schema: AsString(r[0]), Name: AsString(r[1])})
	}
	return out, nil
}
