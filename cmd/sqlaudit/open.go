package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sqlaudit/sqlaudit"
	_ "github.com/sqlaudit/sqlaudit/auditmysql"
	_ "github.com/sqlaudit/sqlaudit/auditpgx"
	_ "github.com/sqlaudit/sqlaudit/auditsqlite3"
	"github.com/sqlaudit/sqlaudit/trail"
)

// isPostgres reports a PostgreSQL URL or libpq keyword string.
func isPostgres(dsn string) bool {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return true
	}
	f, _, _ := strings.Cut(strings.TrimSpace(dsn), " ")
	k, _, ok := strings.Cut(f, "=")
	return ok && !strings.ContainsAny(k, "/.?:") && !strings.Contains(dsn, "?")
}

// isMySQL reports a go-sql-driver DSN (user@tcp(host:3306)/db), also
// written mysql://user@tcp(host:3306)/db.
func isMySQL(dsn string) bool {
	return strings.HasPrefix(dsn, "mysql://") || strings.Contains(dsn, "@tcp(") || strings.Contains(dsn, "@unix(")
}

// dialectOf is the dialect a DSN names.
func dialectOf(dsn string) sqlaudit.Dialect {
	switch {
	case isMySQL(dsn):
		return sqlaudit.MySQL
	case isPostgres(dsn):
		return sqlaudit.PostgreSQL
	}
	return sqlaudit.SQLite
}

// open connects through the audit driver. Unless create, the audit table is
// not created and a SQLite file must exist.
func (g *globals) open(ctx context.Context, create bool) (*sql.DB, error) {
	if g.dsn == "" {
		return nil, usagef("no database: pass --dsn or set SQLAUDIT_DSN (a postgres:// URL, a MariaDB user@tcp(host:3306)/db or a SQLite file)")
	}
	params := url.Values{}
	if !create {
		params.Set("audit_create", "false")
	}
	if g.auditTable != "audit_log" {
		params.Set("audit_table", g.auditTable)
	}
	driver, dsn := "audit-pgx", g.dsn
	switch {
	case isMySQL(g.dsn):
		driver, dsn = "audit-mysql", strings.TrimPrefix(g.dsn, "mysql://")
	case !isPostgres(g.dsn):
		driver = "audit-sqlite3"
		path := strings.TrimPrefix(g.dsn, "file:")
		path, _, _ = strings.Cut(path, "?")
		if _, err := os.Stat(path); err != nil && !create {
			return nil, fmt.Errorf("SQLite database %s: no such file (a PostgreSQL DSN starts with postgres://)", path)
		}
		if !strings.HasPrefix(dsn, "file:") {
			dsn = "file:" + dsn
		}
		params.Set("_busy_timeout", "5000")
	}
	dsn = withParams(dsn, params, isPostgres(g.dsn) && !strings.Contains(g.dsn, "://"))
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("bad DSN: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("cannot connect to the database: %w", err)
	}
	g.central = isCentral(ctx, db, g.auditTable)
	return db, nil
}

// withParams appends parameters to a URL-form or keyword-form DSN.
func withParams(dsn string, p url.Values, keywords bool) string {
	if len(p) == 0 {
		return dsn
	}
	if keywords {
		for k := range p {
			dsn += " " + k + "=" + p.Get(k)
		}
		return dsn
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + p.Encode()
}

// opts are the trail options for the globals.
func (g *globals) opts() []trail.Option {
	if g.central {
		return []trail.Option{trail.WithTable(g.auditTable), trail.WithSources()}
	}
	return []trail.Option{trail.WithTable(g.auditTable)}
}

// friendly rewrites errors a user can act on.
func (g *globals) friendly(err error) error {
	if errors.Is(err, trail.ErrNoAuditTable) {
		return fmt.Errorf("the audit table %s does not exist in this database (create it with 'sqlaudit migrate', or name it with --audit-table)", g.auditTable)
	}
	return err
}

// parseKey reads KEY: a JSON object, col=value pairs, or a bare value for
// the table's single key column (looked up in the trail).
func parseKey(ctx context.Context, g *globals, db *sql.DB, table, s string) (trail.Key, error) {
	if strings.HasPrefix(strings.TrimSpace(s), "{") {
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var k trail.Key
		if err := dec.Decode(&k); err != nil {
			return nil, usagef("bad KEY %q: %v", s, err)
		}
		return k, nil
	}
	if strings.Contains(s, "=") {
		k := trail.Key{}
		for _, kv := range strings.Split(s, ",") {
			col, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, usagef("bad KEY %q: want col=value[,col=value]", s)
			}
			k[strings.TrimSpace(col)] = keyValue(strings.TrimSpace(v))
		}
		return k, nil
	}
	recs, err := trail.Log(ctx, db, trail.Filter{Table: table, Limit: 1}, g.opts()...)
	if err != nil {
		return nil, g.friendly(err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("the trail has no records of table %s (names are as recorded: schema-qualified outside the default schema)", table)
	}
	if len(recs[0].Key) != 1 {
		return nil, usagef("table %s has a composite key: give KEY as col=value,col=value", table)
	}
	for col := range recs[0].Key {
		return trail.Key{col: keyValue(s)}, nil
	}
	return nil, nil
}

// keyValue is a number when s is one, else the string.
func keyValue(s string) any {
	var n json.Number
	if json.Unmarshal([]byte(s), &n) == nil {
		return n
	}
	return strings.Trim(s, `"`)
}

var timeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04", "2006-01-02"}

// parseTime reads a time flag or argument; times without a zone are local.
func parseTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if s == "now" {
		return time.Now(), nil
	}
	for _, l := range timeLayouts {
		if t, err := time.ParseInLocation(l, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usagef("bad %s %q: use RFC 3339 (2025-05-01T12:00:00Z), \"2025-05-01 12:00:00\" (local time) or 2025-05-01", name, s)
}

// parseTx reads a transaction id.
func parseTx(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, usagef("bad transaction id %q: want a positive number", s)
	}
	return n, nil
}
