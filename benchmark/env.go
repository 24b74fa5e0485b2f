package benchmark

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/sqlaudit/sqlaudit"
)

// Variant is one way of running a workload: P, T, S, N or L.
type Variant string

// The variants, in the order of every round.
const (
	Plain   Variant = "P" // the plain driver, autocommit: the baseline
	Trigger Variant = "T" // AFTER … FOR EACH ROW triggers
	SetTrig Variant = "S" // AFTER … FOR EACH STATEMENT triggers over transition tables (PostgreSQL)
	Naive   Variant = "N" // the naive client-side sequence
	Library Variant = "L" // sqlaudit
)

// Variants lists the variants in round order.
var Variants = []Variant{Plain, Trigger, SetTrig, Naive, Library}

// variantsOf lists the variants a dialect runs: statement-level triggers
// with transition tables are PostgreSQL's (SQLite has row triggers only,
// MariaDB no transition tables).
func variantsOf(d *dialect) []Variant {
	if d.pg {
		return Variants
	}
	return []Variant{Plain, Trigger, Naive, Library}
}

// isTrigger: the variant audits by triggers, which also record the untimed
// undo work.
func (v Variant) isTrigger() bool { return v == Trigger || v == SetTrig }

// target is one variant's own database on one driver.
type target struct {
	v      Variant
	db     *sql.DB // the timed operations run here (the audit driver for L)
	plain  *sql.DB // the same data through the plain driver: setup, untimed work
	schema string  // PostgreSQL: the variant's schema; MariaDB: its database
}

// env is one driver's targets, one per variant, with identical data.
type env struct {
	spec    *driverSpec
	rows    int
	targets []*target
	admin   *sql.DB // PostgreSQL, MariaDB: creates and drops the schemas or databases
	dir     string  // SQLite: where the files are
	tempDir bool    // dir is ours to remove
}

var envSeq atomic.Int64

// openEnv creates the targets of spec, each holding items with keys
// 1 … rows, and installs T's and S's triggers and N's audit table.
func openEnv(ctx context.Context, cfg Config, spec *driverSpec, rows int) (_ *env, err error) {
	e := &env{spec: spec, rows: rows}
	defer func() {
		if err != nil {
			e.close() // e, not the result: that is nil by now
		}
	}()
	if err := e.prepare(ctx, cfg); err != nil {
		return nil, err
	}
	seq := envSeq.Add(1)
	for _, v := range variantsOf(spec.d) {
		t := &target{v: v}
		e.targets = append(e.targets, t) // closed with e, also when half open
		if err := e.openTarget(ctx, cfg, t, seq); err != nil {
			return nil, fmt.Errorf("%s/%s: %w", spec.name, v, err)
		}
	}
	return e, nil
}

// prepare opens the server's admin connection (PostgreSQL, MariaDB) or the
// SQLite directory.
func (e *env) prepare(ctx context.Context, cfg Config) error {
	if e.spec.d.server {
		var err error
		if e.admin, err = sql.Open(e.spec.plain, e.serverDSN(cfg)); err != nil {
			return err
		}
		if err := e.admin.PingContext(ctx); err != nil {
			if e.spec.d.my {
				return fmt.Errorf("MariaDB at %s (set -mysql-dsn or SQLAUDIT_MYSQL_DSN): %w", mysqlEndpoint(cfg.MySQLDSN), err)
			}
			return fmt.Errorf("PostgreSQL at %s (set -pg or SQLAUDIT_PG_URL): %w", redactURL(cfg.PGURL), err)
		}
		return nil
	}
	e.dir = cfg.Dir
	if e.dir != "" {
		return os.MkdirAll(e.dir, 0o755)
	}
	var err error
	e.dir, err = os.MkdirTemp("", "sqlaudit-bench-")
	e.tempDir = err == nil
	return err
}

// serverDSN is the DSN of the driver's server.
func (e *env) serverDSN(cfg Config) string {
	if e.spec.d.my {
		return cfg.MySQLDSN
	}
	return cfg.PGURL
}

// openTarget creates t's schema or file and fills it.
func (e *env) openTarget(ctx context.Context, cfg Config, t *target, seq int64) error {
	dsn, err := e.targetDSN(ctx, cfg, t, seq)
	if err != nil {
		return err
	}
	if t.plain, err = openPool(e.spec.plain, dsn); err != nil {
		return err
	}
	t.db = t.plain
	if err := e.fill(ctx, t); err != nil {
		return err
	}
	if t.v != Library {
		return nil
	}
	if t.db, err = openPool(e.spec.audit, dsn); err != nil {
		t.db = nil
		return err
	}
	return t.db.PingContext(ctx) // creates audit_log
}

// targetDSN creates the PostgreSQL schema (first on the search_path of the
// returned DSN) or MariaDB database, or names the SQLite file.
func (e *env) targetDSN(ctx context.Context, cfg Config, t *target, seq int64) (string, error) {
	name := fmt.Sprintf("sqab_%d_%d_%s_%s", os.Getpid(), seq, e.spec.name, strings.ToLower(string(t.v)))
	d := e.spec.d
	if !d.server {
		path := filepath.Join(e.dir, name+".db")
		for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
			os.Remove(path + suffix)
		}
		return "file:" + path + "?" + cfg.SQLiteParams, nil
	}
	if _, err := e.admin.ExecContext(ctx, dropStmt(d, name)); err != nil {
		return "", err
	}
	create := `CREATE SCHEMA ` + name
	if d.my {
		create = `CREATE DATABASE ` + name
	}
	if _, err := e.admin.ExecContext(ctx, create); err != nil {
		return "", err
	}
	t.schema = name
	if d.my {
		return mysqlDSN(cfg.MySQLDSN, name)
	}
	return withParam(cfg.PGURL, "search_path", name), nil
}

