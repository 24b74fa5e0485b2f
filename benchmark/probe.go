package benchmark

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"
)

const (
	probeConnections = 8   // fresh connections the probe opens
	probeQueries     = 100 // round trips timed on each
)

// probeConnections times the round trip on several fresh connections of
// the plain driver and returns each one's median: on a VM these can differ
// several-fold by connection, which is why targets change connections
// every reconnectEvery rounds. PostgreSQL runs SELECT $1 through
// database/sql as is (pgx caches the prepared statement; lib/pq takes two
// round trips); MariaDB runs SELECT ? prepared once, so that each query is
// one round trip (go-sql-driver would otherwise prepare it every time).
func (e *env) probeConnections(ctx context.Context, cfg Config) string {
	if !e.spec.d.server {
		return ""
	}
	q := `SELECT $1::int`
	if e.spec.d.my {
		q = `SELECT ?`
	}
	medians := make([]string, 0, probeConnections)
	for range probeConnections {
		m, err := probeOne(ctx, e.spec.plain, e.serverDSN(cfg), q)
		if err != nil {
			return "probe failed: " + err.Error()
		}
		medians = append(medians, fmtDuration(m))
	}
	return fmt.Sprintf("%s round trip (%s), median of %d on each of %d fresh connections: %s",
		e.spec.name, strings.TrimSuffix(q, "::int"), probeQueries, probeConnections, strings.Join(medians, " "))
}

func probeOne(ctx context.Context, driverName, dsn, q string) (time.Duration, error) {
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	query := func(i int) *sql.Row { return db.QueryRowContext(ctx, q, i) }
	if !strings.HasPrefix(q, "SELECT $") {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			return 0, err
		}
		defer st.Close()
		query = func(i int) *sql.Row { return st.QueryRowContext(ctx, i) }
	}
	ds := make([]time.Duration, 0, probeQueries)
	for i := range probeQueries {
		var x int
		start := time.Now()
		if err := query(i).Scan(&x); err != nil {
			return 0, err
		}
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	return ds[len(ds)/2], nil
}
