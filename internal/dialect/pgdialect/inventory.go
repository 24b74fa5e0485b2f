package pgdialect

import (
	"context"
	"fmt"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// pgTablesQuery lists the tables and partitioned tables (not their
// partitions, whose rows are recorded under the partitioned table) of the
// schemas named in the JSON array $1, or of every schema the role may use
// but the system's (pg_*, information_schema) when it is empty.
const pgTablesQuery = `SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema' AND has_schema_privilege(n.oid, 'USAGE')
  AND ($1::jsonb = '[]'::jsonb OR n.nspname IN (SELECT jsonb_array_elements_text($1::jsonb)))
ORDER BY 1, 2`

// Tables lists the tables of schemas (engine.Inventory).
func (Dialect) Tables(ctx context.Context, s *engine.Session, schemas []string) ([]sqlstmt.TableRef, error) {
	return engine.ListTables(ctx, s, pgTablesQuery, schemas, 1)
}

// RecordedAt compares occurred_at with the timestamptz argument n.
func (Dialect) RecordedAt(op string, n int) string { return fmt.Sprintf("a.occurred_at %s $%d", op, n) }
