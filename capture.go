package sqlaudit

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// run is the path of every statement that is not a plain read: analyse it
// (cached by text), then either pass it through untouched, refuse it, or
// hand it to the dialect, which runs it together with its records.
// fromStmt is set when a prepared statement runs, which must never return
// driver.ErrSkip.
func (c *conn) run(ctx context.Context, q string, args []driver.NamedValue, wantRows, fromStmt bool) (driver.Result, driver.Rows, error) {
	a := c.c.analysis(q)
	switch a.Kind {
	case sqlstmt.Insert, sqlstmt.Update, sqlstmt.Delete:
		return c.runWrite(ctx, a, q, args, wantRows, fromStmt)
	case sqlstmt.Unsupported:
		if len(a.Parts) > 0 && !wantRows && c.c.dialect.oneByOne() {
			return c.runParts(ctx, a, args)
		}
		if err := c.admit(ctx, a); err != nil {
			return nil, nil, err
		}
		if err := c.unaudited(ctx); err != nil {
			return nil, nil, err
		}
	case sqlstmt.DDL:
		if err := c.checkDrop(ctx, a); err != nil {
			return nil, nil, err
		}
		if b, ok := c.dc.(interface{ beforeDDL(context.Context) error }); ok {
			if err := b.beforeDDL(ctx); err != nil {
				return nil, nil, err
			}
		}
	}
	res, rows, err := c.passThrough(ctx, q, args, wantRows, fromStmt)
	c.after(a)
	return res, rows, err
}

// runParts runs a multi-statement string statement by statement, as the
// driver would, each audited (or refused) on its own, and returns the last
// statement's result. Arguments are dealt out in order, as many to each
// statement as it has placeholders.
func (c *conn) runParts(ctx context.Context, a *sqlstmt.Analysis, args []driver.NamedValue) (driver.Result, driver.Rows, error) {
	for _, arg := range args {
		if arg.Name != "" {
			return nil, nil, stmtError(a.Text, "", "cannot audit several statements in one string with named arguments; send them one at a time", ErrUnsupported)
		}
	}
	var res driver.Result
	for _, p := range a.Parts {
		if p.Params > len(args) {
			return nil, nil, fmt.Errorf("not enough args to execute query: want %d got %d", p.Params, len(args))
		}
		own := make([]driver.NamedValue, p.Params)
		for i := range own {
			own[i] = driver.NamedValue{Ordinal: i + 1, Value: args[i].Value}
		}
		args = args[p.Params:]
		r, _, err := c.run(ctx, p.Text, own, false, true)
		if err != nil {
			return nil, nil, err
		}
		res = r
	}
	return res, nil, nil
}

// after keeps the wrapper's state in step with what a pass-through
// statement did: DDL makes the catalog stale, transaction control ends the
// connection's transaction.
func (c *conn) after(a *sqlstmt.Analysis) {
	if a == nil {
		return
	}
	if a.Kind == sqlstmt.DDL {
		c.c.ddlGen.Add(1)
	}
	if a.ResetsSession {
		c.cat.tables = nil
	}
	switch {
	case a.BeginsTx:
		c.dc.txBegan()
	case a.EndsTx || c.autoCommit():
		c.dc.txEnded()
	}
	if p, ok := c.dc.(interface{ passed(*sqlstmt.Analysis) }); ok {
		p.passed(a)
	}
}

// unaudited tells a dialect that captures rows inside the database (SQLite's
// triggers) that the next statement runs unaudited: nothing may record its
// rows under the previous statement's context.
func (c *conn) unaudited(ctx context.Context) error {
	if q, ok := c.dc.(interface{ quiet(context.Context) error }); ok {
		return q.quiet(ctx)
	}
	return nil
}

// recordsCascades reports a dialect that records the rows foreign-key
// actions change (SQLite's triggers see them), so that a write to an
// excluded table that may cascade into audited ones runs audited.
func (c *conn) recordsCascades() bool {
	r, ok := c.c.dialect.(interface{ recordsCascades() bool })
	return ok && r.recordsCascades()
}

