package mysqldialect

import (
	"context"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// mysqlTablesQuery lists the base tables (system-versioned ones too; not
// views, sequences or TEMPORARY tables) of the databases named in the JSON
// array, or of the session's database when it is empty. The array is
// passed twice (positional placeholders).
const mysqlTablesQuery = `SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES
WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')
  AND (? = '[]' AND TABLE_SCHEMA = DATABASE() OR JSON_CONTAINS(?, JSON_QUOTE(TABLE_SCHEMA)))
ORDER BY TABLE_SCHEMA, TABLE_NAME`

// Tables lists the tables of schemas (engine.Inventory).
func (Dialect) Tables(ctx context.Context, s *engine.Session, schemas []string) ([]sqlstmt.TableRef, error) {
	return engine.ListTables(ctx, s, mysqlTablesQuery, schemas, 2)
}

// RecordedAt compares occurred_at with the Unix time (seconds with
// microseconds) of the next argument, as SealSQL.Before does.
func (Dialect) RecordedAt(op string, _ int) string {
	return "a.occurred_at " + op + " FROM_UNIXTIME(?)"
}
