package gather

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DDL returns the SQL that creates the central table named table (and its
// sources table), for migrations; Run creates them when missing.
func DDL(table string) []string {
	t := quoteIdent(table)
	return []string{
		`CREATE TABLE IF NOT EXISTS ` + t + ` (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx_id        bigint      NOT NULL,
    occurred_at  timestamptz NOT NULL,
    actor        text,
    action       text        NOT NULL,
    table_name   text        NOT NULL,
    row_key      jsonb       NOT NULL,
    old_values   jsonb,
    new_values   jsonb,
    metadata     jsonb,
    query        text        NOT NULL,
    source       text        NOT NULL,
    source_id    bigint      NOT NULL,
    source_tx_id bigint      NOT NULL,
    UNIQUE (source, source_id)
)`,
		`CREATE INDEX IF NOT EXISTS ` + quoteIdent(table+"_tx_id") + ` ON ` + t + ` (tx_id)`,
		`CREATE TABLE IF NOT EXISTS ` + quoteIdent(table+"_sources") + ` (
    num  integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text    NOT NULL UNIQUE
)`,
	}
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// txShift places a source's number above its transaction ids in tx_id.
const txShift = 48

// wire is a record as a relay publishes it (trail.Record's JSON), its
// JSON columns kept as the text they came in.
type wire struct {
	ID         int64           `json:"id"`
	TxID       int64           `json:"tx_id"`
	OccurredAt time.Time       `json:"occurred_at"`
	Actor      string          `json:"actor"`
	Action     string          `json:"action"`
	Table      string          `json:"table_name"`
	Key        json.RawMessage `json:"row_key"`
	Old        json.RawMessage `json:"old_values"`
	New        json.RawMessage `json:"new_values"`
	Metadata   json.RawMessage `json:"metadata"`
	Query      string          `json:"query"`
}

// row is one record to write.
type row struct {
	source string
	rec    wire
}

// jsonArg is a JSON column's argument: NULL for null or absent.
func jsonArg(m json.RawMessage) any {
	if len(m) == 0 || string(m) == "null" {
		return nil
	}
	return string(m)
}

// store writes rows into the central table through one connection.
type store struct {
	conn    *sql.Conn
	table   string
	sources map[string]int64
}

// sourceNum is the number of a source, registered on first sight.
func (s *store) sourceNum(ctx context.Context, tx *sql.Tx, name string) (int64, error) {
	if n, ok := s.sources[name]; ok {
		return n, nil
	}
	st := quoteIdent(s.table + "_sources")
	var n int64
	err := tx.QueryRowContext(ctx, `WITH i AS (INSERT INTO `+st+` (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING num)
		SELECT num FROM i UNION ALL SELECT num FROM `+st+` WHERE name = $1`, name).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("gather: registering source %s: %w", name, err)
	}
	s.sources[name] = n // only kept once the transaction commits: see write
	return n, nil
}

// write inserts rows in one transaction, skipping those already there.
func (s *store) write(ctx context.Context, rows []row) (inserted int64, err error) {
	tx, err := s.conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
			s.sources = map[string]int64{} // a number read in the rolled-back transaction may not exist
		}
	}()
	var vals []string
	var args []any
	for _, r := range rows {
		num, err := s.sourceNum(ctx, tx, r.source)
		if err != nil {
			return 0, err
		}
		if r.rec.TxID < 0 || r.rec.TxID >= 1<<txShift {
			return 0, fmt.Errorf("gather: record %d of %s: tx_id %d does not fit the central tx_id", r.rec.ID, r.source, r.rec.TxID)
		}
		n := len(args)
		ph := make([]string, 13)
		for i := range ph {
			ph[i] = "$" + strconv.Itoa(n+i+1)
		}
		vals = append(vals, "("+strings.Join(ph, ", ")+")")
		args = append(args, num<<txShift|r.rec.TxID, r.rec.OccurredAt, nullable(r.rec.Actor), r.rec.Action, r.rec.Table,
			string(r.rec.Key), jsonArg(r.rec.Old), jsonArg(r.rec.New), jsonArg(r.rec.Metadata), r.rec.Query, r.source, r.rec.ID, r.rec.TxID)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO `+quoteIdent(s.table)+` (tx_id, occurred_at, actor, action, table_name, row_key, old_values,
		new_values, metadata, query, source, source_id, source_tx_id) VALUES `+strings.Join(vals, ", ")+
		` ON CONFLICT (source, source_id) DO NOTHING`, args...)
	if err != nil {
		return 0, fmt.Errorf("gather: writing %d records: %w", len(rows), err)
	}
	if err = tx.Commit(); err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
