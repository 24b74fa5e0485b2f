package sqlaudit

import (
	"context"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// admit decides a statement the wrapper cannot audit: refused (policy
// Refuse, or any write to the audit table), passed with a warning (policy
// Warn), or passed silently when every table it writes is excluded from
// auditing.
func (c *conn) admit(ctx context.Context, a *sqlstmt.Analysis) error {
	audited := len(a.Tables) == 0 // unknown tables: assume audited ones
	var names []string            // the audited tables it writes, for the counters
	for _, ref := range a.Tables {
		if ref.Name == "" {
			audited = true
			continue
		}
		t, err := c.s.Table(ctx, ref)
		if err != nil {
			return engine.CatalogFailed(a.Text, ref.Name, err)
		}
		if t == nil {
			continue
		}
		if t.IsAudit {
			return engine.AuditTableRefused(a.Text, t.Display)
		}
		audited = audited || t.Audited
		if t.Audited {
			names = append(names, t.Display)
		}
	}
	if !audited {
		return nil
	}
	if c.c.opts.Unsupported == Warn {
		c.c.log.WarnContext(ctx, "sqlaudit: statement runs unaudited", "reason", a.Reason, "query", engine.Truncate(a.Text))
		c.c.count(warned, names, false, "cannot audit this statement: "+a.Reason, engine.Truncate(a.Text))
		return nil
	}
	return engine.Fail(a.Text, "", "cannot audit this statement: "+a.Reason, engine.Unsupported)
}

// serverReads asks the database whether it can read a write the parser
// could not, by preparing it (nothing runs): a statement with a mistake
// fails with the database's own error, as without the wrapper, rather than
// with a refusal; one the database reads stays refused (unless the warn
// policy lets it run).
func (c *conn) serverReads(ctx context.Context, a *sqlstmt.Analysis) error {
	if !a.Unreadable || c.c.opts.Unsupported == Warn {
		return nil
	}
	st, err := c.s.RawPrepare(ctx, a.Text)
	if err != nil {
		return err
	}
	return st.Close()
}

// unaudited tells a dialect that captures rows inside the database
// (SQLite's triggers) that the next statement runs unaudited: nothing may
// record its rows under the previous statement's context.
func (c *conn) unaudited(ctx context.Context) error {
	if q, ok := c.s.State.(engine.Capturer); ok {
		return q.Quiet(ctx)
	}
	return nil
}

// beforeDDL lets the dialect act before DDL runs: refuse a DROP TABLE that
// would change audited rows unseen, prepare the connection.
func (c *conn) beforeDDL(ctx context.Context, a *sqlstmt.Analysis) error {
	if dc, ok := c.c.sh.Dialect.(engine.DropChecker); ok {
		for _, ref := range a.Tables {
			t, err := c.s.Table(ctx, ref)
			if err != nil || t == nil {
				continue // the database reports a missing table in its own words
			}
			if err := dc.BeforeDrop(ctx, c.s, t); err != nil {
				return err
			}
		}
	}
	if p, ok := c.s.State.(engine.DDLPreparer); ok {
		return p.BeforeDDL(ctx, a)
	}
	return nil
}
