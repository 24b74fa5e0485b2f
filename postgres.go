package sqlaudit

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
	"io"
	"reflect"
	"strings"
	"time"
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

// pgConn is the PostgreSQL state of a connection: whether a transaction
// block is open (BeginTx, or BEGIN sent as a statement). Writes with
// foreign-key actions need one for their two statements and open their own
// otherwise (pgRunCascade).
type pgConn struct{ inTx bool }

func (*pgConn) fresh(context.Context, *tableInfo) bool { return true }
func (p *pgConn) txEnded()                             { p.inTx = false }
func (p *pgConn) txBegan()                             { p.inTx = true }

// pgInTx reports an open transaction block on c.
func pgInTx(c *conn) bool {
	p, ok := c.dc.(*pgConn)
	return ok && p.inTx
}

func (postgresDialect) Name() string            { return "postgres" }
func (postgresDialect) lexStyle() sqlstmt.Style { return sqlstmt.StylePostgres }
func (postgresDialect) analyse(q string) *sqlstmt.Analysis {
	return sqlstmt.Analyse(q, sqlstmt.StylePostgres)
}
func (postgresDialect) ident(s string) string { return sqlstmt.QuoteIdent(s) }
func (postgresDialect) keywordDSN() bool      { return true }

func (postgresDialect) connState(context.Context, *conn) (dialectConn, error) { return &pgConn{}, nil }

// oneByOne: PostgreSQL runs a multi-statement string as one implicit
// transaction, which the wrapper cannot reproduce statement by statement.
func (postgresDialect) oneByOne() bool { return false }

// commitAmbiguous: a COMMIT the server answered (an error with a SQLSTATE,
// lib/pq's and pgx's alike) failed; anything else broke on the way and may
// have committed. Neither driver tells reliably whether COMMIT was sent:
// lib/pq reports a connection lost after sending as driver.ErrBadConn, and
// pgx v5.12 as "conn closed" marked SafeToRetry (found by this package's
// tests), so both count as unknown.
func (postgresDialect) commitAmbiguous(err error) bool {
	var server interface{ SQLState() string }
	return !errors.As(err, &server)
}

// beforeDrop: PostgreSQL's DROP TABLE … CASCADE drops constraints, not rows.
func (postgresDialect) beforeDrop(context.Context, *conn, *tableInfo) error { return nil }

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