// dropStmt drops a target's schema or database.
func dropStmt(d *dialect, name string) string {
	if d.my {
		return `DROP DATABASE IF EXISTS ` + name
	}
	return `DROP SCHEMA IF EXISTS ` + name + ` CASCADE`
}

// fill creates and fills items and the variant's audit machinery.
func (e *env) fill(ctx context.Context, t *target) error {
	d := e.spec.d
	stmts := []string{d.itemsDDL}
	switch t.v {
	case Trigger, SetTrig:
		stmts = append(stmts, triggerTableDDL(d)...)
	case Naive:
		stmts = append(stmts, auditDDL(d, "audit_log")...)
	}
	if err := execAll(ctx, t.plain, stmts); err != nil {
		return err
	}
	if _, err := t.plain.ExecContext(ctx, d.fill, 1, e.rows); err != nil {
		return fmt.Errorf("filling items: %w", err)
	}
	switch t.v {
	case Trigger:
		return execAll(ctx, t.plain, triggerDDL(d))
	case SetTrig:
		return execAll(ctx, t.plain, pgStatementTriggerDDL)
	}
	return nil
}

func triggerDDL(d *dialect) []string {
	switch {
	case d.pg:
		return pgTriggerDDL
	case d.my:
		return mysqlTriggerDDL()
	}
	return sqliteTriggerDDL()
}

// triggerTableDDL creates T's audit table: sqlaudit's own DDL (on MariaDB
// with an AUTO_INCREMENT id).
func triggerTableDDL(d *dialect) []string {
	if d.my {
		return mysqlTriggerTableDDL()
	}
	return auditDDL(d, triggerTable)
}

// auditDDL is sqlaudit's own DDL of an audit table, statement by statement.
func auditDDL(d *dialect, table string) []string {
	dia := sqlaudit.SQLite
	switch {
	case d.pg:
		dia = sqlaudit.PostgreSQL
	case d.my:
		dia = sqlaudit.MySQL
	}
	return splitStatements(sqlaudit.DDL(dia, table))
}

// splitStatements splits DDL at the ";\n" that ends each statement.
func splitStatements(ddl string) []string {
	var out []string
	for _, s := range strings.Split(ddl, ";\n") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func execAll(ctx context.Context, db *sql.DB, stmts []string) error {
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%.60s…: %w", s, err)
		}
	}
	return nil
}

// openPool opens a handle that keeps exactly one connection, so that every
// operation of a variant runs on the same session.
func openPool(driverName, dsn string) (*sql.DB, error) {
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	return db, nil
}

// settle makes the targets start a workload alike: PostgreSQL vacuums and
// analyses every table and checkpoints; SQLite checkpoints its WAL;
// MariaDB (InnoDB purges and flushes in the background) updates the
// statistics of items.
func (e *env) settle(ctx context.Context) error {
	var stmts []string
	switch {
	case e.spec.d.pg:
		stmts = []string{`VACUUM ANALYZE items`, `VACUUM ANALYZE audit_log`, `VACUUM ANALYZE ` + triggerTable}
	case e.spec.d.my:
		stmts = []string{`ANALYZE TABLE items`}
	default:
		stmts = []string{`PRAGMA wal_checkpoint(TRUNCATE)`}
	}
	for _, t := range e.targets {
		for _, s := range stmts {
			if _, err := t.plain.ExecContext(ctx, s); err != nil && !isMissingTable(err) {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
	}
	if e.admin != nil && e.spec.d.pg {
		e.admin.ExecContext(ctx, `CHECKPOINT`) // needs a superuser; best effort
	}
	return nil
}

// reconnect makes every target's next timed operation open a new
// connection.
func (e *env) reconnect() {
	for _, t := range e.targets {
		t.db.SetMaxIdleConns(0) // closes the idle connection
		t.db.SetMaxIdleConns(1)
	}
}

func isMissingTable(err error) bool {
	return strings.Contains(err.Error(), "does not exist")
}

func (t *target) close() {
	if t.db != nil && t.db != t.plain {
		t.db.Close()
	}
	if t.plain != nil {
		t.plain.Close()
	}
}

// close drops the schemas or databases, or removes the temporary directory.
func (e *env) close() error {
	var errs []error
	for _, t := range e.targets {
		t.close()
		if t.schema != "" {
			_, err := e.admin.Exec(dropStmt(e.spec.d, t.schema))
			errs = append(errs, err)
		}
	}
	if e.admin != nil {
		errs = append(errs, e.admin.Close())
	}
	if e.tempDir {
		errs = append(errs, os.RemoveAll(e.dir))
	}
	return errors.Join(errs...)
}

// withParam adds a parameter to a PostgreSQL URL or keyword/value DSN.
func withParam(dsn, key, value string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " " + key + "=" + value
}

// redactURL hides the password of a PostgreSQL URL.
func redactURL(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	return "(keyword DSN)"
}
