package pgdialect

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// Dialect audits PostgreSQL (lib/pq and pgx): each write becomes one
// rewritten statement and one round trip that changes the rows, returns
// their images and inserts their records (see the package doc).
type Dialect struct{}

func (Dialect) Name() string { return "postgres" }
func (Dialect) Analyse(q string) *sqlstmt.Analysis {
	return sqlstmt.Analyse(q, sqlstmt.PostgreSQL)
}
func (Dialect) Ident(s string) string { return sqlstmt.QuoteIdent(s) }

// Features: DSNs may be libpq keyword strings; the dialect performs and
// records foreign-key actions itself (pgRunCascade), following them through
// excluded tables too. PostgreSQL runs a multi-statement string as one
// implicit transaction, which the wrapper cannot reproduce statement by
// statement: not OneByOne.
func (Dialect) Features() engine.Features {
	return engine.KeywordDSN | engine.RecordsCascades | engine.FollowsCascades
}

func (Dialect) Open(context.Context, *engine.Session) (engine.Conn, error) {
	return &pgConn{}, nil
}

// CommitAmbiguous: a COMMIT the server answered (an error with a SQLSTATE,
// lib/pq's and pgx's alike) failed; so did the COMMIT of a transaction an
// error aborted, which both drivers answer without one (the server rolled
// it back: pgx's ErrTxCommitRollback, lib/pq's ErrInFailedTransaction after
// its own ROLLBACK). Anything else broke on the way and may have committed.
// Neither driver tells reliably whether COMMIT was sent: lib/pq reports a
// connection lost after sending as driver.ErrBadConn, and pgx v5.12 as
// "conn closed" marked SafeToRetry (found by this package's tests), so both
// count as unknown. The drivers are not imported (an application using one
// must not link the other): their errors are known by their texts.
func (Dialect) CommitAmbiguous(err error) bool {
	var server interface{ SQLState() string }
	if errors.As(err, &server) {
		return false
	}
	msg := strings.ToLower(err.Error())
	return !strings.Contains(msg, "commit unexpectedly resulted in rollback") &&
		!strings.Contains(msg, "could not complete operation in a failed transaction")
}

// AuditDDL creates the audit table with the indexes the reading side uses
// (see readingIndexes); each statement is idempotent.
func (Dialect) AuditDDL(table string) []string {
	return append([]string{`CREATE TABLE IF NOT EXISTS ` + table + ` (
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
)`}, readingIndexes(table)...)
}

func (Dialect) Sealing(audit, seal sqlstmt.TableRef) engine.SealSQL {
	return engine.SealSQL{
		DDL: []string{`CREATE TABLE IF NOT EXISTS ` + seal.Spelled() + ` (seq bigint PRIMARY KEY, record_id bigint NOT NULL UNIQUE, hash text NOT NULL, horizon bigint NOT NULL)`,
			`CREATE INDEX IF NOT EXISTS ` + sqlstmt.QuoteIdent(audit.Name+"_tx_id") + ` ON ` + audit.Spelled() + ` USING brin (tx_id)`},
		Indexed: `SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = to_regclass(` +
			sqlstmt.QuoteLiteral(audit.Spelled(), false) + `) AND c.relname = ` + sqlstmt.QuoteLiteral(audit.Name+"_tx_id", false),
		Begin:     []string{"BEGIN", "SELECT pg_advisory_xact_lock(4736823598238)"},
		Horizon:   `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`,
		HorizExpr: "a.tx_id", TxOnScale: true,
		Before:  "a.occurred_at < $1",
		TimeArg: func(t time.Time) any { return t },
		Canonical: `json_build_array(a.id, a.tx_id, (extract(epoch FROM a.occurred_at) * 1000000)::bigint, a.actor, a.action,
			a.table_name, a.row_key, a.old_values, a.new_values, a.metadata, a.query)::text`,
	}
}