func (c *conn) runWrite(ctx context.Context, a *sqlstmt.Analysis, q string, args []driver.NamedValue, wantRows, fromStmt bool) (driver.Result, driver.Rows, error) {
	if len(a.Tables) > 1 {
		return c.runWriteMany(ctx, a, q, args, wantRows, fromStmt)
	}
	t, err := c.table(ctx, a.Table)
	switch {
	case err != nil:
		return nil, nil, stmtError(q, a.Table.Name, "reading the table's columns from the catalog failed", ErrRecord, err)
	case t == nil || !t.audited && !c.cascadesFrom(a, t):
		// A missing table is the database's error to report, in its words.
		if err := c.unaudited(ctx); err != nil {
			return nil, nil, err
		}
		return c.passThrough(ctx, q, args, wantRows, fromStmt)
	case !t.audited && !c.recordsCascades():
		return nil, nil, stmtError(q, t.display, "the table is not audited, but a foreign-key action of this statement may change rows of an audited table", ErrUnsupported)
	case t.isAudit:
		return nil, nil, stmtError(q, t.display, "refused a write to the audit table", ErrAuditTableWrite)
	case t.unsupported != "":
		return nil, nil, stmtError(q, t.display, "cannot audit a write to this table: "+t.unsupported, ErrUnsupported)
	case len(t.key) == 0 && t.audited: // an excluded table's key matters only to cascades, see the dialect
		return nil, nil, stmtError(q, t.display, "cannot identify rows: add a primary key or exclude the table", ErrNoKey)
	}
	actor, metadata, err := who(ctx)
	if err != nil {
		return nil, nil, err
	}
	ex := &execution{ctx: ctx, c: c, a: a, t: t, targets: []*tableInfo{t}, query: q, args: args, actor: actor, metadata: metadata, wantRows: wantRows, fromStmt: fromStmt}
	return c.c.dialect.run(ex)
}

// runWriteMany is runWrite for a statement that changes several tables: the
// audited ones are recorded, each checked as runWrite checks one.
func (c *conn) runWriteMany(ctx context.Context, a *sqlstmt.Analysis, q string, args []driver.NamedValue, wantRows, fromStmt bool) (driver.Result, driver.Rows, error) {
	ex := &execution{ctx: ctx, c: c, a: a, query: q, args: args, wantRows: wantRows, fromStmt: fromStmt}
	for _, ref := range a.Tables {
		t, err := c.table(ctx, ref)
		switch {
		case err != nil:
			return nil, nil, stmtError(q, ref.Name, "reading the table's columns from the catalog failed", ErrRecord, err)
		case t == nil: // the database reports a missing table in its own words
			return c.passThrough(ctx, q, args, wantRows, fromStmt)
		case t.isAudit:
			return nil, nil, stmtError(q, t.display, "refused a write to the audit table", ErrAuditTableWrite)
		case !t.audited && cascadesIntoAudited(a, t):
			return nil, nil, stmtError(q, t.display, "the table is not audited, but a foreign-key action of this statement may change rows of an audited table", ErrUnsupported)
		case !t.audited:
			ex.targets = append(ex.targets, nil)
			continue
		case t.unsupported != "":
			return nil, nil, stmtError(q, t.display, "cannot audit a write to this table: "+t.unsupported, ErrUnsupported)
		case len(t.key) == 0:
			return nil, nil, stmtError(q, t.display, "cannot identify rows: add a primary key or exclude the table", ErrNoKey)
		}
		ex.targets = append(ex.targets, t)
		if ex.t == nil {
			ex.t = t
		}
	}
	if ex.t == nil {
		return c.passThrough(ctx, q, args, wantRows, fromStmt)
	}
	var err error
	if ex.actor, ex.metadata, err = who(ctx); err != nil {
		return nil, nil, err
	}
	return c.c.dialect.run(ex)
}

// cascadesIntoAudited reports a foreign key with an action that a statement
// of this kind on t may fire into an audited table.
func cascadesIntoAudited(a *sqlstmt.Analysis, t *tableInfo) bool {
	for _, fk := range t.children {
		deletes := a.Kind == sqlstmt.Delete || a.OrReplace || t.replaces // REPLACE deletes conflicting rows
		if fk.audited && (deletes && fk.onDelete || a.Kind == sqlstmt.Update && fk.onUpdate) {
			return true
		}
	}
	return false
}

// cascadesFrom reports whether a statement on the excluded table t may fire
// a foreign-key action that reaches an audited table: one into an audited
// table, or, for a dialect that follows actions through excluded tables
// itself (PostgreSQL), any action.
func (c *conn) cascadesFrom(a *sqlstmt.Analysis, t *tableInfo) bool {
	if cascadesIntoAudited(a, t) {
		return true
	}
	if _, deep := c.c.dialect.(interface{ followsCascades() }); !deep {
		return false
	}
	for _, fk := range t.children {
		if a.Kind == sqlstmt.Delete && fk.onDelete || a.Kind == sqlstmt.Update && fk.onUpdate {
			return true
		}
	}
	return false
}

