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

// probeConnections times the round trip (SELECT $1) on several fresh
// connections of the plain driver and returns each one's median: on a VM
// these can differ several-fold by connection, which is why targets change
// connections every reconnectEvery rounds.
func (e *env) probeConnections(ctx context.Context, cfg Config) string {
	if !e.spec.d.pg {
		return ""
	}
	medians := make([]string, 0, probeConnections)
	for range probeConnections {
		m, err := probeOne(ctx, e.spec.plain, cfg.PGURL)
		if err != nil {
			return "probe failed: " + err.Error()
		}
		medians = append(medians, fmtDuration(m))
	}
	return fmt.Sprintf("%s round trip (SELECT $1), median of %d on each of %d fresh connections: %s",
		e.spec.name, probeQueries, probeConnections, strings.Join(medians, " "))
}

func probeOne(ctx context.Context, driverName, dsn string) (time.Duration, error) {
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ds := make([]time.Duration, 0, probeQueries)
	for i := range probeQueries {
		var x int
		start := time.Now()
		if err := db.QueryRowContext(ctx, `SELECT $1::int`, i).Scan(&x); err != nil {
			return 0, err
		}
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	return ds[len(ds)/2], nil
}
