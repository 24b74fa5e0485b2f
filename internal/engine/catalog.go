package engine

import (
	"context"
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// TableInfo is what the catalog knows of one table. Entries are immutable —
// a refresh replaces them — and shared by the connections that see the same
// table (see Shared). What only one dialect needs goes in Ext, a value with
// exported fields (its JSON form is part of the entry's identity).
type TableInfo struct {
	Schema, Name string   // resolved, unquoted
	Display      string   // recorded table_name
	Quoted       string   // fully qualified, quoted for SQL
	Columns      []string // in table order
	Key          []string // primary key columns; SQLite without one: "rowid"
	Redact       []string // redacted columns present in the table
	Audited      bool     // not excluded by the options
	IsAudit      bool     // the audit or seal table itself
	Replaces     bool     // an INSERT or UPDATE may delete conflicting rows unseen (SQLite's ON CONFLICT REPLACE)
	Triggers     bool     // the database's own triggers on the table may change other tables (SQLite)
	Children     []ChildFK
	Unsupported  string // why writes to the table cannot be audited, or ""
	// Redirects says why a write to it changes other tables than itself
	// (a view, rules, INSTEAD OF triggers), or "": such a write is refused
	// even when the name is excluded, as the tables it changes may be
	// audited.
	Redirects string
	Ext       any // the dialect's own facts about the table
}

// ChildFK is a foreign key referencing a table with an action (CASCADE, SET
// NULL, SET DEFAULT) that changes the referencing rows.
type ChildFK struct {
	Table              sqlstmt.TableRef // the referencing table, resolved
	Display            string
	Cols               []string // its referencing columns
	Parent             []string // the referenced columns
	OnDelete, OnUpdate bool     // which actions change rows
	Audited            bool     // the referencing table is audited
	Ext                any      // the dialect's own facts about the key
}

// IsKey reports whether col is one of the key columns (names compare as the
// databases compare unquoted names, case-insensitively).
func (t *TableInfo) IsKey(col string) bool {
	for _, k := range t.Key {
		if strings.EqualFold(col, k) {
			return true
		}
	}
	return false
}

// catalog is one connection's view of the tables it writes. Names resolve
// per session (search_path, temporary tables), so the view is the
// connection's own, though its entries may be shared. It is dropped when the
// connection changes its session settings and when any connection of the
// database runs DDL (the shared generation moves on).
type catalog struct {
	tables map[sqlstmt.TableRef]*TableInfo
	gen    uint64
}

// Table returns the catalog entry for the table a statement names, loading
// it on a miss or when the connection finds it stale. A nil entry means the
// table does not exist: the statement is then passed to the database, which
// reports that in its own words.
func (s *Session) Table(ctx context.Context, ref sqlstmt.TableRef) (*TableInfo, error) {
	key := sqlstmt.TableRef{Schema: ref.Schema, Name: ref.Name}
	if gen := s.Shared.Generation(); s.cat.gen != gen {
		s.cat = catalog{gen: gen}
	}
	if t := s.cat.tables[key]; t != nil && (s.fresh == nil || s.fresh.Fresh(ctx, t)) {
		return t, nil
	}
	t, err := s.Shared.Dialect.LoadTable(ctx, s, key)
	if err != nil || t == nil {
		return nil, err
	}
	if err := s.applyOptions(ctx, key, t); err != nil {
		return nil, err
	}
	t = s.Shared.intern(t)
	if s.cat.tables == nil {
		s.cat.tables = map[sqlstmt.TableRef]*TableInfo{}
	}
	s.cat.tables[key] = t
	return t, nil
}

// applyOptions fills in what the options say of a freshly loaded entry:
// audited or not, redacted columns, and whether it is the audit table.
func (s *Session) applyOptions(ctx context.Context, key sqlstmt.TableRef, t *TableInfo) error {
	f := s.Shared.Filter
	t.Audited = f.Audited(t.Display, t.Name)
	for i := range t.Children {
		fk := &t.Children[i]
		fk.Audited = f.Audited(fk.Display, fk.Table.Name)
	}
	for _, col := range t.Columns {
		if f.Redacted(t.Display, t.Name, col) {
			t.Redact = append(t.Redact, col)
		}
	}
	audit, seal := s.Shared.AuditRef, s.Shared.SealRef
	t.IsAudit = key == audit || key == seal
	for _, ref := range []sqlstmt.TableRef{audit, seal} {
		if !t.IsAudit && strings.EqualFold(t.Name, ref.Name) && key != ref {
			// The same name may be the audit (or seal) table under another spelling.
			other, err := s.Table(ctx, ref)
			if err != nil {
				return err
			}
			t.IsAudit = other != nil && other.Schema == t.Schema && other.Name == t.Name
		}
	}
	return nil
}

// DropCatalog forgets the connection's view of its tables: names may
// resolve differently now (SET search_path), or a table changed.
func (s *Session) DropCatalog() { s.cat.tables = nil }
