package sqlaudit

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

type postgresDialect struct{}

// pgConn is the PostgreSQL state of a connection: whether a transaction
// block is open (BeginTx, or BEGIN sent as a statement). Writes with
// foreign-key actions need one for their two statements and open their own
// otherwise (pgRunCascade).
type pgConn struct{ inTx bool }

func (p *pgConn) TxEnded() { p.inTx = false }
func (p *pgConn) TxBegan() { p.inTx = true }

// pgInTx reports an open transaction block on c.
func pgInTx(c *engine.Session) bool {
	p, ok := c.State.(*pgConn)
	return ok && p.inTx
}

func (postgresDialect) Name() string { return "postgres" }
func (postgresDialect) Analyse(q string) *sqlstmt.Analysis {
	return sqlstmt.Analyse(q, sqlstmt.PostgreSQL)
}
func (postgresDialect) Ident(s string) string { return sqlstmt.QuoteIdent(s) }

// Features: DSNs may be libpq keyword strings; the dialect performs and
// records foreign-key actions itself (pgRunCascade), following them through
// excluded tables too. PostgreSQL runs a multi-statement string as one
// implicit transaction, which the wrapper cannot reproduce statement by
// statement: not OneByOne.
func (postgresDialect) Features() engine.Features {
	return engine.KeywordDSN | engine.RecordsCascades | engine.FollowsCascades
}

func (postgresDialect) Open(context.Context, *engine.Session) (engine.Conn, error) {
	return &pgConn{}, nil
}

// CommitAmbiguous: a COMMIT the server answered (an error with a SQLSTATE,
// lib/pq's and pgx's alike) failed; anything else broke on the way and may
// have committed. Neither driver tells reliably whether COMMIT was sent:
// lib/pq reports a connection lost after sending as driver.ErrBadConn, and
// pgx v5.12 as "conn closed" marked SafeToRetry (found by this package's
// tests), so both count as unknown.
func (postgresDialect) CommitAmbiguous(err error) bool {
	var server interface{ SQLState() string }
	return !errors.As(err, &server)
}

