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
	for k, v := range g.params {
		params[k] = v
	}
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
		if _, err := os.Stat(path); err != nil && !create && !g.newFile {
			return nil, fmt.Errorf("SQLite database %s: no such file (a PostgreSQL DSN starts with postgres://, a MariaDB one is user@tcp(host:3306)/db)", path)
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
// the table's single key column (looked up in the trail). The trail types
// the values as it records the table's keys (42 finds a text key "42").
func parseKey(ctx context.Context, g *globals, db *sql.DB, table, s string) (trail.Key, error) {
	if strings.HasPrefix(strings.TrimSpace(s), "{") {
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var k trail.Key
		if err := dec.Decode(&k); err != nil || len(k) == 0 {
			return nil, usagef("bad KEY %q: want a JSON object of the key columns, e.g. {\"id\":42}", s)
		}
		return k, nil
	}
	if strings.Contains(s, "=") {
		k := trail.Key{}
		for _, kv := range strings.Split(s, ",") {
			col, v, ok := strings.Cut(kv, "=")
			if !ok || strings.TrimSpace(col) == "" {
				return nil, usagef("bad KEY %q: want col=value[,col=value]", s)
			}
			k[strings.TrimSpace(col)] = keyValue(strings.TrimSpace(v))
		}
		return k, nil
	}
	if table == "" {
		return nil, usagef("a bare key %q needs the table (--table), or name its column: id=%s", s, s)
	}
	recs, err := trail.Log(ctx, db, trail.Filter{Table: table, Limit: 1}, g.opts()...)
	if err != nil {
		return nil, g.friendly(err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("the trail has no records of table %s (names are as recorded: schema-qualified outside the default schema)", table)
	}
	if len(recs[0].Key) != 1 {
		return nil, usagef("table %s has a composite key (%s): give KEY as col=value,col=value", table, strings.Join(sortedKeys(recs[0].Key), ", "))
	}
	for col := range recs[0].Key {
		return trail.Key{col: keyValue(s)}, nil
	}
	return nil, nil
}

// keyHint says how the trail keys table, for a message about a key that
// found nothing.
func keyHint(ctx context.Context, g *globals, db *sql.DB, table string) string {
	recs, err := trail.Log(ctx, db, trail.Filter{Table: table, Limit: 1}, g.opts()...)
	switch {
	case err != nil:
		return ""
	case len(recs) == 0:
		return fmt.Sprintf(" (the trail has no records of table %s: tables are named as recorded, schema-qualified outside the default schema)", table)
	}
	return fmt.Sprintf(" (the trail keys %s by %s, e.g. %s)", table, strings.Join(sortedKeys(recs[0].Key), ", "), jsonText(recs[0].Key))
}

// keyValue is a number when s is one, a string without its quotes when
// quoted, else the string.
func keyValue(s string) any {
	var n json.Number
	if json.Unmarshal([]byte(s), &n) == nil {
		return n
	}
	if uq, err := strconv.Unquote(s); err == nil && strings.HasPrefix(s, `"`) {
		return uq
	}
	return s
}

// parseTime reads a time flag or argument (trail.TimeHelp).
func parseTime(name, s string) (time.Time, error) {
	t, err := trail.ParseTime(s, time.Now())
	if err != nil {
		return time.Time{}, usagef("%s: %v (times are UTC unless they name their zone)", name, err)
	}
	return t, nil
}

// parseTx reads a transaction id.
func parseTx(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, usagef("bad transaction id %q: want a positive number", s)
	}
	return n, nil
}
