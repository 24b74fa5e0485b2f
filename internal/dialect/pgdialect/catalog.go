package pgdialect

import (
	"context"
	"encoding/json"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

const pgCatalogQuery = `SELECT n.nspname, c.relname, n.nspname = 'public', c.oid::bigint,
  coalesce((SELECT json_agg(a.attname ORDER BY a.attnum) FROM pg_attribute a
            WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '[]')::text,
  coalesce((SELECT json_agg(a.attname ORDER BY k.ord) FROM pg_index i
            CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
            WHERE i.indrelid = c.oid AND i.indisprimary), '[]')::text,
  coalesce((SELECT json_agg((CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END)::text ORDER BY a.attnum)
            FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
            WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '[]')::text,
  coalesce((SELECT i.indkey::text FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary), ''),
  coalesce((SELECT json_agg(a.atttypid::text ORDER BY a.attnum) FROM pg_attribute a
            WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '[]')::text, c.relkind::text, c.relhasrules, c.relhassubclass AND c.relkind <> 'p', row_security_active(c.oid),
  (SELECT CASE WHEN rn.nspname = 'public' THEN r.relname ELSE rn.nspname || '.' || r.relname END
     FROM pg_class r JOIN pg_namespace rn ON rn.oid = r.relnamespace WHERE c.relispartition AND r.oid = pg_partition_root(c.oid)),
  current_setting('server_version_num')::int,
  EXISTS (SELECT 1 FROM pg_trigger tg WHERE tg.tgrelid = c.oid AND NOT tg.tgisinternal AND tg.tgtype::int & 19 = 19),
  coalesce((SELECT i.indexrelid::bigint FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary), 0), c.relnatts::int
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = to_regclass($1::text)`

func (Dialect) LoadTable(ctx context.Context, c *engine.Session, ref sqlstmt.TableRef) (*engine.TableInfo, error) {
	rows, err := c.QueryAll(ctx, pgCatalogQuery, engine.Named(ref.Spelled())...)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	r := rows[0]
	t := &engine.TableInfo{Schema: engine.AsString(r[0]), Name: engine.AsString(r[1])}
	t.Quoted = sqlstmt.QuoteIdent(t.Schema) + "." + sqlstmt.QuoteIdent(t.Name)
	t.Display = t.Schema + "." + t.Name
	if pgBool(r[2]) {
		t.Display = t.Name
	}
	var ext pgTable
	ext.OID, _ = r[3].(int64)
	if err := json.Unmarshal([]byte(engine.AsString(r[4])), &t.Columns); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(engine.AsString(r[5])), &t.Key); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(engine.AsString(r[6])), &ext.Types); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(engine.AsString(r[8])), &ext.Declared); err != nil {
		return nil, err
	}
	ext.PKey, ext.Kind = engine.AsString(r[7]), engine.AsString(r[9])
	ext.PKIndex, ext.Natts = engine.AsInt(r[16]), int(engine.AsInt(r[17]))
	switch {
	case ext.Kind == "v":
		t.Redirects = "it is a view: a write through it changes its base tables (or runs its rules or INSTEAD OF triggers), whose rows the wrapper cannot follow through the view; write to the base tables"
	case pgBool(r[10]):
		t.Redirects = "it has rules, which rewrite statements on it into others the wrapper cannot see"
	case pgBool(r[12]):
		t.Unsupported = "row-level security is active on it for this role, so the rows the wrapper reads are not the rows a statement changes"
	}
	ext.Inherited = pgBool(r[11]) // writes without ONLY are refused (Run)
	ext.Version = int(engine.AsInt(r[14]))
	ext.BeforeUpdate = pgBool(r[15]) // ROW | BEFORE | UPDATE
	if root := engine.AsString(r[13]); root != "" {
		t.Display = root // a partition's rows are recorded under the partitioned table
	}
	t.Ext = ext
	return t, pgChildren(ctx, c, t)
}

// pgTable is what the PostgreSQL dialect keeps of a table beside the
// generic entry (TableInfo.Ext).
type pgTable struct {
	OID      int64    // to check that the name still resolves to it
	Types    []string // base type oids by column (a domain's base type): how the typed UPDATE compares
	Declared []string // declared type oids by column, to check that none was retyped
	PKey     string   // the primary key's column numbers (pg_index.indkey)
	PKIndex  int64    // the primary key's index (0: none), to check that it is still there
	Natts    int      // pg_class.relnatts: the next column added gets number Natts+1
	Kind     string   // pg_class.relkind: 'r' table, 'p' partitioned table, …
	// Inherited: other tables inherit from it (not as partitions), so a
	// write without ONLY changes their rows too.
	Inherited bool
	// Version is the server's version number (180004 for 18.4): what it
	// returns decides the plan.
	Version int
	// BeforeUpdate: it has a BEFORE UPDATE row trigger (see pgOldNew).
	BeforeUpdate bool
}

