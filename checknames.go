package sqlaudit

import (
	"context"
	"database/sql/driver"
	"io"
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/engine"
)

// checkNames warns, on the database's first connection, about the tables
// that Include, Exclude and Redact name but that do not exist: a mistyped
// audit_exclude=userz would otherwise audit users without a word. A name
// may be schema-qualified ("billing.invoices") or bare, looked up where the
// connection resolves bare names (PostgreSQL's search_path, MariaDB's
// database, SQLite's attached schemas). A table created later by the
// application's migrations is warned about too, once; the options apply to
// it all the same.
func (c *connector) checkNames(ctx context.Context, s *engine.Session) {
	check := func(option string, names []string) {
		for _, n := range names {
			if n == "" {
				continue
			}
			ok, err := c.tableExists(ctx, s, n)
			if err == nil && !ok {
				c.log.WarnContext(ctx, "sqlaudit: "+option+" names a table that does not exist (mistyped?)", "option", option, "table", n)
			}
		}
	}
	check("audit_include", c.opts.Include)
	check("audit_exclude", c.opts.Exclude)
	var redacted []string
	for _, r := range c.opts.Redact {
		if i := strings.LastIndexByte(r, '.'); i > 0 {
			redacted = append(redacted, r[:i])
		}
	}
	check("audit_redact", redacted)
}

// tableExists looks a table up by its name as the options give it, in the
// dialect's catalog.
func (c *connector) tableExists(ctx context.Context, s *engine.Session, name string) (bool, error) {
	schema, table, qualified := strings.Cut(name, ".")
	if !qualified {
		schema, table = "", name
	}
	var q string
	args := engine.Named(schema, table)
	switch c.sh.Dialect.Name() {
	case "postgres":
		q = `SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND CASE $1 WHEN '' THEN pg_catalog.pg_table_is_visible(c.oid) ELSE n.nspname = $1 END AND c.relname = $2`
	case "sqlite":
		q = `SELECT 1 FROM pragma_table_list WHERE (?1 = '' OR schema = ?1) AND name = ?2`
	case "mysql":
		q = `SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE()) AND TABLE_NAME = ?`
	default:
		return true, nil
	}
	rows, err := s.RawQuery(ctx, q, args)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	err = rows.Next(make([]driver.Value, 1))
	if err == io.EOF {
		return false, nil
	}
	return err == nil, err
}