func (postgresDialect) sealing(audit, seal sqlstmt.TableRef) sealSQL {
	return sealSQL{
		ddl: []string{`CREATE TABLE IF NOT EXISTS ` + seal.Spelled() + ` (seq bigint PRIMARY KEY, record_id bigint NOT NULL UNIQUE, hash text NOT NULL, horizon bigint NOT NULL)`,
			`CREATE INDEX IF NOT EXISTS ` + sqlstmt.QuoteIdent(audit.Name+"_tx_id") + ` ON ` + audit.Spelled() + ` USING brin (tx_id)`},
		begin:     []string{"BEGIN", "SELECT pg_advisory_xact_lock(4736823598238)"},
		horizon:   `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`,
		horizExpr: "a.tx_id", txOnScale: true,
		before:  "a.occurred_at < $1",
		timeArg: func(t time.Time) any { return t },
		canonical: `json_build_array(a.id, a.tx_id, (extract(epoch FROM a.occurred_at) * 1000000)::bigint, a.actor, a.action,
			a.table_name, a.row_key, a.old_values, a.new_values, a.metadata, a.query)::text`,
	}
}

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
  c.relnatts::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = to_regclass($1::text)`

func (postgresDialect) loadTable(ctx context.Context, c *conn, ref sqlstmt.TableRef) (*tableInfo, error) {
	rows, err := c.queryAll(ctx, pgCatalogQuery, named(ref.Spelled())...)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	r := rows[0]
	t := &tableInfo{schema: asString(r[0]), name: asString(r[1])}
	t.quoted = sqlstmt.QuoteIdent(t.schema) + "." + sqlstmt.QuoteIdent(t.name)
	t.display = t.schema + "." + t.name
	if b, _ := r[2].(bool); b || asString(r[2]) == "t" {
		t.display = t.name
	}
	t.oid, _ = r[3].(int64)
	if err := json.Unmarshal([]byte(asString(r[4])), &t.columns); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(asString(r[5])), &t.key); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(asString(r[6])), &t.types); err != nil {
		return nil, err
	}
	t.natts, _ = r[7].(int64)
	return t, pgChildren(ctx, c, t)
}

// run sends the rewritten statement with the actor and metadata as two extra
// parameters after the caller's own.
func (postgresDialect) run(ex *execution) (driver.Result, driver.Rows, error) {
	cs, err := pgCascadeTree(ex)
	switch {
	case err != nil:
		return nil, nil, stmtError(ex.query, ex.t.display, "reading the foreign keys' tables from the catalog failed", ErrRecord, err)
	case !ex.t.audited && cs == nil && ex.cascadeRefused == "" && len(ex.cascadeChecks) == 0: // its actions reach no audited table after all
		return ex.c.passThrough(ex.ctx, ex.query, ex.args, ex.wantRows, ex.fromStmt)
	case ex.cascadeRefused != "" && (!ex.t.audited || ex.a.Upsert || ex.a.Truncate):
		return nil, nil, stmtError(ex.query, ex.t.display, "cannot audit "+ex.cascadeRefused, ErrUnsupported)
	case !ex.t.audited && len(ex.cascadeChecks) > 0:
		return nil, nil, stmtError(ex.query, ex.t.display, "the table is not audited, but a foreign-key action of this statement may change rows of an audited table (a trigger or generated column may change a referenced column)", ErrUnsupported)
	}
	if err := pgCheckArgs(ex); err != nil {
		return nil, nil, err
	}
	if cs != nil {
		ex.cascade = cs
		return pgRunCascade(ex)
	}
	key := planKey{a: ex.a, t: ex.t, wantRows: ex.wantRows, nargs: len(ex.args)}
	q := ex.c.c.plan(key, func() any { return pgStatement(ex) }).(string)
	return pgExecute(ex, q, false)
}

// pgExecute sends the rewritten statement q with the actor, the metadata
// and any further values (the rows locked for foreign-key actions) as extra
// parameters after the caller's own. Rows are read into memory when
// buffer is set (the wrapper's own transaction commits before the caller
// reads them).
func pgExecute(ex *execution, q string, buffer bool, extra ...any) (driver.Result, driver.Rows, error) {
	args := append(ex.args[:len(ex.args):len(ex.args)],
		driver.NamedValue{Ordinal: len(ex.args) + 1, Value: ex.actor},
		driver.NamedValue{Ordinal: len(ex.args) + 2, Value: ex.metadata})
	for _, v := range extra {
		args = append(args, driver.NamedValue{Ordinal: len(args) + 1, Value: v})
	}
	if ex.wantRows {
		// The caller's RETURNING list fixes the result type: not cached, so
		// DDL by other clients cannot make a cached plan change it.
		rows, err := ex.c.rawQuery(ex.ctx, q, args)
		if err != nil {
			return nil, nil, pgError(ex, err)
		}
		if pgJoinedReturning(ex) {
			hidden := 1
			if ex.a.Kind == sqlstmt.Update {
				hidden = 2
			}
			rows = newHiddenRows(rows, hidden)
		}
		if buffer {
			rows, err = bufferRows(rows)
			if err != nil {
				return nil, nil, pgError(ex, err)
			}
		}
		return nil, rows, nil
	}
	rows, err := ex.c.preparedQuery(ex.ctx, q, args)
	if err != nil {
		return nil, nil, pgError(ex, err)
	}
	count := make([]driver.Value, 1)
	if err := rows.Next(count); err != nil && err != io.EOF {
		rows.Close()
		return nil, nil, pgError(ex, err)
	}
	n, _ := count[0].(int64)
	if ex.a.Truncate {
		n = 0 // as PostgreSQL reports TRUNCATE
	}
	return result{rows: n, lastNote: "LastInsertId is not supported by this driver"}, nil, noRetry(rows.Close())
}

// pgCheckArgs refuses what the rewrite cannot carry: arguments that do not
// match the statement's placeholders one to one (the actor and metadata are
// appended after them), pgx's query options and NamedArgs (pgx would rewrite
// the statement text itself), RETURNING rows that may name joined tables.
func pgCheckArgs(ex *execution) error {
	a := ex.a
	if pgJoinedReturning(ex) && a.ReturningStar {
		return stmtError(ex.query, ex.t.display, "cannot audit RETURNING * of an UPDATE … FROM or DELETE … USING (it would include the wrapper's own columns); name the columns or tables (RETURNING t.*, s.x)", ErrUnsupported)
	}
	for _, arg := range ex.args {
		if arg.Value != nil && strings.HasPrefix(reflect.TypeOf(arg.Value).PkgPath(), "github.com/jackc/pgx/") &&
			!strings.Contains(reflect.TypeOf(arg.Value).PkgPath(), "pgtype") {
			return stmtError(ex.query, ex.t.display, fmt.Sprintf("pgx query options and NamedArgs (%T) cannot be audited; use $n placeholders", arg.Value), ErrUnsupported)
		}
	}
	if len(ex.args) != a.NumParams {
		return stmtError(ex.query, ex.t.display, fmt.Sprintf("the statement has %d placeholders but %d arguments were given", a.NumParams, len(ex.args)), ErrUnsupported)
	}
	return nil
}

// pgError maps the errors the rewritten statement raises on purpose to the
// wrapper's sentinels, and keeps database/sql from retrying a statement that
// was sent: every other error is the driver's own.
func pgError(ex *execution, err error) error {
	switch msg := err.Error(); {
	case strings.Contains(msg, upsertRaceMessage):
		return stmtError(ex.query, ex.t.display, "an upsert met a row a concurrent transaction wrote after the statement began", ErrConflict, err)
	case strings.Contains(msg, cascadeConflictMessage):
		return stmtError(ex.query, ex.t.display, "rows whose foreign-key actions fire came to match the statement while it ran, so the rows the actions change could not be read exactly; nothing changed", ErrConflict, err)
	case strings.Contains(msg, cascadeMessage):
		return stmtError(ex.query, ex.t.display, "a foreign-key action (ON DELETE/UPDATE CASCADE, SET NULL, SET DEFAULT) would change rows of an audited table, which the wrapper cannot record yet; nothing changed", ErrUnsupported, err)
	case strings.Contains(msg, staleCatalogMessage):
		ex.c.cat.tables = nil
		return stmtError(ex.query, ex.t.display, "the table name resolved to another table than when this connection first wrote it (search_path or a temporary table changed); nothing changed", ErrConflict, err)
	case strings.Contains(msg, staleColumnsMessage):
		ex.c.cat.tables = nil
		return stmtError(ex.query, ex.t.display, "a column was added to the table since this connection read its columns; nothing changed", ErrConflict, err)
	}
	var server interface{ SQLState() string }
	if errors.As(err, &server) && server.SQLState() == "42703" {
		// undefined_column: the caller's mistake, or a column the typed
		// UPDATE names was dropped or renamed by another client since the
		// catalog was read. Either way the next statement re-reads it.
		ex.c.cat.tables = nil
	}
	return noRetry(err)
}

// pgStatement builds the one statement that runs ex's write and its records:
//
//	WITH [the caller's CTEs,] _sqa_w AS (<the write, returning row images as jsonb>),
//	     _sqa_a AS (INSERT INTO audit_log … SELECT … FROM _sqa_w)
//	SELECT <count, or the caller's RETURNING list> FROM _sqa_w
func pgStatement(ex *execution) string {
	a := ex.a
	t := pgTarget(ex)
	var b strings.Builder
	b.WriteString("WITH ")
	if ex.cascade != nil && ex.cascade.closure != nil && a.With == "" {
		b.WriteString("RECURSIVE ") // the descendants of the deleted rows (pgClosureCTEs)
	}
	if a.With != "" {
		b.WriteString(a.With + ", ")
	}
	b.WriteString("_sqa_w AS (" + pgWrite(ex, t) + ")")
	if ex.t.audited {
		b.WriteString(", _sqa_a AS (" + pgRecords(ex, t) + ")")
	}
	check := ""
	if ex.cascade != nil {
		b.WriteString(pgCascadeCTEs(ex, ex.cascade))
		check = " WHERE (SELECT _sqa_ok FROM _sqa_chk)"
	}
	switch {
	case !ex.wantRows:
		b.WriteString(" SELECT count(*) FROM _sqa_w" + check)
	case pgJoinedReturning(ex): // the caller's columns, then the images pgExecute hides
		b.WriteString(" SELECT * FROM _sqa_w" + check)
	case a.Returning != "":
		b.WriteString(" SELECT " + a.Returning + " FROM (SELECT (_sqa_row).* FROM _sqa_w) AS " + t.ref + check)
	case check != "":
		b.WriteString(" SELECT FROM _sqa_w WHERE NOT (SELECT _sqa_ok FROM _sqa_chk)")
	default:
		b.WriteString(" SELECT FROM _sqa_w WHERE false")
	}
	return b.String()
}

// pgJoinedReturning: the caller wants the RETURNING rows of an UPDATE … FROM
// or DELETE … USING, whose list may name the joined tables. The write then
// returns the caller's list first and its row images after it, which
// pgExecute hides.
func pgJoinedReturning(ex *execution) bool {
	return ex.wantRows && ex.a.Returning != "" && ex.a.From != ""
}

// pgTargetRef is how the rewritten statement names the target table.
type pgTargetRef struct {
	spelled string // the table as the statement names it, quoted
	rel     string // [ONLY] spelled [AS alias]
	ref     string // the alias, or the table name: what column references qualify with
	image   string // the jsonb row image the record's key is taken from
}

func pgTarget(ex *execution) pgTargetRef {
	a, t := ex.a, ex.t
	r := pgTargetRef{spelled: a.Table.Spelled(), ref: sqlstmt.QuoteIdent(t.name), image: "w._sqa_old"}
	r.rel = r.spelled
	if a.Table.Only {
		r.rel = "ONLY " + r.rel
	}
	if a.Table.Alias != "" {
		r.ref = sqlstmt.QuoteIdent(a.Table.Alias)
		r.rel += " AS " + r.ref
	}
	if a.Kind == sqlstmt.Insert {
		r.image = "w._sqa_new"
	}
	return r
}

// pgWrite is the caller's write, rewritten to return its row images. An
// UPDATE is joined by key to the rows its predicate selects, locked, so the
// old image is the version the UPDATE overwrites.
func pgWrite(ex *execution, t pgTargetRef) string {
	a := ex.a
	row, ret := "", " RETURNING "
	switch {
	case pgJoinedReturning(ex):
		ret += a.Returning + ", " // first, so that the joined tables resolve
	case ex.wantRows && a.Returning != "":
		row = ", ROW(" + t.ref + ".*)::" + t.spelled + " AS _sqa_row"
	}
	where := ""
	if a.Where != "" {
		where = " WHERE " + a.Where
	}
	switch a.Kind {
	case sqlstmt.Delete:
		using := ""
		if a.From != "" {
			using = " USING " + a.From
		}
		return "DELETE FROM " + t.rel + using + where + ret + "to_jsonb(" + t.ref + ".*) AS _sqa_old" + row
	case sqlstmt.Insert:
		q := "INSERT INTO " + strings.TrimPrefix(t.rel, "ONLY ") + " " + a.InsertBody + " RETURNING to_jsonb(" + t.ref + ".*) AS _sqa_new" + row
		if a.Upsert {
			q += ", " + pgUpsertPrevious(ex, t)
		}
		return q
	}
	sel, join, images := pgUpdateImages(ex, t)
	selected, from := where, ""
	if a.From != "" {
		// The rows the join selects, each once: FOR UPDATE cannot take DISTINCT.
		selected = " WHERE EXISTS (SELECT 1 FROM " + a.From + where + ")"
		from = a.From + ", "
	}
	cond := strings.Join(join, " AND ")
	if a.Where != "" {
		cond += " AND (" + a.Where + ")"
	}
	return "UPDATE " + t.rel + " SET " + a.Set + " FROM " + from + "(SELECT " + strings.Join(sel, ", ") +
		" FROM " + t.rel + selected + " FOR UPDATE OF " + t.ref + ") AS _sqa_o WHERE " + cond + ret + images + row
}
