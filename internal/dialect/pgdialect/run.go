package pgdialect

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// pgExec is a write on its way through the PostgreSQL dialect: the
// Execution and what its foreign-key actions need.
type pgExec struct {
	*engine.Execution
	cascade *pgCascade        // the actions the statement performs itself, or nil
	checks  []*engine.ChildFK // actions checked at run time instead: refused if they would fire
}

// Run sends the rewritten statement with the actor and metadata as two
// extra parameters after the caller's own.
func (Dialect) Run(e *engine.Execution) (driver.Result, driver.Rows, error) {
	ex := &pgExec{Execution: e}
	acts, err := pgCascadeTree(ex)
	ex.checks = acts.checks
	switch {
	case err != nil:
		return nil, nil, engine.Fail(ex.Query, ex.Table.Display, "reading the foreign keys' tables from the catalog failed", engine.Record, err)
	case !ex.Table.Audited && acts.tree == nil && acts.refused == "" && len(ex.checks) == 0: // its actions reach no audited table after all
		return ex.Session.PassThrough(ex.Ctx, ex.Query, ex.Args, ex.WantRows, ex.FromStmt)
	case acts.refused != "" && (!ex.Table.Audited || ex.Stmt.Upsert || ex.Stmt.Truncate):
		return nil, nil, engine.Refuse(ex.Query, ex.Table.Display, "cannot audit "+acts.refused)
	case !ex.Table.Audited && len(ex.checks) > 0:
		return nil, nil, engine.Refuse(ex.Query, ex.Table.Display, "the table is not audited, but a foreign-key action of this statement may change rows of an audited table (a trigger or generated column may change a referenced column)")
	}
	if err := pgRefuse(ex); err != nil {
		return nil, nil, err
	}
	if err := pgCheckArgs(ex); err != nil {
		return nil, nil, err
	}
	if acts.tree != nil {
		ex.cascade = acts.tree
		return pgRunCascade(ex)
	}
	q := ex.Session.Shared.Plan(ex.PlanKey(), func() any { return pgStatement(ex) }).(string)
	return pgExecute(ex, q, false)
}

// pgExecute sends the rewritten statement q with the actor, the metadata
// and any further values (the rows locked for foreign-key actions) as extra
// parameters after the caller's own. Rows are read into memory when
// buffer is set (the wrapper's own transaction commits before the caller
// reads them).
func pgExecute(ex *pgExec, q string, buffer bool, extra ...any) (driver.Result, driver.Rows, error) {
	args := append(ex.Args[:len(ex.Args):len(ex.Args)],
		driver.NamedValue{Ordinal: len(ex.Args) + 1, Value: ex.Actor},
		driver.NamedValue{Ordinal: len(ex.Args) + 2, Value: ex.Metadata})
	for _, v := range extra {
		args = append(args, driver.NamedValue{Ordinal: len(args) + 1, Value: v})
	}
	inlined := len(args) > maxParams
	if inlined {
		q, args = pgInline(q, args, len(ex.Args)), ex.Args
	}
	if ex.WantRows {
		// The caller's RETURNING list fixes the result type: not cached, so
		// DDL by other clients cannot make a cached plan change it.
		rows, err := ex.Session.RawQuery(ex.Ctx, q, args)
		if err != nil {
			return nil, nil, pgError(ex, err)
		}
		if pgInnerReturning(ex) {
			rows = engine.NewHiddenRows(rows, pgHidden(ex))
		}
		if buffer {
			rows, err = engine.BufferRows(rows)
			if err != nil {
				return nil, nil, pgError(ex, err)
			}
		}
		return nil, rows, nil
	}
	if pgRecordsCount(ex) {
		return pgExecCount(ex, q, args, !inlined)
	}
	return pgCount(ex, q, args, !inlined)
}

