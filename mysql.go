package sqlaudit

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

type mysqlDialect struct{}

func (mysqlDialect) Name() string                       { return "mysql" }
func (mysqlDialect) Features() engine.Features          { return 0 }
func (mysqlDialect) Analyse(q string) *sqlstmt.Analysis { return analyseMySQL(q) }
func (mysqlDialect) Ident(s string) string              { return mysqlIdent(s) }

// sealing: records are sealed by time. A transaction still running began at
// or after the oldest trx_started of information_schema.INNODB_TRX (second
// precision, rounded down), and every record it writes is stamped later, so
// the records stamped before that are final (the sealer needs the PROCESS
// privilege to see other sessions' transactions). Sealers serialise on the
// last seal row, locked with its gap at REPEATABLE READ.
func (mysqlDialect) Sealing(audit, seal sqlstmt.TableRef) engine.SealSQL {
	stamp := func(col string) string { return `CAST(UNIX_TIMESTAMP(` + col + `) * 1000000 AS SIGNED)` }
	json := func(col string) string { return `CAST(a.` + col + ` AS CHAR)` }
	return engine.SealSQL{
		DDL: []string{`CREATE TABLE IF NOT EXISTS ` + mysqlSpelled(seal) + ` (seq BIGINT PRIMARY KEY, record_id BIGINT NOT NULL UNIQUE, hash VARCHAR(64) NOT NULL, horizon BIGINT NOT NULL) ENGINE=InnoDB`,
			`CREATE INDEX IF NOT EXISTS ` + mysqlIdent(audit.Name+"_occurred_at") + ` ON ` + mysqlSpelled(audit) + ` (occurred_at)`},
		Begin: []string{"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", "START TRANSACTION",
			`SELECT seq FROM ` + mysqlSpelled(seal) + ` ORDER BY seq DESC LIMIT 1 FOR UPDATE`},
		Horizon: `SELECT ` + stamp(`LEAST(COALESCE(MIN(trx_started), NOW(6)), NOW(6))`) +
			` FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id <> CONNECTION_ID()`,
		HorizExpr: stamp("a.occurred_at"),
		Before:    "a.occurred_at < FROM_UNIXTIME(?)",
		TimeArg:   func(t time.Time) any { return fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000) },
		Canonical: `JSON_ARRAY(a.id, a.tx_id, ` + stamp("a.occurred_at") + `, a.actor, a.action, a.table_name, ` +
			json("row_key") + `, ` + json("old_values") + `, ` + json("new_values") + `, ` + json("metadata") + `, a.query)`,
	}
}

// mysqlIdent quotes an identifier with backticks (doubled inside).
func mysqlIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// mysqlSpelled is a table reference quoted for MySQL.
func mysqlSpelled(r sqlstmt.TableRef) string {
	if r.Schema != "" {
		return mysqlIdent(r.Schema) + "." + mysqlIdent(r.Name)
	}
	return mysqlIdent(r.Name)
}

// mysqlString quotes a string literal; backslashes are doubled because the
// server reads them as escapes (NO_BACKSLASH_ESCAPES is refused).
func mysqlString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s) + "'"
}

// commitAmbiguous: a COMMIT the server answered failed with a MySQLError;
// anything else (invalid connection, bad connection, network) broke on the
// way and may have committed.
func (mysqlDialect) CommitAmbiguous(err error) bool {
	for _, e := range unwrapAll(err) {
		t := reflect.TypeOf(e)
		if t.Kind() == reflect.Pointer && t.Elem().PkgPath() == "github.com/go-sql-driver/mysql" && t.Elem().Name() == "MySQLError" {
			return false
		}
	}
	return true
}

func unwrapAll(err error) []error {
	var out []error
	for err != nil {
		out = append(out, err)
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				out = append(out, unwrapAll(e)...)
			}
			return out
		default:
			err = errors.Unwrap(err)
		}
	}
	return out
}

