package sqlaudit

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"io"
	"strconv"
	"strings"
)

// PostgreSQL audits PostgreSQL through lib/pq or pgx. Each write becomes one
// statement and one round trip: a data-modifying WITH query that locks the
// rows the original predicate selects (an UPDATE), applies the original
// change joined to them, inserts one record per changed row computed from
// the before and after images the database itself returns, and returns
// exactly what the original statement would. Because the before image comes
// from the locked row, a statement that waited on a concurrent writer
// records the value it actually overwrote.
var PostgreSQL Dialect = postgresDialect{}

type postgresDialect struct{}

type pgConn struct{}

func (pgConn) fresh(context.Context, *tableInfo) bool { return true }
func (pgConn) txEnded()                               {}

func (postgresDialect) lexStyle() lexStyle { return stylePostgres }

func (postgresDialect) connState(context.Context, *conn) (dialectConn, error) { return pgConn{}, nil }

func (postgresDialect) auditDDL(table string) []string {
	return []string{`CREATE TABLE IF NOT EXISTS ` + table + ` (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx_id       bigint      NOT NULL,
    occurred_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor       text,
    action      text        NOT NULL CHECK (action IN ('INSERT', 'UPDATE', 'DELETE')),
    table_name  text        NOT NULL,
    row_key     jsonb       NOT NULL,
    old_values  jsonb,
    new_values  jsonb,
    metadata    jsonb,
    query       text        NOT NULL
)`}
}

const pgCatalogQuery = `SELECT n.nspname, c.relname, n.nspname = current_schema(),
  coalesce((SELECT json_agg(a.attname ORDER BY a.attnum) FROM pg_attribute a
            WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '[]')::text,
  coalesce((SELECT json_agg(a.attname ORDER BY k.ord) FROM pg_index i
            CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
            WHERE i.indrelid = c.oid AND i.indisprimary), '[]')::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = to_regclass($1::text)`

func (postgresDialect) loadTable(ctx context.Context, c *conn, ref tableRef) (*tableInfo, error) {
	name := quoteIdent(ref.name)
	if ref.schema != "" {
		name = quoteIdent(ref.schema) + "." + name
	}
	rows, err := c.queryAll(ctx, pgCatalogQuery, named(name)...)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	r := rows[0]
	t := &tableInfo{schema: asString(r[0]), name: asString(r[1])}
	t.quoted = quoteIdent(t.schema) + "." + quoteIdent(t.name)
	t.display = t.schema + "." + t.name
	if b, _ := r[2].(bool); b || asString(r[2]) == "t" {
		t.display = t.name
	}
	if err := json.Unmarshal([]byte(asString(r[3])), &t.columns); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(asString(r[4])), &t.key); err != nil {
		return nil, err
	}
	return t, nil
}

// run sends the rewritten statement with the actor and metadata as two extra
// parameters after the caller's own.
func (postgresDialect) run(ex *execution) (driver.Result, driver.Rows, error) {
	key := planKey{a: ex.a, t: ex.t, wantRows: ex.wantRows, nargs: len(ex.args)}
	q := ex.c.c.plan(key, func() any { return pgStatement(ex) }).(string)
	args := append(ex.args[:len(ex.args):len(ex.args)],
		driver.NamedValue{Ordinal: len(ex.args) + 1, Value: ex.actor},
		driver.NamedValue{Ordinal: len(ex.args) + 2, Value: ex.metadata})
	rows, err := ex.c.rawQuery(ex.ctx, q, args)
	if err != nil || ex.wantRows {
		return nil, rows, err
	}
	count := make([]driver.Value, 1)
	if err := rows.Next(count); err != nil && err != io.EOF {
		rows.Close()
		return nil, nil, err
	}
	n, _ := count[0].(int64)
	return result{rows: n, lastNote: "LastInsertId is not supported by this driver"}, nil, rows.Close()
}

