package mysqldialect

import (
	"context"
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

// Dialect audits MariaDB 10.5 or newer (go-sql-driver/mysql): the rows a
// write will change are locked and copied first, the write is restricted to
// them, and the records are written set-based after it (see the package
// doc).
type Dialect struct{}

func (Dialect) Name() string                       { return "mysql" }
func (Dialect) Features() engine.Features          { return 0 }
func (Dialect) Analyse(q string) *sqlstmt.Analysis { return analyseMySQL(q) }
func (Dialect) Ident(s string) string              { return mysqlIdent(s) }

// sealing: records are sealed by time. A transaction still running began at
// or after the oldest trx_started of information_schema.INNODB_TRX (second
// precision, rounded down), and every record it writes is stamped later, so
// the records stamped before that are final (the sealer needs the PROCESS
// privilege to see other sessions' transactions). A transaction that has
// changed no row and runs no statement has written no record, and the
// records it will write are stamped by statements yet to start, after
// now: it does not hold the horizon back (the server is shared by every
// database on it, and an idle transaction elsewhere would stop sealing).
// The horizon stays a second behind the clock: InnoDB refreshes INNODB_TRX
// at most every 0.1 s, so a transaction that began (or a statement that
// started) just before may be missing from it or look idle, and a
// statement's timestamp is taken before InnoDB starts its transaction
// (found by the relay's late-commit test). Sealers serialise on the last
// seal row, locked with its gap at REPEATABLE READ.
func (Dialect) Sealing(audit, seal sqlstmt.TableRef) engine.SealSQL {
	stamp := func(col string) string { return `CAST(UNIX_TIMESTAMP(` + col + `) * 1000000 AS SIGNED)` }
	json := func(col string) string { return `CAST(a.` + col + ` AS CHAR)` }
	return engine.SealSQL{
		DDL: []string{`CREATE TABLE IF NOT EXISTS ` + mysqlSpelled(seal) + ` (seq BIGINT PRIMARY KEY, record_id BIGINT NOT NULL UNIQUE, hash VARCHAR(64) NOT NULL, horizon BIGINT NOT NULL) ENGINE=InnoDB`,
			`CREATE INDEX IF NOT EXISTS ` + mysqlIdent(audit.Name+"_occurred_at") + ` ON ` + mysqlSpelled(audit) + ` (occurred_at)`},
		Indexed: `SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ` + schemaOf(audit) +
			` AND TABLE_NAME = ` + mysqlString(audit.Name) + ` AND INDEX_NAME = ` + mysqlString(audit.Name+"_occurred_at") + ` AND SEQ_IN_INDEX = 1`,
		Begin: []string{"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", "START TRANSACTION",
			`SELECT seq FROM ` + mysqlSpelled(seal) + ` ORDER BY seq DESC LIMIT 1 FOR UPDATE`},
		Horizon: `SELECT ` + stamp(`LEAST(COALESCE(MIN(trx_started), NOW(6)), NOW(6) - INTERVAL 1 SECOND)`) +
			` FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id <> CONNECTION_ID()` +
			` AND (trx_rows_modified > 0 OR trx_query IS NOT NULL OR trx_state <> 'RUNNING')`,
		HorizExpr: stamp("a.occurred_at"),
		Before:    "a.occurred_at < FROM_UNIXTIME(?)",
		TimeArg:   func(t time.Time) any { return fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000) },
		Canonical: `JSON_ARRAY(a.id, a.tx_id, ` + stamp("a.occurred_at") + `, a.actor, a.action, a.table_name, ` +
			json("row_key") + `, ` + json("old_values") + `, ` + json("new_values") + `, ` + json("metadata") + `, a.query)`,
	}
}

// commitAmbiguous: a COMMIT the server answered failed with a MySQLError;
// anything else (invalid connection, bad connection, network) broke on the
// way and may have committed.
func (Dialect) CommitAmbiguous(err error) bool {
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
// The indexes the reading side uses follow (readingIndexes).
func (Dialect) AuditDDL(table string) []string {
	seq := mySeq(table)
	return append([]string{
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
	}, readingIndexes(table)...)
}

// mySeq names the sequence of the audit table (quoted as the table is).
func mySeq(table string) string {
	if strings.HasSuffix(table, "`") {
		return strings.TrimSuffix(table, "`") + "_seq`"
	}
	return table + "_seq"
}

// LocateAudit returns the DSN's database, the current one of a new
// connection: the audit table is the one there, so that after USE other_db
// records still go to the one trail (an unqualified name would follow the
// USE).
func (Dialect) LocateAudit(ctx context.Context, s *engine.Session) (string, error) {
	rows, err := s.QueryAll(ctx, `SELECT DATABASE()`)
	if err != nil || len(rows) == 0 {
		return "", err
	}
	return engine.AsString(rows[0][0]), nil
}

func (Dialect) Open(ctx context.Context, c *engine.Session) (engine.Conn, error) {
	// The session variables the records statements and upserts keep state
	// in get their types before any statement reads them: a variable still
	// unset reads as a NULL constant in an INSERT … SELECT prepared before
	// it was ever set (an upsert from SELECT recorded its updates as INSERTs).
	rows, err := c.QueryAll(ctx, `SELECT VERSION(), @_sqa_o := '', @_sqa_c := 0, @_sqa_n := 0, @_sqa_t := -1, @_sqa_tx := 0`)
	if err != nil {
		return nil, fmt.Errorf("sqlaudit: setting up the connection: %w", err)
	}
	version := engine.AsString(rows[0][0])
	if err := mysqlServerSupported(version); err != nil {
		return nil, err
	}
	// Transaction numbers start at a random point so that a pooled session
	// never mistakes a number of an earlier connection for its own.
	return &myConn{c: c, copies: map[string]myCopy{}, tx: rand.Int64N(1 << 52),
		jsonEquals: mysqlAtLeast(version, 10, 7)}, nil
}

// mysqlServerSupported accepts MariaDB 10.5 and newer (INSERT … RETURNING,
// sequences).
func mysqlServerSupported(version string) error {
	if !strings.Contains(version, "-MariaDB") {
		return fmt.Errorf("sqlaudit: audit-mysql needs MariaDB 10.5 or newer (INSERT … RETURNING, sequences); server version %q is not MariaDB", version)
	}
	if !mysqlAtLeast(version, 10, 5) {
		return fmt.Errorf("sqlaudit: audit-mysql needs MariaDB 10.5 or newer (INSERT … RETURNING, sequences); the server is %s", version)
	}
	return nil
}

// mysqlAtLeast reports whether a MariaDB VERSION() is major.minor or newer.
func mysqlAtLeast(version string, major, minor int) bool {
	parts := strings.SplitN(strings.SplitN(version, "-", 2)[0], ".", 3)
	ma, _ := strconv.Atoi(parts[0])
	mi := 0
	if len(parts) > 1 {
		mi, _ = strconv.Atoi(parts[1])
	}
	return ma > major || ma == major && mi >= minor
}

// schemaOf is the SQL of the audit table's database: its own, or the
// connection's.
func schemaOf(audit sqlstmt.TableRef) string {
	if audit.Schema == "" {
		return "DATABASE()"
	}
	return mysqlString(audit.Schema)
}
