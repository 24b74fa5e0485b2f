package sqlaudit

import (
	"context"
	"database/sql/driver"
	"io"
	"log/slog"
	"sync"

	"github.com/sqlaudit/sqlaudit/internal/engine"
)

// connector holds what every connection of one database shares: the
// options, and the engine's shared state (dialect, filter, audit table,
// analysis and plan caches).
type connector struct {
	base driver.Connector
	drv  driver.Driver
	opts Options
	log  *slog.Logger
	sh   *engine.Shared

	stats counters // what became of the writes (stats.go)

	createMu sync.Mutex
	created  bool // the audit table exists
	located  bool // the first connection has looked for it (see prepareAudit)
}

var (
	_ driver.Connector = (*connector)(nil)
	_ io.Closer        = (*connector)(nil)
)

// WrapConnector returns an audit connector over base, which must speak
// dialect: use it with sql.OpenDB, e.g. over pq.NewConnector or pgx's
// stdlib.GetConnector.
func WrapConnector(base driver.Connector, dialect Dialect, opts Options) (driver.Connector, error) {
	return newConnector(base, nil, dialect, opts)
}

func newConnector(base driver.Connector, drv driver.Driver, dialect Dialect, opts Options) (*connector, error) {
	if opts.Table == "" {
		opts.Table = "audit_log"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	filter := engine.NewFilter(opts.Include, opts.Exclude, opts.Redact)
	c := &connector{base: base, drv: drv, opts: opts, log: opts.Logger, sh: engine.NewShared(dialect.impl(), filter, opts.Table)}
	if drv == nil {
		c.drv = &Driver{parent: base.Driver(), dialect: dialect, opts: opts}
	}
	return c, nil
}

// Connect opens an underlying connection, creates the audit table on the
// first connection (unless NoCreate) and lets the dialect set it up.
func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	raw, err := c.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	s := engine.NewSession(raw, c.sh)
	c.prepareAudit(ctx, s)
	if err := s.Open(ctx); err != nil {
		raw.Close()
		return nil, public(err)
	}
	return &conn{s: s, c: c}, nil
}

func (c *connector) Driver() driver.Driver { return c.drv }

// Close closes the underlying connector when it can be closed.
func (c *connector) Close() error {
	if cl, ok := c.base.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

// prepareAudit makes sure that the audit table exists (unless NoCreate)
// and, on the database's first connection, that every connection names the
// same one: an unqualified name is qualified with the schema it resolves to
// there. A failure belongs to no statement, so it does not fail the
// connection — reads keep working — but is logged; writes to audited tables
// then fail with ErrRecord until the table can be written, and the next
// connection tries to create it again.
func (c *connector) prepareAudit(ctx context.Context, s *engine.Session) {
	c.createMu.Lock()
	defer c.createMu.Unlock()
	if !c.created && !c.opts.NoCreate {
		if err := c.createAudit(ctx, s); err != nil {
			c.log.WarnContext(ctx, "sqlaudit: creating the audit table failed; reads work, writes to audited tables fail until it exists (create it with sqlaudit.DDL or `sqlaudit migrate`, or fix the connection's schema search path)",
				"table", c.opts.Table, "error", err)
		}
	}
	if c.located {
		return
	}
	c.located = true
	c.locateAudit(ctx, s)
	c.syncSettings(ctx, s)
	c.checkNames(ctx, s)
}

// locateAudit qualifies an unqualified audit table with the schema its name
// resolves to on this connection (see prepareAudit).
func (c *connector) locateAudit(ctx context.Context, s *engine.Session) {
	loc, ok := c.sh.Dialect.(engine.AuditLocator)
	if !ok || c.sh.AuditRef.Schema != "" {
		return
	}
	if schema, err := loc.LocateAudit(ctx, s); err != nil {
		c.log.WarnContext(ctx, "sqlaudit: looking up the audit table's schema failed; its name resolves per connection", "table", c.opts.Table, "error", err)
	} else if schema != "" {
		c.sh.Qualify(schema)
	}
}

func (c *connector) createAudit(ctx context.Context, s *engine.Session) error {
	// A role that may only INSERT and SELECT there must still connect:
	// CREATE … IF NOT EXISTS needs the CREATE privilege even when the table
	// exists, so look first.
	if rows, err := s.RawQuery(ctx, `SELECT 1 FROM `+c.sh.Audit+` WHERE false`, nil); err == nil {
		rows.Close()
		c.created = true
		return nil
	}
	for _, stmt := range append(c.sh.Dialect.AuditDDL(c.sh.Audit), settingsDDL(c.settingsTable())) {
		if _, err := s.RawExec(ctx, stmt, nil); err != nil {
			return err
		}
	}
	c.created = true
	return nil
}
