package sqlaudit

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// run is the path of every statement that is not a plain read: analyse it
// (cached by text, internal/sqlstmt), then either pass it through
// untouched, refuse it, or hand it to the dialect, which runs it together
// with its records. fromStmt is set when a prepared statement runs, which
// must never return driver.ErrSkip.
func (c *conn) run(ctx context.Context, q string, args []driver.NamedValue, wantRows, fromStmt bool) (driver.Result, driver.Rows, error) {
	a := c.c.sh.Analysis(q)
	switch a.Kind {
	case sqlstmt.Insert, sqlstmt.Update, sqlstmt.Delete, sqlstmt.Merge:
		return c.runWrite(ctx, a, q, args, wantRows, fromStmt)
	case sqlstmt.Unsupported:
		if len(a.Parts) > 0 && !wantRows && c.c.sh.Dialect.Features().Has(engine.OneByOne) {
			return c.runParts(ctx, a, args)
		}
		if err := c.serverReads(ctx, a); err != nil {
			return nil, nil, err
		}
		if err := c.admit(ctx, a); err != nil {
			return nil, nil, err
		}
		if err := c.unaudited(ctx); err != nil {
			return nil, nil, err
		}
	case sqlstmt.DDL:
		if err := c.beforeDDL(ctx, a); err != nil && !c.warned(ctx, err) {
			return nil, nil, err
		}
	}
	res, rows, err := c.s.PassThrough(ctx, q, args, wantRows, fromStmt)
	c.after(a)
	return res, rows, err
}

// maxRunAgain bounds how often a write runs again because the schema
// changed under it (engine.ErrRunAgain).
const maxRunAgain = 3

// runWrite runs an INSERT, UPDATE or DELETE: every table it changes is
// decided (decide), then the dialect runs it with its records. A write
// refused before anything ran runs unaudited under the warn policy.
func (c *conn) runWrite(ctx context.Context, a *sqlstmt.Analysis, q string, args []driver.NamedValue, wantRows, fromStmt bool) (driver.Result, driver.Rows, error) {
	for again := 0; ; again++ {
		ex, err := c.execution(ctx, a, q, args, wantRows, fromStmt)
		if err == nil && ex != nil {
			var res driver.Result
			var rows driver.Rows
			if res, rows, err = c.c.sh.Dialect.Run(ex); err == nil {
				return res, rows, nil
			}
		}
		switch {
		case errors.Is(err, engine.ErrRunAgain) && again < maxRunAgain:
			continue
		case errors.Is(err, engine.ErrRunAgain):
			return nil, nil, engine.Fail(q, ex.Table.Display, "the schema kept changing while the statement was prepared; run it again", engine.Conflict)
		case err != nil && !c.warned(ctx, err):
			return nil, nil, err
		}
		// Nothing it changes is audited, or the warn policy lets it run.
		if err := c.unaudited(ctx); err != nil {
			return nil, nil, err
		}
		return c.s.PassThrough(ctx, q, args, wantRows, fromStmt)
	}
}

// warned reports a refusal decided before anything ran that the warn
// policy turns into a warning: the statement then runs unaudited.
func (c *conn) warned(ctx context.Context, err error) bool {
	var e *engine.Error
	if c.c.opts.Unsupported != Warn || !errors.As(err, &e) || !e.Refused {
		return false
	}
	c.c.log.WarnContext(ctx, "sqlaudit: statement runs unaudited", "reason", e.Reason, "table", e.Table, "query", e.Query)
	return true
}

// execution decides every table a write changes and returns its Execution
// for the dialect, or nil when it runs untouched: none of its tables is
// audited, or one does not exist (the database then says so in its own
// words).
func (c *conn) execution(ctx context.Context, a *sqlstmt.Analysis, q string, args []driver.NamedValue, wantRows, fromStmt bool) (*engine.Execution, error) {
	ex := &engine.Execution{Ctx: ctx, Session: c.s, Stmt: a, Query: q, Args: args, WantRows: wantRows, FromStmt: fromStmt}
	refs := a.Tables // a multi-table UPDATE or DELETE (MySQL)
	if len(refs) < 2 {
		refs = []sqlstmt.TableRef{a.Table}
	}
	for _, ref := range refs {
		t, run, err := c.decide(ctx, a, q, ref)
		switch {
		case err != nil:
			return nil, err
		case t == nil:
			return nil, nil
		case !run:
			ex.Targets = append(ex.Targets, nil) // excluded: changed, not recorded
			continue
		}
		ex.Targets = append(ex.Targets, t)
		if ex.Table == nil {
			ex.Table = t
		}
	}
	if ex.Table == nil {
		return nil, nil
	}
	var err error
	if ex.Actor, ex.Metadata, err = who(ctx); err != nil {
		return nil, err
	}
	return ex, nil
}

