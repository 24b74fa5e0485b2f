package trail

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
)

// A central store (package gather) holds the trails of many services in one
// PostgreSQL table shaped like a service's own, plus a source column naming
// the service each record came from. Its ids and tx_ids are the store's own
// (unique across sources), so everything in this package reads it as one
// trail; WithSources adds the source to each Record and lets Filter.Source
// select one service.

// WithSources reads a central store: each Record's Source is filled in and
// Filter.Source selects the records of one service.
func WithSources() Option { return func(c *config) { c.sources = true } }

// columns is the select list of a Record, with the source when the table
// has one.
func (c *config) columns() string {
	if c.sources {
		return c.d.columns() + ", source"
	}
	return c.d.columns()
}

// scan reads one row of c.columns().
func (c *config) scan(rows *sql.Rows) (Record, error) {
	var last string
	return c.scanAfter(rows, &last)
}

// scanAfter is scan sharing the statement text with the previous record
// (scanRecordAfter).
func (c *config) scanAfter(rows *sql.Rows, last *string) (Record, error) {
	if !c.sources {
		return scanRecordAfter(rows, last)
	}
	var src sql.NullString
	r, err := scanRecordAfter(rows, last, &src)
	r.Source = src.String
	return r, err
}

// ByID returns the records with the given ids, in the order of ids; an id
// without a record is left out. It reads them in one query, for a reader
// that found the ids elsewhere (sqlaudit.Final).
func ByID(ctx context.Context, db *sql.DB, ids []int64, opts ...Option) ([]Record, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	c, err := configure(db, opts)
	if err != nil {
		return nil, err
	}
	list := make([]string, len(ids))
	for i, id := range ids {
		list[i] = strconv.FormatInt(id, 10)
	}
	q := "SELECT " + c.columns() + " FROM " + c.d.table(c.table) + " WHERE id IN (" + strings.Join(list, ", ") + ")"
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, c.wrap(err)
	}
	defer rows.Close()
	byID := make(map[int64]Record, len(ids))
	for rows.Next() {
		r, err := c.scan(rows)
		if err != nil {
			return nil, err
		}
		byID[r.ID] = r
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]Record, 0, len(byID))
	for _, id := range ids {
		if r, ok := byID[id]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// Sources lists the services a central store holds records of, sorted.
func Sources(ctx context.Context, db *sql.DB, opts ...Option) ([]string, error) {
	c, err := configure(db, opts)
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, "SELECT DISTINCT source FROM "+c.d.table(c.table)+" ORDER BY source")
	if err != nil {
		return nil, fmt.Errorf("trail: reading the sources (is %s a central store?): %w", c.table, c.wrap(err))
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