func (postgresDialect) AuditDDL(table string) []string {
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

func (postgresDialect) Sealing(audit, seal sqlstmt.TableRef) engine.SealSQL {
	return engine.SealSQL{
		DDL: []string{`CREATE TABLE IF NOT EXISTS ` + seal.Spelled() + ` (seq bigint PRIMARY KEY, record_id bigint NOT NULL UNIQUE, hash text NOT NULL, horizon bigint NOT NULL)`,
			`CREATE INDEX IF NOT EXISTS ` + sqlstmt.QuoteIdent(audit.Name+"_tx_id") + ` ON ` + audit.Spelled() + ` USING brin (tx_id)`},
		Begin:     []string{"BEGIN", "SELECT pg_advisory_xact_lock(4736823598238)"},
		Horizon:   `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`,
		HorizExpr: "a.tx_id", TxOnScale: true,
		Before:  "a.occurred_at < $1",
		TimeArg: func(t time.Time) any { return t },
		Canonical: `json_build_array(a.id, a.tx_id, (extract(epoch FROM a.occurred_at) * 1000000)::bigint, a.actor, a.action,
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

func (postgresDialect) LoadTable(ctx context.Context, c *engine.Session, ref sqlstmt.TableRef) (*engine.TableInfo, error) {
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
	ext.Natts, _ = r[7].(int64)
	t.Ext = ext
	return t, pgChildren(ctx, c, t)
}

// pgTable is what the PostgreSQL dialect keeps of a table beside the
// generic entry (TableInfo.Ext).
type pgTable struct {
	OID   int64    // to check that the name still resolves to it
	Natts int64    // pg_class.relnatts, to check that no column was added since
	Types []string // base type oids by column (a domain's base type)
}

// pgt is the PostgreSQL part of t's entry.
func pgt(t *engine.TableInfo) pgTable {
	e, _ := t.Ext.(pgTable)
	return e
}

// pgExec is a write on its way through the PostgreSQL dialect: the
// Execution and what its foreign-key actions need.
type pgExec struct {
	*engine.Execution
	cascade *pgCascade        // the actions the statement performs itself, or nil
	checks  []*engine.ChildFK // actions checked at run time instead: refused if they would fire
}

// Run sends the rewritten statement with the actor and metadata as two
// extra parameters after the caller's own.
func (postgresDialect) Run(e *engine.Execution) (driver.Result, driver.Rows, error) {
	ex := &pgExec{Execution: e}
	acts, err := pgCascadeTree(ex)
	ex.checks = acts.checks
	switch {
	case err != nil:
		return nil, nil, engine.Fail(ex.Query, ex.Table.Display, "reading the foreign keys' tables from the catalog failed", engine.Record, err)
	case !ex.Table.Audited && acts.tree == nil && acts.refused == "" && len(ex.checks) == 0: // its actions reach no audited table after all
		return ex.Session.PassThrough(ex.Ctx, ex.Query, ex.Args, ex.WantRows, ex.FromStmt)
	case acts.refused != "" && (!ex.Table.Audited || ex.Stmt.Upsert || ex.Stmt.Truncate):
		return nil, nil, engine.Fail(ex.Query, ex.Table.Display, "cannot audit "+acts.refused, engine.Unsupported)
	case !ex.Table.Audited && len(ex.checks) > 0:
		return nil, nil, engine.Fail(ex.Query, ex.Table.Display, "the table is not audited, but a foreign-key action of this statement may change rows of an audited table (a trigger or generated column may change a referenced column)", engine.Unsupported)
	}
	if err := pgCheckArgs(ex); err != nil {
		return nil, nil, err
	}
	if acts.tree != nil {
		ex.cascade = acts.tree
		return pgRunCascade(ex)
	}
	q := ex.Session.Shared.Plan(ex.PlanKey(), func() any { return pgStatement(ex) }).(string)
	return pgExecute(ex, q, false)
}

// pgExecute sends the rewritten statement q with the actor, the metadata
// and any further values (the rows locked for foreign-key actions) as extra
// parameters after the caller's own. Rows are read into memory when
// buffer is set (the wrapper's own transaction commits before the caller
// reads them).
func pgExecute(ex *pgExec, q string, buffer bool, extra ...any) (driver.Result, driver.Rows, error) {
	args := append(ex.Args[:len(ex.Args):len(ex.Args)],
		driver.NamedValue{Ordinal: len(ex.Args) + 1, Value: ex.Actor},
		driver.NamedValue{Ordinal: len(ex.Args) + 2, Value: ex.Metadata})
	for _, v := range extra {
		args = append(args, driver.NamedValue{Ordinal: len(args) + 1, Value: v})
	}
	if ex.WantRows {
		// The caller's RETURNING list fixes the result type: not cached, so
		// DDL by other clients cannot make a cached plan change it.
		rows, err := ex.Session.RawQuery(ex.Ctx, q, args)
		if err != nil {
			return nil, nil, pgError(ex, err)
		}
		if pgJoinedReturning(ex) {
			hidden := 1
			if ex.Stmt.Kind == sqlstmt.Update {
				hidden = 2
			}
			rows = engine.NewHiddenRows(rows, hidden)
		}
		if buffer {
			rows, err = engine.BufferRows(rows)
			if err != nil {
				return nil, nil, pgError(ex, err)
			}
		}
		return nil, rows, nil
	}
	rows, err := ex.Session.PreparedQuery(ex.Ctx, q, args)
	if err != nil {
		return nil, nil, pgError(ex, err)
	}
	count := make([]driver.Value, 1)
	if err := rows.Next(count); err != nil && err != io.EOF {
		rows.Close()
		return nil, nil, pgError(ex, err)
	}
	n, _ := count[0].(int64)
	if ex.Stmt.Truncate {
		n = 0 // as PostgreSQL reports TRUNCATE
	}
	return engine.Result{Rows: n, LastNote: "LastInsertId is not supported by this driver"}, nil, engine.NoRetry(rows.Close())
}

// pgCheckArgs refuses what the rewrite cannot carry: arguments that do not
// match the statement's placeholders one to one (the actor and metadata are
// appended after them), pgx's query options and NamedArgs (pgx would rewrite
// the statement text itself), RETURNING rows that may name joined tables.
func pgCheckArgs(ex *pgExec) error {
	a := ex.Stmt
	if pgJoinedReturning(ex) && a.ReturningStar {
		return engine.Fail(ex.Query, ex.Table.Display, "cannot audit RETURNING * of an UPDATE … FROM or DELETE … USING (it would include the wrapper's own columns); name the columns or tables (RETURNING t.*, s.x)", engine.Unsupported)
	}
	for _, arg := range ex.Args {
		if arg.Value != nil && strings.HasPrefix(reflect.TypeOf(arg.Value).PkgPath(), "github.com/jackc/pgx/") &&
			!strings.Contains(reflect.TypeOf(arg.Value).PkgPath(), "pgtype") {
			return engine.Fail(ex.Query, ex.Table.Display, fmt.Sprintf("pgx query options and NamedArgs (%T) cannot be audited; use $n placeholders", arg.Value), engine.Unsupported)
		}
	}
	if len(ex.Args) != a.NumParams {
		return engine.Fail(ex.Query, ex.Table.Display, fmt.Sprintf("the statement has %d placeholders but %d arguments were given", a.NumParams, len(ex.Args)), engine.Unsupported)
	}
	return nil
}

// pgError maps the errors the rewritten statement raises on purpose to the
// wrapper's sentinels, and keeps database/sql from retrying a statement that
// was sent: every other error is the driver's own.
func pgError(ex *pgExec, err error) error {
	switch msg := err.Error(); {
	case strings.Contains(msg, upsertRaceMessage):
		return engine.Fail(ex.Query, ex.Table.Display, "an upsert met a row a concurrent transaction wrote after the statement began", engine.Conflict, err)
	case strings.Contains(msg, cascadeConflictMessage):
		return engine.Fail(ex.Query, ex.Table.Display, "rows whose foreign-key actions fire came to match the statement while it ran, so the rows the actions change could not be read exactly; nothing changed", engine.Conflict, err)
	case strings.Contains(msg, cascadeMessage):
		return engine.Fail(ex.Query, ex.Table.Display, "a foreign-key action (ON DELETE/UPDATE CASCADE, SET NULL, SET DEFAULT) would change rows of an audited table, which the wrapper cannot record yet; nothing changed", engine.Unsupported, err)
	case strings.Contains(msg, staleCatalogMessage):
		ex.Session.DropCatalog()
		return engine.Fail(ex.Query, ex.Table.Display, "the table name resolved to another table than when this connection first wrote it (search_path or a temporary table changed); nothing changed", engine.Conflict, err)
	case strings.Contains(msg, staleColumnsMessage):
		ex.Session.DropCatalog()
		return engine.Fail(ex.Query, ex.Table.Display, "a column was added to the table since this connection read its columns; nothing changed", engine.Conflict, err)
	}
	var server interface{ SQLState() string }
	if errors.As(err, &server) && server.SQLState() == "42703" {
		// undefined_column: the caller's mistake, or a column the typed
		// UPDATE names was dropped or renamed by another client since the
		// catalog was read. Either way the next statement re-reads it.
		ex.Session.DropCatalog()
	}
	return engine.NoRetry(err)
}

// pgStatement builds the one statement that runs ex's write and its records:
//
//	WITH [the caller's CTEs,] _sqa_w AS (<the write, returning row images as jsonb>),
//	     _sqa_a AS (INSERT INTO audit_log … SELECT … FROM _sqa_w)
//	SELECT <count, or the caller's RETURNING list> FROM _sqa_w
func pgStatement(ex *pgExec) string {
	a := ex.Stmt
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
	if ex.Table.Audited {
		b.WriteString(", _sqa_a AS (" + pgRecords(ex, t) + ")")
	}
	check := ""
	if ex.cascade != nil {
		b.WriteString(pgCascadeCTEs(ex, ex.cascade))
		check = " WHERE (SELECT _sqa_ok FROM _sqa_chk)"
	}
	switch {
	case !ex.WantRows:
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
func pgJoinedReturning(ex *pgExec) bool {
	return ex.WantRows && ex.Stmt.Returning != "" && ex.Stmt.From != ""
}

// pgTargetRef is how the rewritten statement names the target table.
type pgTargetRef struct {
	spelled string // the table as the statement names it, quoted
	rel     string // [ONLY] spelled [AS alias]
	ref     string // the alias, or the table name: what column references qualify with
	image   string // the jsonb row image the record's key is taken from
}

func pgTarget(ex *pgExec) pgTargetRef {
	a, t := ex.Stmt, ex.Table
	r := pgTargetRef{spelled: a.Table.Spelled(), ref: sqlstmt.QuoteIdent(t.Name), image: "w._sqa_old"}
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
func pgWrite(ex *pgExec, t pgTargetRef) string {
	a := ex.Stmt
	row, ret := "", " RETURNING "
	switch {
	case pgJoinedReturning(ex):
		ret += a.Returning + ", " // first, so that the joined tables resolve
	case ex.WantRows && a.Returning != "":
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