// pgStatement builds the one statement that runs ex's write and its records:
//
//	WITH _sqa_w AS (<the write, returning before/after images as jsonb>),
//	     _sqa_a AS (INSERT INTO audit_log … SELECT … FROM _sqa_w)
//	SELECT <count, or the caller's RETURNING list> FROM _sqa_w
func pgStatement(ex *execution) string {
	a, t := ex.a, ex.t
	ref := quoteIdent(t.name)
	alias := ""
	if a.table.alias != "" {
		ref = quoteIdent(a.table.alias)
		alias = " AS " + ref
	}
	only := ""
	if a.table.only {
		only = "ONLY "
	}
	where := ""
	if a.whereText != "" {
		where = " WHERE " + a.whereText
	}
	row := ""
	if ex.wantRows && a.returningText != "" {
		row = ", ROW(" + ref + ".*)::" + t.quoted + " AS _sqa_row"
	}
	var b strings.Builder
	b.WriteString("WITH _sqa_w AS (")
	action, image := "", ""
	switch a.kind {
	case kindUpdate:
		action, image = "UPDATE", "w._sqa_old"
		var sel, join []string
		for i, k := range t.key {
			n := "_sqa_k" + strconv.Itoa(i)
			sel = append(sel, ref+"."+quoteIdent(k)+" AS "+n)
			join = append(join, ref+"."+quoteIdent(k)+" = _sqa_o."+n)
		}
		b.WriteString("UPDATE " + only + t.quoted + alias + " SET " + a.setText +
			" FROM (SELECT " + strings.Join(sel, ", ") + ", to_jsonb(" + ref + ".*) AS _sqa_old FROM " +
			only + t.quoted + alias + where + " FOR UPDATE OF " + ref + ") AS _sqa_o WHERE " + strings.Join(join, " AND "))
		if a.whereText != "" {
			b.WriteString(" AND (" + a.whereText + ")")
		}
		b.WriteString(" RETURNING _sqa_o._sqa_old, to_jsonb(" + ref + ".*) AS _sqa_new" + row)
	case kindDelete:
		action, image = "DELETE", "w._sqa_old"
		b.WriteString("DELETE FROM " + only + t.quoted + alias + where + " RETURNING to_jsonb(" + ref + ".*) AS _sqa_old" + row)
	case kindInsert:
		action, image = "INSERT", "w._sqa_new"
		b.WriteString("INSERT INTO " + t.quoted + alias + " " + a.insertBody + " RETURNING to_jsonb(" + ref + ".*) AS _sqa_new" + row)
	}
	n := len(ex.args)
	b.WriteString("), _sqa_a AS (INSERT INTO " + ex.c.c.audit +
		" (tx_id, actor, action, table_name, row_key, old_values, new_values, metadata, query)" +
		" SELECT pg_current_xact_id()::text::bigint, $" + strconv.Itoa(n+1) + "::text, '" + action + "', " +
		quoteLiteral(t.display, true) + ", " + pgRowKey(t, image) + ", ")
	switch a.kind {
	case kindUpdate:
		b.WriteString("d.o, d.n")
	case kindDelete:
		b.WriteString(pgRedactRow(t, image) + ", NULL")
	case kindInsert:
		b.WriteString("NULL, " + pgRedactRow(t, image))
	}
	b.WriteString(", $" + strconv.Itoa(n+2) + "::jsonb, " + quoteLiteral(ex.query, true) + " FROM _sqa_w w")
	if a.kind == kindUpdate {
		b.WriteString(" CROSS JOIN LATERAL (SELECT jsonb_object_agg(jo.key, " + pgRedactValue(t, "jo") +
			") AS o, jsonb_object_agg(jo.key, " + pgRedactValue(t, "jn") + ") AS n" +
			" FROM jsonb_each(w._sqa_old) jo JOIN jsonb_each(w._sqa_new) jn ON jn.key = jo.key" +
			" WHERE jo.value IS DISTINCT FROM jn.value) d WHERE d.o IS NOT NULL")
	}
	b.WriteString(") ")
	switch {
	case !ex.wantRows:
		b.WriteString("SELECT count(*) FROM _sqa_w")
	case a.returningText != "":
		b.WriteString("SELECT " + a.returningText + " FROM (SELECT (_sqa_row).* FROM _sqa_w) AS " + ref)
	default:
		b.WriteString("SELECT FROM _sqa_w WHERE false")
	}
	return b.String()
}

// pgRowKey is the JSON object of the key columns taken from a row image.
func pgRowKey(t *tableInfo, image string) string {
	parts := make([]string, 0, 2*len(t.key))
	for _, k := range t.key {
		l := quoteLiteral(k, true)
		parts = append(parts, l, image+"->"+l)
	}
	return "jsonb_build_object(" + strings.Join(parts, ", ") + ")"
}

// pgRedactRow masks the redacted columns of a whole-row image.
func pgRedactRow(t *tableInfo, image string) string {
	if len(t.redact) == 0 {
		return image
	}
	mask := map[string]string{}
	for _, c := range t.redact {
		mask[c] = RedactedValue
	}
	b, _ := json.Marshal(mask)
	return "(" + image + " || " + quoteLiteral(string(b), true) + "::jsonb)"
}

// pgRedactValue masks the value of one jsonb_each entry when its column is
// redacted.
func pgRedactValue(t *tableInfo, each string) string {
	if len(t.redact) == 0 {
		return each + ".value"
	}
	lits := make([]string, len(t.redact))
	for i, c := range t.redact {
		lits[i] = quoteLiteral(c, true)
	}
	mask, _ := json.Marshal(RedactedValue)
	return "CASE WHEN " + each + ".key IN (" + strings.Join(lits, ", ") + ") THEN " +
		quoteLiteral(string(mask), true) + "::jsonb ELSE " + each + ".value END"
}
