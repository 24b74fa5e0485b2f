package sqlaudit

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"strings"
	"sync"
)

// tableInfo is what the catalog knows of one table. Entries are immutable;
// a refresh replaces them.
type tableInfo struct {
	schema, name string   // resolved, unquoted
	display      string   // recorded table_name
	quoted       string   // fully qualified, quoted for SQL
	columns      []string // in table order
	key          []string // primary key columns; SQLite without one: "rowid"
	redact       []string // redacted columns present in the table
	audited      bool     // not excluded by Options
	isAudit      bool     // the audit table itself
	version      int64    // dialect-defined schema version at load time
}

// catalog caches tableInfo per table as statements name it. It is shared by
// every connection of a connector and forgotten whenever the wrapper sees DDL.
type catalog struct {
	mu     sync.RWMutex
	tables map[tableRef]*tableInfo
}

func (k *catalog) get(ref tableRef) *tableInfo {
	k.mu.RLock()
	t := k.tables[ref]
	k.mu.RUnlock()
	return t
}

func (k *catalog) put(ref tableRef, t *tableInfo) {
	k.mu.Lock()
	if k.tables == nil {
		k.tables = map[tableRef]*tableInfo{}
	}
	k.tables[ref] = t
	k.mu.Unlock()
}

func (k *catalog) forget() {
	k.mu.Lock()
	k.tables = nil
	k.mu.Unlock()
}

// table returns the catalog entry for the table a statement targets,
// loading it on a miss or when the connection finds it stale. A nil entry
// means the table does not exist: the statement is then passed to the
// database, which reports that in its own words.
func (c *conn) table(ctx context.Context, ref tableRef) (*tableInfo, error) {
	key := tableRef{schema: ref.schema, name: ref.name}
	if t := c.c.catalog.get(key); t != nil && c.dc.fresh(ctx, t) {
		return t, nil
	}
	t, err := c.c.dialect.loadTable(ctx, c, key)
	if err != nil || t == nil {
		return nil, err
	}
	t.audited = c.c.filter.audited(t.display)
	for _, col := range t.columns {
		if c.c.filter.redacted(t.display, col) {
			t.redact = append(t.redact, col)
		}
	}
	audit := c.c.auditRef
	t.isAudit = t.name == audit.name && (audit.schema == "" || audit.schema == t.schema) &&
		(audit.schema != "" || !strings.Contains(t.display, "."))
	c.c.catalog.put(key, t)
	return t, nil
}

// queryAll runs an internal query on the underlying connection and returns
// every row, closing the rows before returning (lib/pq and pgx cannot run a
// second statement while a result set is open).
func (c *conn) queryAll(ctx context.Context, q string, args ...driver.NamedValue) ([][]driver.Value, error) {
	rows, err := c.rawQuery(ctx, q, args)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]driver.Value
	for {
		row := make([]driver.Value, len(rows.Columns()))
		if err := rows.Next(row); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		for i, v := range row {
			if b, ok := v.([]byte); ok { // the driver may reuse its buffer
				row[i] = string(b)
			}
		}
		out = append(out, row)
	}
}

// asString renders a text value as drivers return it ([]byte or string).
func asString(v driver.Value) string {
	switch s := v.(type) {
	case string:
		return s
	case []byte:
		return string(s)
	case nil:
		return ""
	default:
		return fmt.Sprint(s)
	}
}

// quoteIdent quotes an identifier for PostgreSQL and SQLite alike.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// quoteLiteral quotes a string literal; the doubled-quote form reads the same
// in SQLite and in PostgreSQL with standard_conforming_strings (the default
// since 9.1), and PostgreSQL's E” form is used where backslashes occur.
func quoteLiteral(s string, backslashE bool) string {
	q := "'" + strings.ReplaceAll(s, "'", "''") + "'"
	if backslashE && strings.Contains(s, `\`) {
		q = "E" + strings.ReplaceAll(q, `\`, `\\`)
	}
	return q
}
