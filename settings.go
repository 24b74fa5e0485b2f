package sqlaudit

import (
	"context"
	"database/sql/driver"
	"io"
	"slices"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// The settings table (the audit table's name + "_settings") keeps what
// every writer of a trail must know, whatever its own DSN says: today the
// redacted columns (rows name 'redact', value "column" or "table.column").
// A connector's first connection adds its own Redact entries and redacts
// every entry it finds, so a tool that writes through a plain DSN — the
// sqlaudit command's revert, a second service — never records in clear a
// column the application redacts. Entries are only added: to stop redacting
// a column, delete its row.

// settingsName is the settings table's name beside the audit table.
func settingsName(audit string) string { return audit + "_settings" }

// settingsDDL creates the settings table named table (as SQL).
func settingsDDL(table string) string {
	return `CREATE TABLE IF NOT EXISTS ` + table + ` (name VARCHAR(64) NOT NULL, value VARCHAR(400) NOT NULL, PRIMARY KEY (name, value))`
}

// settingsTable is the connector's settings table, quoted.
func (c *connector) settingsTable() string {
	ref := sqlstmt.TableRef{Schema: c.sh.AuditRef.Schema, Name: settingsName(c.sh.AuditRef.Name)}
	if ref.Schema != "" {
		return c.sh.Dialect.Ident(ref.Schema) + "." + c.sh.Dialect.Ident(ref.Name)
	}
	return c.sh.Dialect.Ident(ref.Name)
}

// syncSettings runs on the database's first connection, before any table
// is read: it stores the options' redactions that the settings table lacks
// (creating it unless NoCreate) and redacts every stored one from now on.
// Failures are logged: without the table the options alone apply.
func (c *connector) syncSettings(ctx context.Context, s *engine.Session) {
	table := c.settingsTable()
	stored, err := c.readRedactions(ctx, s, table)
	if err != nil && len(c.opts.Redact) > 0 && !c.opts.NoCreate {
		if _, cerr := s.RawExec(ctx, settingsDDL(table), nil); cerr == nil {
			stored, err = nil, nil
		}
	}
	if err != nil {
		if len(c.opts.Redact) > 0 {
			c.log.WarnContext(ctx, "sqlaudit: the settings table cannot be read: other writers of this trail will not know the redacted columns (create it with `sqlaudit migrate`)",
				"table", table, "error", err)
		}
		return
	}
	ph := "?"
	if c.sh.Dialect.Name() == "postgres" {
		ph = "$1"
	}
	for _, col := range c.opts.Redact {
		if slices.Contains(stored, col) {
			continue
		}
		if _, err := s.RawExec(ctx, `INSERT INTO `+table+` (name, value) VALUES ('redact', `+ph+`)`, engine.Named(col)); err != nil {
			if again, rerr := c.readRedactions(ctx, s, table); rerr != nil || !slices.Contains(again, col) { // else another process stored it first
				c.log.WarnContext(ctx, "sqlaudit: storing a redacted column in the settings table failed: other writers of this trail will not redact it",
					"table", table, "column", col, "error", err)
			}
		}
	}
	redact := slices.Clone(c.opts.Redact)
	for _, col := range stored {
		if !slices.Contains(redact, col) {
			redact = append(redact, col)
		}
	}
	if len(redact) > len(c.opts.Redact) {
		c.sh.Filter = engine.NewFilter(c.opts.Include, c.opts.Exclude, redact)
	}
}

// readRedactions reads the stored redactions (not through the statement
// cache: this query runs once).
func (c *connector) readRedactions(ctx context.Context, s *engine.Session, table string) ([]string, error) {
	rows, err := s.RawQuery(ctx, `SELECT value FROM `+table+` WHERE name = 'redact'`, nil)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	row := make([]driver.Value, 1)
	for {
		switch err := rows.Next(row); {
		case err == io.EOF:
			return out, nil
		case err != nil:
			return nil, err
		}
		out = append(out, engine.AsString(row[0]))
	}
}