// decide resolves one table that write a (text q) changes and says what
// becomes of the write there. It is the one place where the options and
// the dialect's abilities meet a table:
//   - an error: refused — the audit or seal table itself, a table the
//     dialect cannot audit, an audited table without a key, an excluded
//     table whose foreign-key actions may change audited rows the dialect
//     cannot record;
//   - t nil: no such table; the database reports that in its own words;
//   - run false: the table is excluded; it changes unrecorded;
//   - run true: the dialect runs the write with its records (t is audited,
//     or excluded but its foreign-key actions or its triggers may reach
//     audited tables, which the dialect records).
func (c *conn) decide(ctx context.Context, a *sqlstmt.Analysis, q string, ref sqlstmt.TableRef) (t *engine.TableInfo, run bool, err error) {
	t, err = c.s.Table(ctx, ref)
	features := c.c.sh.Dialect.Features()
	switch {
	case err != nil:
		return nil, false, engine.CatalogFailed(q, ref.Name, err)
	case t == nil:
		return nil, false, nil
	case t.IsAudit:
		return nil, false, engine.AuditTableRefused(q, t.Display)
	case t.Redirects != "":
		return nil, false, engine.Refuse(q, t.Display, "cannot audit a write to this table: "+t.Redirects)
	case !t.Audited && !c.cascadesFrom(a, t) && !(t.Triggers && features.Has(engine.RecordsCascades)):
		return t, false, nil
	case !t.Audited && !features.Has(engine.RecordsCascades):
		return nil, false, engine.Refuse(q, t.Display, "the table is not audited, but a foreign-key action of this statement may change rows of an audited table")
	case t.Unsupported != "":
		return nil, false, engine.Refuse(q, t.Display, "cannot audit a write to this table: "+t.Unsupported)
	case len(t.Key) == 0 && t.Audited: // an excluded table's key matters only to cascades, see the dialect
		return nil, false, engine.KeyMissing(q, t.Display)
	}
	return t, true, nil
}

// cascadesFrom reports whether a statement on the excluded table t may fire
// a foreign-key action that reaches an audited table: one into an audited
// table, or, for a dialect that follows actions through excluded tables
// itself (PostgreSQL), any action.
func (c *conn) cascadesFrom(a *sqlstmt.Analysis, t *engine.TableInfo) bool {
	deep := c.c.sh.Dialect.Features().Has(engine.FollowsCascades)
	deletes := a.Kind == sqlstmt.Delete || a.Kind == sqlstmt.Merge || a.OrReplace || t.Replaces // REPLACE deletes conflicting rows
	updates := a.Kind == sqlstmt.Update || a.Kind == sqlstmt.Merge
	for _, fk := range t.Children {
		if (fk.Audited || deep) && (deletes && fk.OnDelete || updates && fk.OnUpdate) {
			return true
		}
	}
	return false
}

// runParts runs a multi-statement string statement by statement, as the
// driver would, each audited (or refused) on its own, and returns the last
// statement's result. Arguments are dealt out in order, as many to each
// statement as it has placeholders.
func (c *conn) runParts(ctx context.Context, a *sqlstmt.Analysis, args []driver.NamedValue) (driver.Result, driver.Rows, error) {
	for _, arg := range args {
		if arg.Name != "" {
			return nil, nil, engine.Fail(a.Text, "", "cannot audit several statements in one string with named arguments; send them one at a time", engine.Unsupported)
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
// statement did: DDL makes every catalog stale, SET and friends this
// connection's, transaction control begins or ends its transaction.
func (c *conn) after(a *sqlstmt.Analysis) {
	if a == nil {
		return
	}
	if a.Kind == sqlstmt.DDL {
		c.c.sh.DDLRan()
	}
	if a.ResetsSession {
		c.s.DropCatalog()
	}
	switch {
	case a.BeginsTx:
		c.s.State.TxBegan()
	case a.EndsTx:
		c.s.State.TxEnded()
	}
	if o, ok := c.s.State.(engine.Observer); ok {
		o.Passed(a)
	}
}