// auditDDL creates a sequence for the record ids: an AUTO_INCREMENT id would
// move the session's LAST_INSERT_ID() on every record written. The wrapper
// names NEXT VALUE FOR in its own INSERTs: MariaDB 10.11 crashes (signal
// 11 in Item_func_nextval) evaluating a sequence DEFAULT in a prepared
// INSERT … SELECT under concurrency, found by this package's load test.
func (mysqlDialect) AuditDDL(table string) []string {
	seq := mySeq(table)
	return []string{
		`CREATE SEQUENCE IF NOT EXISTS ` + seq,
		`CREATE TABLE IF NOT EXISTS ` + table + ` (
    id          BIGINT       NOT NULL DEFAULT (NEXT VALUE FOR ` + seq + `) PRIMARY KEY,
    tx_id       BIGINT       NOT NULL,
    occurred_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    actor       TEXT,
    action      VARCHAR(6)   NOT NULL CHECK (action IN ('INSERT', 'UPDATE', 'DELETE')),
    table_name  VARCHAR(300) NOT NULL,
    row_key     JSON         NOT NULL,
    old_values  JSON,
    new_values  JSON,
    metadata    JSON,
    query       LONGTEXT     NOT NULL,
    KEY (tx_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
	}
}

// mySeq names the sequence of the audit table (quoted as the table is).
func mySeq(table string) string {
	if strings.HasSuffix(table, "`") {
		return strings.TrimSuffix(table, "`") + "_seq`"
	}
	return table + "_seq"
}

// myConn is the per-connection state.
type myConn struct {
	c *engine.Session
	// tx names the current transaction to the record statements, which draw
	// its tx_id at its first record and keep it in @_sqa_tx (see myTxID)
	tx      int64
	inTx    bool              // a transaction is open (BeginTx, or BEGIN sent as text)
	noAuto  bool              // the session runs with autocommit=0: always in a transaction
	seq     int64             // numbers each audited statement's rows in the copy tables
	copies  map[string]myCopy // copy table → what it was made for
	pending int64             // copied rows not yet deleted
	noBlock bool              // the server refused compound statements (see runBlock)
	seqName string
}

func (mysqlDialect) Open(ctx context.Context, c *engine.Session) (engine.Conn, error) {
	rows, err := c.QueryAll(ctx, `SELECT VERSION()`)
	if err != nil {
		return nil, fmt.Errorf("sqlaudit: setting up the connection: %w", err)
	}
	if err := mysqlServerSupported(engine.AsString(rows[0][0])); err != nil {
		return nil, err
	}
	// Transaction numbers start at a random point so that a pooled session
	// never mistakes a number of an earlier connection for its own.
	return &myConn{c: c, copies: map[string]myCopy{}, seqName: mySeq(c.Shared.Audit), tx: rand.Int64N(1 << 52)}, nil
}

// mysqlServerSupported accepts MariaDB 10.5 and newer (INSERT … RETURNING,
// sequences).
func mysqlServerSupported(version string) error {
	i := strings.Index(version, "-MariaDB")
	if i < 0 {
		return fmt.Errorf("sqlaudit: audit-mysql needs MariaDB 10.5 or newer (INSERT … RETURNING, sequences); server version %q is not MariaDB", version)
	}
	parts := strings.SplitN(version[:i], ".", 3)
	major, _ := strconv.Atoi(parts[0])
	minor := 0
	if len(parts) > 1 {
		minor, _ = strconv.Atoi(parts[1])
	}
	if major < 10 || major == 10 && minor < 5 {
		return fmt.Errorf("sqlaudit: audit-mysql needs MariaDB 10.5 or newer (INSERT … RETURNING, sequences); the server is %s", version)
	}
	return nil
}

// fresh: DDL through any connection drops the catalog; entries are
// otherwise kept (DDL by other clients is not noticed, as on PostgreSQL).
func (*myConn) Fresh(context.Context, *engine.TableInfo) bool { return true }

