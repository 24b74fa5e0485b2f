package engine

import (
	"context"
	"database/sql/driver"

	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// Execution is one audited write on its way through a dialect: the wrapper
// has analysed it, resolved its tables and decided that it is audited.
type Execution struct {
	Ctx     context.Context
	Session *Session
	Stmt    *sqlstmt.Analysis
	// Table is the table the statement writes (the first audited one of a
	// multi-table statement).
	Table *TableInfo
	// Targets are the tables a statement writes, in Stmt.Tables order when
	// it writes several (MySQL's multi-table UPDATE and DELETE), nil for
	// those not audited; else just Table.
	Targets  []*TableInfo
	Query    string // the statement text as the caller sent it
	Args     []driver.NamedValue
	Actor    any // string or nil (SQL NULL)
	Metadata any // JSON text or nil
	WantRows bool
	FromStmt bool // run from a prepared statement: never return driver.ErrSkip
}

// PlanKey identifies a dialect's rewritten form of ex's statement. Catalog
// entries are shared by connections that see the same table (Session.Table),
// so connections share plans too; a catalog change makes new keys.
func (ex *Execution) PlanKey() PlanKey {
	return PlanKey{Stmt: ex.Stmt, Table: ex.Table, WantRows: ex.WantRows, NArgs: len(ex.Args)}
}

// PlanKey identifies a cached plan (see Shared.Plan).
type PlanKey struct {
	Stmt     *sqlstmt.Analysis
	Table    *TableInfo
	WantRows bool
	NArgs    int
}

// AuditedTables are the recorded names of the audited tables ex writes.
func (ex *Execution) AuditedTables() []string {
	var out []string
	for _, t := range ex.Targets {
		if t != nil && t.Audited {
			out = append(out, t.Display)
		}
	}
	if len(out) == 0 && ex.Table != nil { // an excluded table whose cascades are recorded
		out = append(out, ex.Table.Display)
	}
	return out
}
