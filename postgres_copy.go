package sqlaudit

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
	"hash/fnv"
	"reflect"
	"strconv"
	"strings"
)

// COPY t (cols) FROM STDIN through lib/pq's CopyIn: lib/pq prepares the
// COPY, sends each row with Exec(values…) and ends it with Exec(). The
// wrapper copies the rows instead into a TEMP table of the listed columns
// with the table's own types (so every value is read by the same input
// functions, and errors in a row surface as they would), on the connection,
// streamed as lib/pq streams them; the final Exec inserts them into the
// table with one audited INSERT … SELECT, in copy order. Defaults, identity
// columns (OVERRIDING SYSTEM VALUE, as COPY writes given values), triggers
// and constraints apply as they do to COPY; a table with rules is refused
// (COPY ignores rules, the INSERT would apply them).

// copyPreparer is implemented by dialects that audit COPY … FROM STDIN
// prepared through their driver.
type copyPreparer interface {
	// prepareCopy returns nil, nil for a COPY it leaves to the usual path.
	prepareCopy(ctx context.Context, c *conn, a *sqlstmt.Analysis) (driver.Stmt, error)
}

const pgCopyColumnsQuery = `SELECT coalesce(json_agg(a.attname ORDER BY a.attnum), '[]')::text,
  (SELECT c.relhasrules FROM pg_class c WHERE c.oid = $1::bigint::oid)
FROM pg_attribute a WHERE a.attrelid = $1::bigint::oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''`

func (postgresDialect) prepareCopy(ctx context.Context, c *conn, a *sqlstmt.Analysis) (driver.Stmt, error) {
	if !strings.HasPrefix(reflect.TypeOf(c.raw).String(), "*pq.") {
		return nil, nil // pgx prepares COPY as an ordinary statement: refused as before
	}
	t, err := c.table(ctx, a.Table)
	switch {
	case err != nil:
		return nil, stmtError(a.Text, a.Table.Name, "reading the table's columns from the catalog failed", ErrRecord, err)
	case t == nil || !t.audited:
		raw, err := c.rawPrepare(ctx, a.Text) // lib/pq's own CopyIn, unaudited
		if err != nil {
			return nil, err
		}
		return &stmt{c: c, query: a.Text, raw: raw}, nil
	case t.isAudit:
		return nil, stmtError(a.Text, t.display, "refused a write to the audit table", ErrAuditTableWrite)
	case len(t.key) == 0:
		return nil, stmtError(a.Text, t.display, "cannot identify rows: add a primary key or exclude the table", ErrNoKey)
	}
	rows, err := c.queryAll(ctx, pgCopyColumnsQuery, named(t.oid)...)
	if err != nil || len(rows) != 1 {
		return nil, stmtError(a.Text, t.display, "reading the table's columns from the catalog failed", ErrRecord, err)
	}
	if b, _ := rows[0][1].(bool); b || asString(rows[0][1]) == "t" {
		return nil, stmtError(a.Text, t.display, "cannot audit COPY into a table with rules (COPY ignores them; the audited INSERT would apply them)", ErrUnsupported)
	}
	cols := a.CopyColumns
	if len(cols) == 0 {
		if err := json.Unmarshal([]byte(asString(rows[0][0])), &cols); err != nil {
			return nil, stmtError(a.Text, t.display, "reading the table's columns from the catalog failed", ErrRecord, err)
		}
	}
	return pgPrepareCopy(ctx, c, a, t, cols)
}

// pgPrepareCopy makes (or empties) the connection's TEMP table for this COPY
// and starts lib/pq's COPY into it.
func pgPrepareCopy(ctx context.Context, c *conn, a *sqlstmt.Analysis, t *tableInfo, cols []string) (driver.Stmt, error) {
	h := fnv.New64a()
	h.Write([]byte(a.Text + "\x00" + strconv.FormatInt(t.oid, 10)))
	temp := "pg_temp." + sqlstmt.QuoteIdent("_sqa_copy_"+strconv.FormatUint(h.Sum64(), 16))
	quoted := make([]string, len(cols))
	for i, col := range cols {
		quoted[i] = sqlstmt.QuoteIdent(col)
	}
	list := strings.Join(quoted, ", ")
	setup := "CREATE TEMP TABLE IF NOT EXISTS " + temp + " AS SELECT " + list + " FROM " + a.Table.Spelled() + " WITH NO DATA; " +
		"ALTER TABLE " + temp + " ADD COLUMN IF NOT EXISTS _sqa_n bigserial; TRUNCATE " + temp
	if _, err := c.rawExec(ctx, setup, nil); err != nil {
		return nil, err
	}
	raw, err := c.rawPrepare(ctx, "COPY "+temp+" ("+list+") FROM STDIN")
	if err != nil {
		return nil, err
	}
	insert := c.c.analysis("INSERT INTO " + a.Table.Spelled() + " (" + list + ") OVERRIDING SYSTEM VALUE SELECT " + list +
		" FROM " + temp + " ORDER BY _sqa_n")
	return &copyStmt{c: c, a: a, insert: insert, temp: temp, raw: raw}, nil
}

// copyStmt is lib/pq's CopyIn into an audited table.
type copyStmt struct {
	c         *conn
	a, insert *sqlstmt.Analysis // the COPY; the INSERT … SELECT from the TEMP table
	temp      string
	raw       driver.Stmt // lib/pq's COPY into the TEMP table
	done      bool
}

var (
	_ driver.StmtExecContext   = (*copyStmt)(nil)
	_ driver.NamedValueChecker = (*copyStmt)(nil)
)

// errCopyDone is what a row sent after the COPY ended gets.
var errCopyDone = errors.New("sqlaudit: the COPY has already been finished")

func (s *copyStmt) NumInput() int { return -1 }

func (s *copyStmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), named(args...))
}

func (s *copyStmt) Query([]driver.Value) (driver.Rows, error) {
	return nil, errors.New("sqlaudit: COPY … FROM STDIN returns no rows; use Exec")
}

// ExecContext sends one row, or with no arguments ends the COPY and
// inserts the rows, recorded.
func (s *copyStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if s.done {
		return nil, errCopyDone
	}
	if len(args) > 0 {
		return s.raw.Exec(values(args)) //nolint:staticcheck // lib/pq's copyin offers nothing else
	}
	return s.finish(ctx)
}

func (s *copyStmt) finish(ctx context.Context) (driver.Result, error) {
	s.done = true
	if _, err := s.raw.Exec(nil); err != nil { //nolint:staticcheck // lib/pq's copyin offers nothing else
		return nil, err
	}
	res, _, err := s.c.runWrite(ctx, s.insert, s.a.Text, nil, false, true)
	if err != nil {
		return nil, err
	}
	if _, err := s.c.rawExec(ctx, "TRUNCATE "+s.temp, nil); err != nil {
		return nil, noRetry(err)
	}
	return res, nil
}

// Close ends a COPY that was not ended with Exec(), as lib/pq's Close does:
// its rows are inserted (and recorded).
func (s *copyStmt) Close() error {
	var err error
	if !s.done {
		_, err = s.finish(context.Background())
	}
	return errors.Join(err, s.raw.Close())
}

func (s *copyStmt) CheckNamedValue(nv *driver.NamedValue) error { return s.c.CheckNamedValue(nv) }