// pgExecCount runs a rewritten write whose records' INSERT is the
// statement (pgRecordsCount): its command tag counts the write's rows.
func pgExecCount(ex *pgExec, q string, args []driver.NamedValue, cache bool) (driver.Result, driver.Rows, error) {
	run := ex.Session.PreparedExec
	if !cache {
		run = ex.Session.RawExec
	}
	res, err := run(ex.Ctx, q, args)
	if err != nil {
		return nil, nil, pgError(ex, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return nil, nil, engine.NoRetry(err)
	}
	if ex.Stmt.Truncate {
		n = 0 // as PostgreSQL reports TRUNCATE
	}
	return engine.Result{Rows: n, LastNote: "LastInsertId is not supported by this driver"}, nil, nil
}

// pgCount runs a rewritten write without the caller's rows (as a cached
// prepared statement unless its text is not reused) and returns its count
// as the result.
func pgCount(ex *pgExec, q string, args []driver.NamedValue, cache bool) (driver.Result, driver.Rows, error) {
	run := ex.Session.PreparedQuery
	if !cache {
		run = ex.Session.RawQuery
	}
	rows, err := run(ex.Ctx, q, args)
	if err != nil {
		return nil, nil, pgError(ex, err)
	}
	count := make([]driver.Value, 1)
	if err := rows.Next(count); err != nil && err != io.EOF {
		rows.Close()
		return nil, nil, pgError(ex, err)
	}
	n, _ := count[0].(int64)
	if ex.Stmt.Truncate {
		n = 0 // as PostgreSQL reports TRUNCATE
	}
	return engine.Result{Rows: n, LastNote: "LastInsertId is not supported by this driver"}, nil, engine.NoRetry(rows.Close())
}

// maxParams is the most parameters the PostgreSQL protocol carries.
const maxParams = 65535

// pgInline writes the wrapper's own parameters ($n+1 … after the caller's n)
// into q as literals, for a statement whose caller's arguments leave no
// room for them: the plain statement runs with up to maxParams arguments.
func pgInline(q string, args []driver.NamedValue, n int) string {
	var b strings.Builder
	last := 0
	for _, tok := range sqlstmt.Lex(q, sqlstmt.StylePostgres) {
		if tok.Kind != sqlstmt.TokParam {
			continue
		}
		k, err := strconv.Atoi(q[tok.Start+1 : tok.End])
		if err != nil || k <= n {
			continue
		}
		lit := "NULL"
		if v := args[k-1].Value; v != nil {
			lit = sqlstmt.QuoteLiteral(engine.AsString(v), true)
		}
		b.WriteString(q[last:tok.Start] + lit)
		last = tok.End
	}
	b.WriteString(q[last:])
	return b.String()
}

// pgRefuse refuses the writes whose rows the rewrite would read from other
// tables than it names: an UPDATE, DELETE or TRUNCATE without ONLY of a
// table other tables inherit from changes their rows too, which its records
// would name as this table's, without the columns of their own.
func pgRefuse(ex *pgExec) error {
	a := ex.Stmt
	if a.Kind == sqlstmt.Merge {
		if v := pgt(ex.Table).Version; v < pgOldNewVersion {
			return engine.Refuse(ex.Query, ex.Table.Display, fmt.Sprintf("MERGE needs PostgreSQL 18 or newer, whose MERGE … RETURNING names the old and new rows (this server is %d.%d); "+
				"use INSERT … ON CONFLICT, or separate INSERT, UPDATE and DELETE statements", v/10000, v%10000))
		}
		for _, fk := range ex.Table.Children {
			if fk.OnDelete || fk.OnUpdate {
				return engine.Refuse(ex.Query, ex.Table.Display, "MERGE into a table whose rows foreign-key actions (ON DELETE/UPDATE CASCADE, SET NULL, SET DEFAULT) follow is not audited yet; use INSERT … ON CONFLICT, UPDATE and DELETE")
			}
		}
	}
	if a.Kind == sqlstmt.Update && a.From != "" && len(a.JoinFunctions) > 0 && !pgOldNew(ex) {
		volatile, err := pgVolatile(ex)
		if err != nil {
			return engine.CatalogFailed(ex.Query, ex.Table.Display, err)
		}
		if volatile {
			return engine.Refuse(ex.Query, ex.Table.Display, "a volatile function (random(), nextval() …) in the FROM list or WHERE clause of an UPDATE … FROM: "+
				"the rewritten statement would run it twice and could change other rows than it records; compute the values first, or update without FROM")
		}
	}
	if pgt(ex.Table).Inherited && !a.Table.Only && a.Kind != sqlstmt.Insert {
		return engine.Refuse(ex.Query, ex.Table.Display, "other tables inherit from this one, and a write without ONLY changes their rows too, unrecorded under their names; write ONLY "+
			ex.Table.Display+", and each inheriting table on its own")
	}
	return nil
}

// pgCheckArgs refuses what the rewrite cannot carry: arguments that do not
// match the statement's placeholders one to one (the actor and metadata are
// appended after them), pgx's query options and NamedArgs (pgx would rewrite
// the statement text itself), RETURNING rows that may name joined tables.
func pgCheckArgs(ex *pgExec) error {
	a := ex.Stmt
	if a.From != "" && ex.WantRows && a.Returning != "" && a.ReturningStar && !pgOldNew(ex) {
		return engine.Refuse(ex.Query, ex.Table.Display, "cannot audit RETURNING * of an UPDATE … FROM or DELETE … USING (it would include the wrapper's own columns); name the columns or tables (RETURNING t.*, s.x)")
	}
	for _, arg := range ex.Args {
		if arg.Value != nil && strings.HasPrefix(reflect.TypeOf(arg.Value).PkgPath(), "github.com/jackc/pgx/") &&
			!strings.Contains(reflect.TypeOf(arg.Value).PkgPath(), "pgtype") {
			return engine.Refuse(ex.Query, ex.Table.Display, fmt.Sprintf("pgx query options and NamedArgs (%T) cannot be audited; use $n placeholders", arg.Value))
		}
	}
	if len(ex.Args) != a.NumParams {
		return engine.ArgsMismatch(ex.Query, ex.Table.Display, a.NumParams, len(ex.Args))
	}
	return nil
}

// pgError maps the errors the rewritten statement raises on purpose to the
// wrapper's sentinels, and keeps database/sql from retrying a statement that
// was sent: every other error is the driver's own.
func pgError(ex *pgExec, err error) error {
	switch msg := err.Error(); {
	case strings.Contains(msg, cascadeConflictMessage):
		return engine.Fail(ex.Query, ex.Table.Display, "rows whose foreign-key actions fire came to match the statement while it ran, so the rows the actions change could not be read exactly; nothing changed", engine.Conflict, err)
	case strings.Contains(msg, cascadeMessage):
		return engine.Fail(ex.Query, ex.Table.Display, "a foreign-key action (ON DELETE/UPDATE CASCADE, SET NULL, SET DEFAULT) would change rows of an audited table, which the wrapper cannot record yet; nothing changed", engine.Unsupported, err)
	case strings.Contains(msg, staleCatalogMessage), strings.Contains(msg, staleColumnsMessage):
		// The catalog the plan was built from no longer holds. Outside a
		// transaction the statement failed whole and changed nothing: the
		// wrapper reads the catalog again and runs it once more. Inside
		// one, the failure aborted the caller's transaction. Every other
		// connection's catalog is as stale: they read it again before
		// their next write (a changed table fails one transaction, not one
		// per connection of the pool).
		ex.Session.Shared.DDLRan()
		if !pgInTx(ex.Session) {
			return engine.ErrRunAgain
		}
		why := "the table's columns or primary key changed since this connection read them (a migration by another client?)"
		if strings.Contains(msg, staleCatalogMessage) {
			why = "the table name resolved to another table than when this connection first wrote it (search_path or a temporary table changed), or its primary key moved"
		}
		return engine.Fail(ex.Query, ex.Table.Display, why+"; nothing changed, run the transaction again", engine.Conflict, err)
	}
	var server interface{ SQLState() string }
	if !errors.As(err, &server) {
		return engine.NoRetry(err)
	}
	switch server.SQLState() {
	case "42703":
		// undefined_column: the caller's mistake, or a column the rewritten
		// statement names (the typed UPDATE's columns, the typed keys) was
		// dropped or renamed by another client since the catalog was read. Either way the next statement re-reads it; when
		// the missing column is one the catalog lists, the write runs again
		// on the new catalog (outside a transaction) or fails the
		// transaction to be run again, as for the other stale catalogs.
		ex.Session.DropCatalog()
		if pgNamesColumn(ex.Table, err.Error()) {
			ex.Session.Shared.DDLRan()
			if !pgInTx(ex.Session) {
				return engine.ErrRunAgain
			}
			return engine.Fail(ex.Query, ex.Table.Display, "a column of the table was dropped or renamed since this connection read it (a migration by another client?); nothing changed, run the transaction again", engine.Conflict, err)
		}
	case "42P01":
		if audit := ex.Session.Shared.AuditRef; strings.Contains(err.Error(), `"`+audit.Name+`"`) || strings.Contains(err.Error(), `"`+audit.Schema+"."+audit.Name+`"`) {
			return engine.Fail(ex.Query, ex.Table.Display, "the audit table "+ex.Session.Shared.AuditName+
				" does not exist (dropped, or never created: create it with sqlaudit.DDL or `sqlaudit migrate`); nothing was changed", engine.Record, err)
		}
	}
	return engine.NoRetry(err)
}

// pgNamesColumn reports whether an undefined-column error names one of t's
// catalogued columns: column "x" does not exist, or column old.x does not
// exist.
func pgNamesColumn(t *engine.TableInfo, msg string) bool {
	for _, c := range t.Columns {
		if strings.Contains(msg, `column "`+c+`" does not exist`) || strings.Contains(msg, `.`+c+` does not exist`) {
			return true
		}
	}
	return false
}