func (m *myConn) TxEnded() { m.tx, m.inTx = m.tx+1, false }
func (m *myConn) TxBegan() { m.tx, m.inTx = m.tx+1, true }

func (m *myConn) inTransaction() bool { return m.inTx || m.noAuto }

// mysqlCatalogQuery reads a table's columns, key positions and kind, and
// the session settings that decide whether its writes can be audited.
const mysqlCatalogQuery = `SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, c.DATA_TYPE, t.TABLE_TYPE,
  c.TABLE_SCHEMA = DATABASE(),
  (SELECT s.SEQ_IN_INDEX FROM information_schema.STATISTICS s WHERE s.TABLE_SCHEMA = c.TABLE_SCHEMA
     AND s.TABLE_NAME = c.TABLE_NAME AND s.INDEX_NAME = 'PRIMARY' AND s.COLUMN_NAME = c.COLUMN_NAME),
  c.EXTRA, @@SESSION.sql_mode, @@SESSION.autocommit,
  EXISTS (SELECT 1 FROM information_schema.CHECK_CONSTRAINTS k WHERE k.CONSTRAINT_SCHEMA = c.TABLE_SCHEMA
     AND k.TABLE_NAME = c.TABLE_NAME AND k.CHECK_CLAUSE = CONCAT('json_valid(', CHAR(96), REPLACE(c.COLUMN_NAME, CHAR(96), REPEAT(CHAR(96), 2)), CHAR(96), ')'))
FROM information_schema.COLUMNS c JOIN information_schema.TABLES t
  ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
WHERE c.TABLE_SCHEMA = COALESCE(?, DATABASE()) AND c.TABLE_NAME = ?
ORDER BY c.ORDINAL_POSITION`

func (mysqlDialect) LoadTable(ctx context.Context, c *engine.Session, ref sqlstmt.TableRef) (*engine.TableInfo, error) {
	var schema driver.Value
	if ref.Schema != "" {
		schema = ref.Schema
	}
	rows, err := c.QueryAll(ctx, mysqlCatalogQuery, engine.Named(schema, ref.Name)...)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return mysqlHiddenTable(ctx, c, ref)
	}
	m := c.State.(*myConn)
	m.noAuto = engine.AsString(rows[0][9]) == "0"
	t := &engine.TableInfo{Schema: engine.AsString(rows[0][0]), Name: engine.AsString(rows[0][1])}
	t.Quoted = mysqlIdent(t.Schema) + "." + mysqlIdent(t.Name)
	t.Display = t.Name
	if engine.AsString(rows[0][5]) != "1" {
		t.Display = t.Schema + "." + t.Name
	}
	if mode := engine.AsString(rows[0][8]); strings.Contains(mode, "ANSI_QUOTES") || strings.Contains(mode, "NO_BACKSLASH_ESCAPES") {
		t.Unsupported = "the session's sql_mode (" + mode + ") changes how strings and identifiers are quoted; ANSI_QUOTES and NO_BACKSLASH_ESCAPES are not supported"
	}
	if engine.AsString(rows[0][4]) != "BASE TABLE" {
		return t, nil // a view: no key, refused as such
	}
	key := map[int]string{}
	var ext myTable
	for _, r := range rows {
		col := engine.AsString(r[2])
		t.Columns = append(t.Columns, col)
		typ := strings.ToLower(engine.AsString(r[3]))
		if engine.AsInt(r[10]) == 1 { // MariaDB's JSON is LONGTEXT checked by json_valid
			typ = "json"
		}
		ext.Types = append(ext.Types, typ)
		if strings.Contains(engine.AsString(r[7]), "auto_increment") {
			ext.AutoInc = col
		}
		if n, err := strconv.Atoi(engine.AsString(r[6])); err == nil {
			key[n] = col
		}
		if strings.ContainsAny(col, "\"\\") {
			t.Unsupported = "column " + strconv.Quote(col) + " has a double quote or backslash in its name, which JSON paths cannot name portably"
		}
	}
	for i := 1; i <= len(key); i++ {
		t.Key = append(t.Key, key[i])
	}
	t.Ext = ext
	return t, mysqlChildren(ctx, c, t)
}

