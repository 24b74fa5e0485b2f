package sqlitedialect

import (
	"context"
	"fmt"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// liteTablesQuery lists the tables (and virtual tables, which have no key
// to record) of the schemas named in the JSON array ?1, or of main and the
// attached schemas when it is empty; SQLite's own sqlite_* tables and the
// TEMP schema (the connection's own, not the application's) are left out.
const liteTablesQuery = `SELECT schema, name FROM pragma_table_list
WHERE type IN ('table', 'virtual') AND schema <> 'temp' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'
  AND (?1 = '[]' OR schema IN (SELECT value FROM json_each(?1)))
ORDER BY CASE schema WHEN 'main' THEN 0 ELSE 1 END, schema, name`

// Tables lists the tables of schemas (engine.Inventory).
func (Dialect) Tables(ctx context.Context, s *engine.Session, schemas []string) ([]sqlstmt.TableRef, error) {
	return engine.ListTables(ctx, s, liteTablesQuery, schemas, 1)
}

// RecordedAt compares occurred_at (ISO-8601 UTC text, which orders as
// time) with the text argument n.
func (Dialect) RecordedAt(op string, n int) string { return fmt.Sprintf("a.occurred_at %s ?%d", op, n) }
