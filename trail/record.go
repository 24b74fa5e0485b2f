package trail

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/sqlaudit/sqlaudit"
)

var (
	// ErrNoAuditTable is wrapped when the audit table does not exist.
	ErrNoAuditTable = errors.New("trail: audit table not found")
	// ErrNoRecords is wrapped when a transaction has no records.
	ErrNoRecords = errors.New("trail: no records")
	// ErrUnknownDialect is returned for a *sql.DB that was not opened
	// through the audit drivers and got no WithDialect option.
	ErrUnknownDialect = errors.New("trail: unknown dialect: open db through an audit driver or pass WithDialect")
)

// Key identifies a row: its primary-key columns and their values, as in the
// record's row_key.
type Key map[string]any

// Record is one row of the audit table. JSON numbers are json.Number, so
// they keep the digits the database rendered.
type Record struct {
	ID         int64          `json:"id"`
	TxID       int64          `json:"tx_id"`
	OccurredAt time.Time      `json:"occurred_at"`
	Actor      string         `json:"actor"` // "" when none was set (JSON: null)
	Action     string         `json:"action"`
	Table      string         `json:"table_name"`
	Key        Key            `json:"row_key"`
	Old        map[string]any `json:"old_values"`
	New        map[string]any `json:"new_values"`
	Metadata   map[string]any `json:"metadata"`
	Query      string         `json:"query"`

	// Source is the service a central store (see WithSources) gathered the
	// record from; "" in a service's own trail.
	Source string `json:"source,omitempty"`

	rawKey string // row_key as the database returned it (revert: the key's member order)
}

// MarshalJSON encodes the record with its JSON field names, the actor null
// when none was set (as the audit table holds it), so that JSON output
// tells "no actor" from an actor named "".
func (r Record) MarshalJSON() ([]byte, error) {
	var actor *string
	if r.Actor != "" {
		actor = &r.Actor
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // an encoder that escapes HTML still does so on the result
	err := enc.Encode(struct {
		ID         int64          `json:"id"`
		TxID       int64          `json:"tx_id"`
		OccurredAt time.Time      `json:"occurred_at"`
		Actor      *string        `json:"actor"`
		Action     string         `json:"action"`
		Table      string         `json:"table_name"`
		Key        Key            `json:"row_key"`
		Old        map[string]any `json:"old_values"`
		New        map[string]any `json:"new_values"`
		Metadata   map[string]any `json:"metadata"`
		Query      string         `json:"query"`
		Source     string         `json:"source,omitempty"`
	}{r.ID, r.TxID, r.OccurredAt, actor, r.Action, r.Table, r.Key, r.Old, r.New, r.Metadata, r.Query, r.Source})
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), err
}

// Option configures how a trail is read.
type Option func(*config)

// WithTable names the audit table (default "audit_log").
func WithTable(name string) Option { return func(c *config) { c.table = name } }

// WithDialect sets the database dialect (sqlaudit.PostgreSQL, SQLite or
// MySQL) for a *sql.DB not opened through an audit driver.
func WithDialect(d sqlaudit.Dialect) Option { return func(c *config) { c.dialect = d } }

type config struct {
	db      *sql.DB
	table   string
	dialect sqlaudit.Dialect
	d       dialect
	sources bool // the table has a source column (WithSources)
}

func configure(db *sql.DB, opts []Option) (*config, error) {
	c := &config{db: db, table: "audit_log"}
	for _, o := range opts {
		o(c)
	}
	if c.dialect == nil {
		d, ok := sqlaudit.DialectOf(db)
		if !ok {
			return nil, ErrUnknownDialect
		}
		c.dialect = d
	}
	switch c.dialect.Name() {
	case "postgres":
		c.d = pgDialect{}
	case "sqlite":
		c.d = liteDialect{}
	case "mysql":
		c.d = myDialect{}
	default:
		return nil, fmt.Errorf("trail: unsupported dialect %q", c.dialect.Name())
	}
	return c, nil
}

// Log returns one page of the records f selects, oldest first (newest
// first with f.NewestFirst). Pass the last record's ID as f.AfterID (as
// f.BeforeID, newest first) to get the next page.
func Log(ctx context.Context, db *sql.DB, f Filter, opts ...Option) ([]Record, error) {
	var out []Record
	for r, err := range Query(ctx, db, f, opts...) {
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Query streams the records f selects, in f's order, reading them one at a
// time (for exports of any size). Stopping the loop closes the query.
func Query(ctx context.Context, db *sql.DB, f Filter, opts ...Option) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		c, err := configure(db, opts)
		if err != nil {
			yield(Record{}, err)
			return
		}
		c.query(ctx, db, f)(yield)
	}
}

