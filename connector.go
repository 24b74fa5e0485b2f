package sqlaudit

import (
	"context"
	"database/sql/driver"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
)

// connector holds what every connection of one database shares: options,
// the statement analysis cache and the catalog.
type connector struct {
	base     driver.Connector
	drv      driver.Driver
	dialect  Dialect
	opts     Options
	filter   filter
	log      *slog.Logger
	auditRef sqlstmt.TableRef // the audit table as configured
	audit    string           // the audit table, quoted for SQL

	mu       sync.RWMutex
	analyses map[string]*sqlstmt.Analysis
	plans    map[planKey]any
	ddlGen   atomic.Uint64 // moves on with every DDL statement: catalogs are stale

	createMu sync.Mutex
	created  bool
}

var (
	_ driver.Connector = (*connector)(nil)
	_ io.Closer        = (*connector)(nil)
)

// maxAnalyses bounds the analysis cache; applications that build statement
// texts with literals inside would otherwise grow it without end.
const maxAnalyses = 4096

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
	c := &connector{base: base, drv: drv, dialect: dialect, opts: opts, filter: newFilter(opts), log: opts.Logger}
	if i := strings.LastIndexByte(opts.Table, '.'); i >= 0 {
		c.auditRef = sqlstmt.TableRef{Schema: opts.Table[:i], Name: opts.Table[i+1:]}
		c.audit = dialect.ident(c.auditRef.Schema) + "." + dialect.ident(c.auditRef.Name)
	} else {
		c.auditRef = sqlstmt.TableRef{Name: opts.Table}
		c.audit = dialect.ident(opts.Table)
	}
	if drv == nil {
		c.drv = &Driver{parent: base.Driver(), dialect: dialect, opts: opts}
	}
	return c, nil
}

// Connect opens an underlying connection, creates the audit table on the
// first connection (unless NoCreate) and sets up the dialect's state.
func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	raw, err := c.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	cn := &conn{raw: raw, c: c}
	if err := c.ensureAuditTable(ctx, cn); err != nil {
		raw.Close()
		return nil, err
	}
	if cn.dc, err = c.dialect.connState(ctx, cn); err != nil {
		raw.Close()
		return nil, err
	}
	return cn, nil
}

func (c *connector) Driver() driver.Driver { return c.drv }

// Close closes the underlying connector when it can be closed.
func (c *connector) Close() error {
	if cl, ok := c.base.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

func (c *connector) ensureAuditTable(ctx context.Context, cn *conn) error {
	if c.opts.NoCreate {
		return nil
	}
	c.createMu.Lock()
	defer c.createMu.Unlock()
	if c.created {
		return nil
	}
	// A role that may only INSERT and SELECT there must still connect:
	// CREATE … IF NOT EXISTS needs the CREATE privilege even when the table
	// exists, so look first.
	if rows, err := cn.rawQuery(ctx, `SELECT 1 FROM `+c.audit+` WHERE false`, nil); err == nil {
		rows.Close()
		c.created = true
		return nil
	}
	for _, stmt := range c.dialect.auditDDL(c.audit) {
		if _, err := cn.rawExec(ctx, stmt, nil); err != nil {
			return stmtError(stmt, c.opts.Table, "creating the audit table failed (set Options.NoCreate or audit_create=false and create it with DDL)", ErrRecord, err)
		}
	}
	c.created = true
	return nil
}

// analysis returns the cached analysis of q, analysing it on a miss.
func (c *connector) analysis(q string) *sqlstmt.Analysis {
	c.mu.RLock()
	a := c.analyses[q]
	c.mu.RUnlock()
	if a != nil {
		return a
	}
	a = c.dialect.analyse(q)
	c.mu.Lock()
	if len(c.analyses) >= maxAnalyses || c.analyses == nil {
		c.analyses = make(map[string]*sqlstmt.Analysis, 64)
	}
	c.analyses[q] = a
	c.mu.Unlock()
	return a
}

// planKey identifies a dialect's rewritten form of one statement for one
// catalog entry; a catalog refresh makes new keys.
type planKey struct {
	a        *sqlstmt.Analysis
	t        *tableInfo
	wantRows bool
	nargs    int
}

// plan returns the cached plan for key, building it on a miss.
func (c *connector) plan(key planKey, build func() any) any {
	c.mu.RLock()
	p, ok := c.plans[key]
	c.mu.RUnlock()
	if ok {
		return p
	}
	p = build()
	c.mu.Lock()
	if len(c.plans) >= maxAnalyses || c.plans == nil {
		c.plans = make(map[planKey]any, 64)
	}
	c.plans[key] = p
	c.mu.Unlock()
	return p
}