// pgt is the PostgreSQL part of t's entry.
func pgt(t *engine.TableInfo) pgTable {
	e, _ := t.Ext.(pgTable)
	return e
}

const pgChildrenQuery = `SELECT cn.nspname, cc.relname, cn.nspname = 'public', con.confdeltype::text, con.confupdtype::text,
  (SELECT json_agg(a.attname ORDER BY k.ord) FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum)::text,
  (SELECT json_agg(json_build_array(a.attname, format_type(a.atttypid, a.atttypmod)) ORDER BY k.ord)
     FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum)::text,
  coalesce((SELECT json_agg(a.attname ORDER BY k.ord) FROM unnest(con.confdelsetcols) WITH ORDINALITY AS k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum), '[]')::text,
  cc.relkind = 'p'
FROM pg_constraint con JOIN pg_class cc ON cc.oid = con.conrelid JOIN pg_namespace cn ON cn.oid = cc.relnamespace
WHERE con.contype = 'f' AND con.confrelid = $1::bigint::oid
  AND (con.confdeltype IN ('c', 'n', 'd') OR con.confupdtype IN ('c', 'n', 'd'))
ORDER BY con.conname, con.oid`

// pgChildren reads the foreign keys whose actions change other tables' rows
// when rows of t are deleted or their referenced columns updated.
func pgChildren(ctx context.Context, c *engine.Session, t *engine.TableInfo) error {
	rows, err := c.QueryAll(ctx, pgChildrenQuery, engine.Named(pgt(t).OID)...)
	if err != nil {
		return err
	}
	for _, r := range rows {
		fk := engine.ChildFK{Table: sqlstmt.TableRef{Schema: engine.AsString(r[0]), Name: engine.AsString(r[1])}}
		fk.Display = fk.Table.Schema + "." + fk.Table.Name
		if pgBool(r[2]) {
			fk.Display = fk.Table.Name
		}
		var ext pgFK
		ext.DelAction, ext.UpdAction = pgAction(engine.AsString(r[3])), pgAction(engine.AsString(r[4]))
		fk.OnDelete, fk.OnUpdate = ext.DelAction != 0, ext.UpdAction != 0
		var parent [][2]string
		if err := json.Unmarshal([]byte(engine.AsString(r[5])), &fk.Cols); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(engine.AsString(r[6])), &parent); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(engine.AsString(r[7])), &ext.SetCols); err != nil {
			return err
		}
		ext.Partitioned = pgBool(r[8])
		for _, p := range parent {
			fk.Parent, ext.Types = append(fk.Parent, p[0]), append(ext.Types, p[1])
		}
		fk.Ext = ext
		t.Children = append(t.Children, fk)
	}
	return nil
}

// pgFK is what the PostgreSQL dialect keeps of a foreign key beside the
// generic entry (ChildFK.Ext): the actions ('c' cascade, 'n' set null, 'd'
// set default, 0 none that changes rows), the referenced columns' types,
// the columns ON DELETE SET NULL (cols) assigns, and whether the
// referencing table is partitioned (the RI triggers then write it without
// ONLY).
type pgFK struct {
	DelAction, UpdAction byte
	Types                []string
	SetCols              []string
	Partitioned          bool
}

// pgfk is the PostgreSQL part of fk's entry.
func pgfk(fk *engine.ChildFK) pgFK {
	e, _ := fk.Ext.(pgFK)
	return e
}

// pgBool reads a boolean as lib/pq (bool) or pgx's text protocol ("t")
// returns it.
func pgBool(v any) bool {
	b, _ := v.(bool)
	return b || engine.AsString(v) == "t"
}

// pgAction maps pg_constraint's action codes to the ones that change rows:
// 'c' cascade, 'n' set null, 'd' set default; 0 for the others.
func pgAction(code string) byte {
	switch code {
	case "c", "n", "d":
		return code[0]
	}
	return 0
}

// LocateAudit returns the schema the audit table's name resolves to on s
// (not a temporary one: other sessions cannot see it), so that a session
// whose search_path names another schema with a table of that name still
// writes its records to the one trail.
func (Dialect) LocateAudit(ctx context.Context, s *engine.Session) (string, error) {
	rows, err := s.QueryAll(ctx, `SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.oid = to_regclass($1::text) AND NOT n.nspname LIKE 'pg\_temp\_%'`, engine.Named(s.Shared.Audit)...)
	if err != nil || len(rows) == 0 {
		return "", err
	}
	return engine.AsString(rows[0][0]), nil
}
