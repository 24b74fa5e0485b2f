package sqlaudit

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// MySQL audits MariaDB (10.5 or newer) through go-sql-driver/mysql. A write
// runs inside the caller's transaction (under a savepoint) or its own: the
// rows an UPDATE or DELETE will change are locked and copied (key and JSON
// image) into a per-connection TEMPORARY table, the statement runs restricted
// to the copied keys, and the records are written set-based by comparing the
// copies with the rows as they are now. An INSERT returns its keys
// (MariaDB's INSERT … RETURNING) and the records are read back by key.
// Oracle MySQL lacks INSERT … RETURNING and sequences: connecting to it fails
// with a clear error.
var MySQL Dialect = mysqlDialect{}

type mysqlDialect struct{}

func (mysqlDialect) Name() string                       { return "mysql" }
func (mysqlDialect) lexStyle() sqlstmt.Style            { return sqlstmt.StyleMySQL }
func (mysqlDialect) keywordDSN() bool                   { return false }
func (mysqlDialect) oneByOne() bool                     { return false }
func (mysqlDialect) analyse(q string) *sqlstmt.Analysis { return analyseMySQL(q) }
func (mysqlDialect) ident(s string) string              { return mysqlIdent(s) }

// sealing: records are sealed by time. A transaction still running began at
// or after the oldest trx_started of information_schema.INNODB_TRX (second
// precision, rounded down), and every record it writes is stamped later, so
// the records stamped before that are final (the sealer needs the PROCESS
// privilege to see other sessions' transactions). Sealers serialise on the
// last seal row, locked with its gap at REPEATABLE READ.
func (mysqlDialect) sealing(audit, seal sqlstmt.TableRef) sealSQL {
	stamp := func(col string) string { return `CAST(UNIX_TIMESTAMP(` + col + `) * 1000000 AS SIGNED)` }
	json := func(col string) string { return `CAST(a.` + col + ` AS CHAR)` }
	return sealSQL{
		ddl: []string{`CREATE TABLE IF NOT EXISTS ` + mysqlSpelled(seal) + ` (seq BIGINT PRIMARY KEY, record_id BIGINT NOT NULL UNIQUE, hash VARCHAR(64) NOT NULL, horizon BIGINT NOT NULL) ENGINE=InnoDB`,
			`CREATE INDEX IF NOT EXISTS ` + mysqlIdent(audit.Name+"_occurred_at") + ` ON ` + mysqlSpelled(audit) + ` (occurred_at)`},
		begin: []string{"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", "START TRANSACTION",
			`SELECT seq FROM ` + mysqlSpelled(seal) + ` ORDER BY seq DESC LIMIT 1 FOR UPDATE`},
		horizon: `SELECT ` + stamp(`LEAST(COALESCE(MIN(trx_started), NOW(6)), NOW(6))`) +
			` FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id <> CONNECTION_ID()`,
		horizExpr: stamp("a.occurred_at"),
		before:    "a.occurred_at < FROM_UNIXTIME(?)",
		timeArg:   func(t time.Time) any { return fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000) },
		canonical: `JSON_ARRAY(a.id, a.tx_id, ` + stamp("a.occurred_at") + `, a.actor, a.action, a.table_name, ` +
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
func (mysqlDialect) commitAmbiguous(err error) bool {
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

// beforeDrop: InnoDB refuses to drop a table other tables reference.
func (mysqlDialect) beforeDrop(context.Context, *conn, *tableInfo) error { return nil }

// auditDDL creates a sequence for the record ids: an AUTO_INCREMENT id would
// move the session's LAST_INSERT_ID() on every record written. The wrapper
// names NEXT VALUE FOR in its own INSERTs: MariaDB 10.11 crashes (signal
// 11 in Item_func_nextval) evaluating a sequence DEFAULT in a prepared
// INSERT … SELECT under concurrency, found by this package's load test.
func (mysqlDialect) auditDDL(table string) []string {
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
	c *conn
	// tx names the current transaction to the record statements, which draw
	// its tx_id at its first record and keep it in @_sqa_tx (see myTxID)
	tx      int64
	inTx    bool                  // a transaction is open (BeginTx, or BEGIN sent as text)
	noAuto  bool                  // the session runs with autocommit=0: always in a transaction
	seq     int64                 // numbers each audited statement's rows in the copy tables
	copies  map[string]*tableInfo // copy table → the catalog entry it was made for
	pending int64                 // copied rows not yet deleted
	noBlock bool                  // the server refused compound statements (see runBlock)
	seqName string
}

func (mysqlDialect) connState(ctx context.Context, c *conn) (dialectConn, error) {
	rows, err := c.queryAll(ctx, `SELECT VERSION()`)
	if err != nil {
		return nil, fmt.Errorf("sqlaudit: setting up the connection: %w", err)
	}
	if err := mysqlServerSupported(asString(rows[0][0])); err != nil {
		return nil, err
	}
	// Transaction numbers start at a random point so that a pooled session
	// never mistakes a number of an earlier connection for its own.
	return &myConn{c: c, copies: map[string]*tableInfo{}, seqName: mySeq(c.c.audit), tx: rand.Int64N(1 << 52)}, nil
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
func (*myConn) fresh(context.Context, *tableInfo) bool { return true }

func (m *myConn) txEnded() { m.tx, m.inTx = m.tx+1, false }
func (m *myConn) txBegan() { m.tx, m.inTx = m.tx+1, true }

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

func (mysqlDialect) loadTable(ctx context.Context, c *conn, ref sqlstmt.TableRef) (*tableInfo, error) {
	var schema driver.Value
	if ref.Schema != "" {
		schema = ref.Schema
	}
	rows, err := c.queryAll(ctx, mysqlCatalogQuery, named(schema, ref.Name)...)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return mysqlHiddenTable(ctx, c, ref)
	}
	m := c.dc.(*myConn)
	m.noAuto = asString(rows[0][9]) == "0"
	t := &tableInfo{schema: asString(rows[0][0]), name: asString(rows[0][1])}
	t.quoted = mysqlIdent(t.schema) + "." + mysqlIdent(t.name)
	t.display = t.name
	if asString(rows[0][5]) != "1" {
		t.display = t.schema + "." + t.name
	}
	if mode := asString(rows[0][8]); strings.Contains(mode, "ANSI_QUOTES") || strings.Contains(mode, "NO_BACKSLASH_ESCAPES") {
		t.unsupported = "the session's sql_mode (" + mode + ") changes how strings and identifiers are quoted; ANSI_QUOTES and NO_BACKSLASH_ESCAPES are not supported"
	}
	if asString(rows[0][4]) != "BASE TABLE" {
		return t, nil // a view: no key, refused as such
	}
	key := map[int]string{}
	for _, r := range rows {
		col := asString(r[2])
		t.columns = append(t.columns, col)
		typ := strings.ToLower(asString(r[3]))
		if asInt(r[10]) == 1 { // MariaDB's JSON is LONGTEXT checked by json_valid
			typ = "json"
		}
		t.types = append(t.types, typ)
		if strings.Contains(asString(r[7]), "auto_increment") {
			t.autoInc = col
		}
		if n, err := strconv.Atoi(asString(r[6])); err == nil {
			key[n] = col
		}
		if strings.ContainsAny(col, "\"\\") {
			t.unsupported = "column " + strconv.Quote(col) + " has a double quote or backslash in its name, which JSON paths cannot name portably"
		}
	}
	for i := 1; i <= len(key); i++ {
		t.key = append(t.key, key[i])
	}
	return t, mysqlChildren(ctx, c, t)
}

// mysqlHiddenTable: information_schema does not list TEMPORARY tables. A
// name that still reads as a table is one: refuse its writes rather than
// let them through unaudited.
func mysqlHiddenTable(ctx context.Context, c *conn, ref sqlstmt.TableRef) (*tableInfo, error) {
	rows, err := c.rawQuery(ctx, `SELECT 1 FROM `+mysqlSpelled(ref)+` WHERE 1 = 0`, nil)
	if err != nil {
		return nil, nil // no such table: the database says so in its own words
	}
	rows.Close()
	return &tableInfo{name: ref.Name, display: ref.Name, quoted: mysqlSpelled(ref),
		unsupported: "it is a TEMPORARY table (or one information_schema does not show); its columns and key cannot be read"}, nil
}

// mysqlChildren reads the foreign keys whose actions change rows of other
// tables when rows of t are deleted or their keys updated.
func mysqlChildren(ctx context.Context, c *conn, t *tableInfo) error {
	rows, err := c.queryAll(ctx, `SELECT r.CONSTRAINT_SCHEMA, r.TABLE_NAME, r.DELETE_RULE, r.UPDATE_RULE,
  JSON_ARRAYAGG(k.COLUMN_NAME ORDER BY k.ORDINAL_POSITION), JSON_ARRAYAGG(k.REFERENCED_COLUMN_NAME ORDER BY k.ORDINAL_POSITION)
FROM information_schema.REFERENTIAL_CONSTRAINTS r JOIN information_schema.KEY_COLUMN_USAGE k
  ON k.CONSTRAINT_SCHEMA = r.CONSTRAINT_SCHEMA AND k.CONSTRAINT_NAME = r.CONSTRAINT_NAME AND k.TABLE_NAME = r.TABLE_NAME
WHERE r.UNIQUE_CONSTRAINT_SCHEMA = ? AND r.REFERENCED_TABLE_NAME = ?
GROUP BY r.CONSTRAINT_SCHEMA, r.CONSTRAINT_NAME, r.TABLE_NAME, r.DELETE_RULE, r.UPDATE_RULE`, named(t.schema, t.name)...)
	if err != nil {
		return err
	}
	acts := func(rule driver.Value) bool {
		s := asString(rule)
		return s == "CASCADE" || s == "SET NULL" || s == "SET DEFAULT"
	}
	for _, r := range rows {
		fk := childFK{table: sqlstmt.TableRef{Schema: asString(r[0]), Name: asString(r[1])}, onDelete: acts(r[2]), onUpdate: acts(r[3])}
		if json.Unmarshal([]byte(asString(r[4])), &fk.cols) != nil || json.Unmarshal([]byte(asString(r[5])), &fk.parent) != nil {
			return fmt.Errorf("sqlaudit: reading the foreign keys referencing %s: unexpected column lists %q, %q", t.display, r[4], r[5])
		}
		fk.display = fk.table.Name
		if fk.table.Schema != t.schema {
			fk.display = fk.table.Schema + "." + fk.table.Name
		}
		if fk.onDelete || fk.onUpdate {
			t.children = append(t.children, fk)
		}
	}
	return nil
}
