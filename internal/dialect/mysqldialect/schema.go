package mysqldialect

import (
	"context"
	"errors"

	"github.com/go-sql-driver/mysql"
	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// A table changed by another client (a migration in another process) is
// noticed by the server itself, at no cost to the statements: every
// statement the wrapper builds names the table's columns as the catalog read
// them, and the copy, the INSERT's records and the upsert's capture also hold
// mySentinel, which the server refuses to prepare once the number of visible
// columns differs. MariaDB prepares a cached statement again when a table's
// definition changed, so a column added, dropped or renamed since the
// catalog was read fails the wrapper's statement (1241, 1054) — as does a
// key that is no longer unique (1062 in the copy) or a value that no longer
// fits the copy's old column type (1264, 1406, 1366 in strict mode). The
// statement is rolled back; the wrapper reads the catalog again and, when it
// changed, runs the statement once more (engine.ErrRunAgain). A type
// changed without making the copy fail is not noticed (see README).

// staleCodes are the errors of the wrapper's own statements that a table
// changed under its catalog can cause.
var staleCodes = map[uint16]bool{1054: true, 1241: true, 1136: true, 1146: true, 1062: true, 1264: true, 1406: true, 1366: true}

// staleOr is err, a failure of one of the wrapper's own statements, or
// engine.ErrRunAgain when the failure is one a schema change causes and the
// catalog did change.
func (m *myConn) staleOr(ex *engine.Execution, err error) error {
	var me *mysql.MySQLError
	if !errors.As(err, &me) || !staleCodes[me.Number] || !catalogChanged(ex) {
		return err
	}
	return engine.ErrRunAgain
}

// catalogChanged reads the catalog entries of ex's tables again and reports
// whether any differs from the one the statement was planned with (entries
// are interned: an unchanged table reads back as the same entry).
func catalogChanged(ex *engine.Execution) bool {
	refs := ex.Stmt.Tables
	if len(refs) < 2 {
		refs = []sqlstmt.TableRef{ex.Stmt.Table}
	}
	ex.Session.DropCatalog()
	for i, ref := range refs {
		if i >= len(ex.Targets) || ex.Targets[i] == nil {
			continue
		}
		t, err := ex.Session.Table(context.WithoutCancel(ex.Ctx), sqlstmt.TableRef{Schema: ref.Schema, Name: ref.Name})
		if err != nil || t != ex.Targets[i] {
			return true
		}
	}
	return false
}
