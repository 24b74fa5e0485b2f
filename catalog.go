package sqlaudit

import (
	"context"
	"database/sql/driver"
	"fmt"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
	"io"
	"strings"
)

// tableInfo is what the catalog knows of one table. Entries are immutable;
// a refresh replaces them.
type tableInfo struct {
	schema, name string    // resolved, unquoted
	display      string    // recorded table_name
	quoted       string    // fully qualified, quoted for SQL
	columns      []string  // in table order
	types        []string  // SQLite: declared types; PostgreSQL: base type oids; by column
	key          []string  // primary key columns; SQLite without one: "rowid"
	redact       []string  // redacted columns present in the table
	audited      bool      // not excluded by Options
	isAudit      bool      // the audit table itself
	version      int64     // dialect-defined schema version at load time
	oid          int64     // PostgreSQL: the table's oid, to check the name still resolves to it
	natts        int64     // PostgreSQL: pg_class.relnatts, to check no column was added since
	replaces     bool      // SQLite: declares ON CONFLICT REPLACE (rows vanish unseen)
	children     []childFK // foreign keys whose actions change other tables' rows
	unsupported  string    // why writes to the table cannot be audited (MySQL), or ""
	autoInc      string    // MySQL: the AUTO_INCREMENT column, or ""
}

// childFK is a foreign key referencing a table with an action (CASCADE,
// SET NULL, SET DEFAULT) that changes the referencing rows.
type childFK struct {
	table              sqlstmt.TableRef // the referencing table, resolved
	display            string
	cols               []string // its referencing columns
	parent             []string // the referenced columns
	types              []string // their types (PostgreSQL)
	onDelete, onUpdate bool     // which actions change rows
	audited            bool     // the referencing table is audited
	// PostgreSQL: the actions ('c' cascade, 'n' set null, 'd' set default,
	// 0 none that changes rows), the columns ON DELETE SET NULL (cols)
	// assigns, and whether the referencing table is partitioned (the RI
	// triggers then write it without ONLY).
	delAction, updAction byte
	setCols              []string
	partitioned          bool
}

// catalog is one connection's view of the tables it writes. Names resolve
// per session (search_path, temporary tables), so entries are not shared
// between connections. The view is dropped when this connection changes its
// session settings and when any connection of the connector runs DDL (the
// connector's generation moves on).
type catalog struct {
	tables map[sqlstmt.TableRef]*tableInfo
	gen    uint64
}

// table returns the catalog entry for the table a statement targets,
// loading it on a miss or when the connection finds it stale. A nil entry
// means the table does not exist: the statement is then passed to the
// database, which reports that in its own words.
func (c *conn) table(ctx context.Context, ref sqlstmt.TableRef) (*tableInfo, error) {
	key := sqlstmt.TableRef{Schema: ref.Schema, Name: ref.Name}
	if gen := c.c.ddlGen.Load(); c.cat.gen != gen {
		c.cat = catalog{gen: gen}
	}
	if t := c.cat.tables[key]; t != nil && c.dc.fresh(ctx, t) {
		return t, nil
	}
	t, err := c.c.dialect.loadTable(ctx, c, key)
	if err != nil || t == nil {
		return nil, err
	}
	t.audited = c.c.filter.audited(t.display, t.name)
	for i := range t.children {
		fk := &t.children[i]
		fk.audited = c.c.filter.audited(fk.display, fk.table.Name)
	}
	for _, col := range t.columns {
		if c.c.filter.redacted(t.display, t.name, col) {
			t.redact = append(t.redact, col)
		}
	}
	seal, _ := c.c.sealTable()
	t.isAudit = key == c.c.auditRef || key == seal
	for _, ref := range []sqlstmt.TableRef{c.c.auditRef, seal} {
		if !t.isAudit && strings.EqualFold(t.name, ref.Name) && key != ref {
			// The same name may be the audit (or seal) table under another spelling.
			other, err := c.table(ctx, ref)
			if err != nil {
				return nil, err
			}
			t.isAudit = other != nil && other.schema == t.schema && other.name == t.name
		}
	}
	if c.cat.tables == nil {
		c.cat.tables = map[sqlstmt.TableRef]*tableInfo{}
	}
	c.cat.tables[key] = t
	return t, nil
}

// queryAll runs an internal query on the underlying connection (prepared
// once) and returns every row, closing the rows before returning (lib/pq
// and pgx cannot run a second statement while a result set is open).
func (c *conn) queryAll(ctx context.Context, q string, args ...driver.NamedValue) ([][]driver.Value, error) {
	rows, err := c.preparedQuery(ctx, q, args)
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