// myTable is what the MySQL dialect keeps of a table beside the generic
// entry (TableInfo.Ext).
type myTable struct {
	Types   []string // DATA_TYPE by column, "json" for MariaDB's JSON
	AutoInc string   // the AUTO_INCREMENT column, or ""
}

// myt is the MySQL part of t's entry (zero for views and hidden tables).
func myt(t *engine.TableInfo) myTable {
	e, _ := t.Ext.(myTable)
	return e
}

// mysqlHiddenTable: information_schema does not list TEMPORARY tables. A
// name that still reads as a table is one: refuse its writes rather than
// let them through unaudited.
func mysqlHiddenTable(ctx context.Context, c *engine.Session, ref sqlstmt.TableRef) (*engine.TableInfo, error) {
	rows, err := c.RawQuery(ctx, `SELECT 1 FROM `+mysqlSpelled(ref)+` WHERE 1 = 0`, nil)
	if err != nil {
		return nil, nil // no such table: the database says so in its own words
	}
	rows.Close()
	return &engine.TableInfo{Name: ref.Name, Display: ref.Name, Quoted: mysqlSpelled(ref),
		Unsupported: "it is a TEMPORARY table (or one information_schema does not show); its columns and key cannot be read"}, nil
}

// mysqlChildren reads the foreign keys whose actions change rows of other
// tables when rows of t are deleted or their keys updated.
func mysqlChildren(ctx context.Context, c *engine.Session, t *engine.TableInfo) error {
	rows, err := c.QueryAll(ctx, `SELECT r.CONSTRAINT_SCHEMA, r.TABLE_NAME, r.DELETE_RULE, r.UPDATE_RULE,
  JSON_ARRAYAGG(k.COLUMN_NAME ORDER BY k.ORDINAL_POSITION), JSON_ARRAYAGG(k.REFERENCED_COLUMN_NAME ORDER BY k.ORDINAL_POSITION)
FROM information_schema.REFERENTIAL_CONSTRAINTS r JOIN information_schema.KEY_COLUMN_USAGE k
  ON k.CONSTRAINT_SCHEMA = r.CONSTRAINT_SCHEMA AND k.CONSTRAINT_NAME = r.CONSTRAINT_NAME AND k.TABLE_NAME = r.TABLE_NAME
WHERE r.UNIQUE_CONSTRAINT_SCHEMA = ? AND r.REFERENCED_TABLE_NAME = ?
GROUP BY r.CONSTRAINT_SCHEMA, r.CONSTRAINT_NAME, r.TABLE_NAME, r.DELETE_RULE, r.UPDATE_RULE`, engine.Named(t.Schema, t.Name)...)
	if err != nil {
		return err
	}
	acts := func(rule driver.Value) bool {
		s := engine.AsString(rule)
		return s == "CASCADE" || s == "SET NULL" || s == "SET DEFAULT"
	}
	for _, r := range rows {
		fk := engine.ChildFK{Table: sqlstmt.TableRef{Schema: engine.AsString(r[0]), Name: engine.AsString(r[1])}, OnDelete: acts(r[2]), OnUpdate: acts(r[3])}
		if json.Unmarshal([]byte(engine.AsString(r[4])), &fk.Cols) != nil || json.Unmarshal([]byte(engine.AsString(r[5])), &fk.Parent) != nil {
			return fmt.Errorf("sqlaudit: reading the foreign keys referencing %s: unexpected column lists %q, %q", t.Display, r[4], r[5])
		}
		fk.Display = fk.Table.Name
		if fk.Table.Schema != t.Schema {
			fk.Display = fk.Table.Schema + "." + fk.Table.Name
		}
		if fk.OnDelete || fk.OnUpdate {
			t.Children = append(t.Children, fk)
		}
	}
	return nil
}