// History returns the records of one row, oldest first.
func History(ctx context.Context, db *sql.DB, table string, key Key, opts ...Option) ([]Record, error) {
	return Log(ctx, db, Filter{Table: table, Key: key}, opts...)
}

// Transaction returns all records of one transaction, in write order. It
// returns an error wrapping ErrNoRecords when there are none.
func Transaction(ctx context.Context, db *sql.DB, txID int64, opts ...Option) ([]Record, error) {
	recs, err := Log(ctx, db, Filter{TxID: txID}, opts...)
	if err == nil && len(recs) == 0 {
		err = fmt.Errorf("%w for transaction %d", ErrNoRecords, txID)
	}
	return recs, err
}

// query streams the records f selects from q.
func (c *config) query(ctx context.Context, q querier, f Filter) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		if err := c.prepare(ctx, q, &f); err != nil {
			yield(Record{}, err)
			return
		}
		query, args := c.build(f)
		rows, err := q.QueryContext(ctx, query, args...)
		if err != nil {
			yield(Record{}, c.wrap(err))
			return
		}
		defer rows.Close()
		var last string // the previous record's statement, shared by the records of one statement
		for rows.Next() {
			r, err := c.scanAfter(rows, &last)
			if !yield(r, err) || err != nil {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(Record{}, err)
		}
	}
}

func (c *config) wrap(err error) error {
	if c.d.missingTable(err) {
		return fmt.Errorf("%w: %s (%v)", ErrNoAuditTable, c.table, err)
	}
	return err
}

// scanRecord scans one record of the select list, then extra columns.
func scanRecord(rows *sql.Rows, extra ...any) (Record, error) {
	var last string
	return scanRecordAfter(rows, &last, extra...)
}

// scanRecordAfter scans a record whose statement, when it is *last (the
// previous record's), shares its string: the records of a statement that
// changed many rows hold one copy of its text.
func scanRecordAfter(rows *sql.Rows, last *string, extra ...any) (Record, error) {
	var r Record
	var at any
	var actor, old, new, meta sql.NullString
	var query sql.RawBytes
	if err := rows.Scan(append([]any{&r.ID, &r.TxID, &at, &actor, &r.Action, &r.Table, &r.rawKey, &old, &new, &meta, &query}, extra...)...); err != nil {
		return r, err
	}
	if string(query) != *last {
		*last = string(query)
	}
	r.Query = *last
	key := r.rawKey
	r.Actor = actor.String
	var err error
	if r.OccurredAt, err = parseTime(at); err != nil {
		return r, err
	}
	if r.Key, err = decodeObject(key); err != nil {
		return r, err
	}
	for _, f := range []struct {
		src sql.NullString
		dst *map[string]any
	}{{old, &r.Old}, {new, &r.New}, {meta, &r.Metadata}} {
		if f.src.Valid {
			if *f.dst, err = decodeObject(f.src.String); err != nil {
				return r, err
			}
		}
	}
	return r, nil
}

// parseTime reads occurred_at: a time.Time (PostgreSQL) or ISO-8601 text.
func parseTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return x, nil
	case []byte:
		return parseTime(string(x))
	case string:
		if sec, frac, ok := strings.Cut(x, "."); ok && unixSeconds(sec) { // MySQL: UNIX_TIMESTAMP(occurred_at)
			s, _ := strconv.ParseInt(sec, 10, 64)
			us, _ := strconv.ParseInt((frac + "000000")[:6], 10, 64)
			return time.Unix(s, us*1000).UTC(), nil
		}
		t, err := time.Parse(time.RFC3339Nano, x)
		if err != nil {
			return t, fmt.Errorf("trail: occurred_at %q: %w", x, err)
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("trail: occurred_at has type %T", v)
}

func unixSeconds(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// decodeObject decodes a JSON object keeping numbers as json.Number.
func decodeObject(s string) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("trail: bad JSON %q: %w", s, err)
	}
	return m, nil
}

// jsonText encodes v as JSON text (json.Number keeps its digits).
func jsonText(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "null"
	}
	return strings.TrimSuffix(buf.String(), "\n")
}