// checkDrop asks the dialect about every table a DROP TABLE removes.
func (c *conn) checkDrop(ctx context.Context, a *sqlstmt.Analysis) error {
	for _, ref := range a.Tables {
		t, err := c.table(ctx, ref)
		if err != nil || t == nil {
			continue // the database reports a missing table in its own words
		}
		if err := c.c.dialect.beforeDrop(ctx, c, t); err != nil {
			return err
		}
	}
	return nil
}

// admit decides an unsupported statement: refused (policy Refuse, or any
// write to the audit table), passed with a warning (policy Warn), or passed
// silently when every table it writes is excluded from auditing.
func (c *conn) admit(ctx context.Context, a *sqlstmt.Analysis) error {
	audited := len(a.Tables) == 0 // unknown tables: assume audited ones
	for _, ref := range a.Tables {
		if ref.Name == "" {
			audited = true
			continue
		}
		t, err := c.table(ctx, ref)
		if err != nil {
			return stmtError(a.Text, ref.Name, "reading the table's columns from the catalog failed", ErrRecord, err)
		}
		if t == nil {
			continue
		}
		if t.isAudit {
			return stmtError(a.Text, t.display, "refused a write to the audit table", ErrAuditTableWrite)
		}
		audited = audited || t.audited
	}
	if !audited {
		return nil
	}
	if c.c.opts.Unsupported == Warn {
		c.c.log.WarnContext(ctx, "sqlaudit: statement runs unaudited", "reason", a.Reason, "query", truncate(a.Text))
		return nil
	}
	return stmtError(a.Text, "", "cannot audit this statement: "+a.Reason, ErrUnsupported)
}

func truncate(q string) string {
	if len(q) > 200 {
		return q[:200] + "…"
	}
	return q
}

// passThrough runs q on the underlying connection untouched.
func (c *conn) passThrough(ctx context.Context, q string, args []driver.NamedValue, wantRows, fallback bool) (driver.Result, driver.Rows, error) {
	if wantRows {
		if qc, ok := c.raw.(driver.QueryerContext); ok && !fallback {
			rows, err := qc.QueryContext(ctx, q, args)
			return nil, rows, err
		}
		if !fallback {
			return nil, nil, driver.ErrSkip
		}
		rows, err := c.rawQuery(ctx, q, args)
		return nil, rows, err
	}
	if ex, ok := c.raw.(driver.ExecerContext); ok && !fallback {
		res, err := ex.ExecContext(ctx, q, args)
		return res, nil, err
	}
	if !fallback {
		return nil, nil, driver.ErrSkip
	}
	res, err := c.rawExec(ctx, q, args)
	return res, nil, err
}

// rawExec runs q on the underlying connection, preparing it when the driver
// asks to (driver.ErrSkip), so the statement runs exactly once either way.
func (c *conn) rawExec(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	if ex, ok := c.raw.(driver.ExecerContext); ok {
		res, err := ex.ExecContext(ctx, q, args)
		if !errors.Is(err, driver.ErrSkip) {
			return res, err
		}
	}
	st, err := c.rawPrepare(ctx, q)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if se, ok := st.(driver.StmtExecContext); ok {
		return se.ExecContext(ctx, args)
	}
	return st.Exec(values(args)) //nolint:staticcheck // the driver offers nothing else
}

// rawQuery is rawExec for statements that return rows. A prepared fallback
// statement is closed when its rows are.
func (c *conn) rawQuery(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	if qc, ok := c.raw.(driver.QueryerContext); ok {
		rows, err := qc.QueryContext(ctx, q, args)
		if !errors.Is(err, driver.ErrSkip) {
			return rows, err
		}
	}
	st, err := c.rawPrepare(ctx, q)
	if err != nil {
		return nil, err
	}
	var rows driver.Rows
	if sq, ok := st.(driver.StmtQueryContext); ok {
		rows, err = sq.QueryContext(ctx, args)
	} else {
		rows, err = st.Query(values(args)) //nolint:staticcheck // the driver offers nothing else
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	return stmtRows{Rows: rows, st: st}, nil
}

// stmtRows closes the statement behind the rows with them.
type stmtRows struct {
	driver.Rows
	st driver.Stmt
}

func (r stmtRows) Close() error {
	err := r.Rows.Close()
	if cerr := r.st.Close(); err == nil {
		err = cerr
	}
	return err
}

// noRetry keeps database/sql from running a statement again: an
// ErrBadConn that arrives after the statement was sent must not reach it
// as ErrBadConn.
func noRetry(err error) error {
	if errors.Is(err, driver.ErrBadConn) {
		return errors.New("sqlaudit: the connection broke after the statement was sent; its outcome is unknown (driver: bad connection)")
	}
	return err
}
