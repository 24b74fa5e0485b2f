package pgdialect

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"reflect"
	"strconv"
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
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

const pgCopyColumnsQuery = `SELECT coalesce(json_agg(a.attname ORDER BY a.attnum), '[]')::text,
  (SELECT c.relhasrules FROM pg_class c WHERE c.oid = $1::bigint::oid)
FROM pg_attribute a WHERE a.attrelid = $1::bigint::oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''`

// CanCopy: lib/pq streams COPY rows through a prepared statement; pgx
// prepares COPY as an ordinary statement, which stays refused.
func (Dialect) CanCopy(s *engine.Session) bool {
	return strings.HasPrefix(reflect.TypeOf(s.Raw).String(), "*pq.")
}

// PrepareCopy makes (or empties) the connection's TEMP table for the COPY a
// into the audited table t and starts lib/pq's COPY into it.
func (Dialect) PrepareCopy(ctx context.Context, s *engine.Session, a *sqlstmt.Analysis, t *engine.TableInfo) (*engine.Copy, error) {
	rows, err := s.QueryAll(ctx, pgCopyColumnsQuery, engine.Named(pgt(t).OID)...)
	if err != nil || len(rows) != 1 {
		return nil, engine.CatalogFailed(a.Text, t.Display, err)
	}
	if pgBool(rows[0][1]) {
		return nil, engine.Refuse(a.Text, t.Display, "cannot audit COPY into a table with rules (COPY ignores them; the audited INSERT would apply them)")
	}
	cols := a.CopyColumns
	if len(cols) == 0 {
		if err := json.Unmarshal([]byte(engine.AsString(rows[0][0])), &cols); err != nil {
			return nil, engine.CatalogFailed(a.Text, t.Display, err)
		}
	}
	h := fnv.New64a()
	h.Write([]byte(a.Text + "\x00" + strconv.FormatInt(pgt(t).OID, 10)))
	temp := "pg_temp." + sqlstmt.QuoteIdent("_sqa_copy_"+strconv.FormatUint(h.Sum64(), 16))
	quoted := make([]string, len(cols))
	for i, col := range cols {
		quoted[i] = sqlstmt.QuoteIdent(col)
	}
	list := strings.Join(quoted, ", ")
	setup := "CREATE TEMP TABLE IF NOT EXISTS " + temp + " AS SELECT " + list + " FROM " + a.Table.Spelled() + " WITH NO DATA; " +
		"ALTER TABLE " + temp + " ADD COLUMN IF NOT EXISTS _sqa_n bigserial; TRUNCATE " + temp
	if _, err := s.RawExec(ctx, setup, nil); err != nil {
		return nil, err
	}
	raw, err := s.RawPrepare(ctx, "COPY "+temp+" ("+list+") FROM STDIN")
	if err != nil {
		return nil, err
	}
	return &engine.Copy{
		Rows: raw,
		Insert: "INSERT INTO " + a.Table.Spelled() + " (" + list + ") OVERRIDING SYSTEM VALUE SELECT " + list +
			" FROM " + temp + " ORDER BY _sqa_n",
		Done: "TRUNCATE " + temp,
	}, nil
}
