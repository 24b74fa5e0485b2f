package sqlstmt_test

import (
	. "github.com/sqlaudit/sqlaudit/internal/sqlstmt"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt/sqlstmttest"

	"reflect"
	"strings"
	"testing"
)

// pg analyses PostgreSQL text.
func pg(q string) *Analysis { return Analyse(q, PostgreSQL) }

func TestAnalyseClassifiesRowWrites(t *testing.T) {
	sqlstmttest.CheckKinds(t, pg, []sqlstmttest.KindCase{
		{Q: "INSERT INTO t (a) VALUES ($1)", Kind: Insert},
		{Q: "INSERT INTO t SELECT * FROM u", Kind: Insert},
		{Q: "INSERT INTO t DEFAULT VALUES", Kind: Insert},
		{Q: "insert into t values (1) returning *", Kind: Insert},
		{Q: "UPDATE t SET a = $1 WHERE id = $2", Kind: Update},
		{Q: "UPDATE t SET a = 1", Kind: Update},
		{Q: "DELETE FROM t WHERE id = $1", Kind: Delete},
		{Q: "DELETE FROM t", Kind: Delete},
		{Q: "DELETE FROM t WHERE id = 1 RETURNING *", Kind: Delete},
	})
}

func TestAnalyseClassifiesStatementsThatChangeNoRows(t *testing.T) {
	sqlstmttest.CheckKinds(t, pg, []sqlstmttest.KindCase{
		{Q: "SELECT 1", Kind: PassThrough},
		{Q: "SELECT * FROM t WHERE a = $1 FOR UPDATE", Kind: PassThrough},
		{Q: "VALUES (1)", Kind: PassThrough},
		{Q: "TABLE t", Kind: PassThrough},
		{Q: "SHOW search_path", Kind: PassThrough},
		{Q: "SET search_path = app", Kind: PassThrough},
		{Q: "WITH x AS (SELECT 1) SELECT * FROM x", Kind: PassThrough},
		{Q: "EXPLAIN SELECT 1", Kind: PassThrough},
		{Q: "EXPLAIN ANALYZE SELECT 1", Kind: PassThrough},
		{Q: "EXPLAIN UPDATE t SET a = 1", Kind: PassThrough},
		{Q: "EXPLAIN (COSTS off) DELETE FROM t", Kind: PassThrough},
		{Q: "COPY t TO STDOUT", Kind: PassThrough},
		{Q: "", Kind: PassThrough},
		{Q: " ; ;", Kind: PassThrough},
		{Q: "-- only a comment", Kind: PassThrough},

		{Q: "CREATE TABLE t (id int PRIMARY KEY, a text)", Kind: DDL},
		{Q: "CREATE TABLE t2 AS SELECT * FROM t", Kind: DDL},
		{Q: "SELECT * INTO t2 FROM t", Kind: DDL},
		{Q: "ALTER TABLE t ADD COLUMN b int", Kind: DDL},
		{Q: "ALTER TABLE t RENAME COLUMN b TO c", Kind: DDL},
		{Q: "DROP TABLE t", Kind: DDL},
		{Q: "CREATE INDEX ON t (a)", Kind: DDL},
		{Q: "CREATE VIEW v AS SELECT 1", Kind: DDL},
		{Q: "CREATE SCHEMA s", Kind: DDL},
		{Q: "CREATE TYPE mood AS ENUM ('sad', 'ok')", Kind: DDL},
		{Q: "CREATE DOMAIN pos AS int CHECK (VALUE > 0)", Kind: DDL},
		{Q: "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$", Kind: DDL},
		{Q: "CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()", Kind: DDL},

		{Q: "BEGIN", Kind: TxControl},
		{Q: "START TRANSACTION ISOLATION LEVEL SERIALIZABLE", Kind: TxControl},
		{Q: "COMMIT", Kind: TxControl},
		{Q: "ROLLBACK", Kind: TxControl},
		{Q: "END", Kind: TxControl},
		{Q: "COMMIT TRANSACTION", Kind: TxControl},
		{Q: "ROLLBACK WORK", Kind: TxControl},

		// Savepoints neither begin nor end the transaction.
		{Q: "SAVEPOINT s1", Kind: PassThrough},
		{Q: "RELEASE SAVEPOINT s1", Kind: PassThrough},
		{Q: "ROLLBACK TO SAVEPOINT s1", Kind: PassThrough},
	})
}

func TestAnalyseRefusesWritesItCannotAudit(t *testing.T) {
	sqlstmttest.CheckKinds(t, pg, []sqlstmttest.KindCase{
		{Q: "TRUNCATE t CASCADE", Kind: Unsupported, Reason: "TRUNCATE"},
		{Q: "TRUNCATE t RESTART IDENTITY", Kind: Unsupported, Reason: "TRUNCATE"},
		{Q: "TRUNCATE a, b", Kind: Unsupported, Reason: "TRUNCATE"},
		{Q: "COPY t FROM STDIN", Kind: Unsupported, Reason: "COPY"},
		{Q: "COPY t (a, b) FROM '/tmp/x.csv' WITH (FORMAT csv)", Kind: Unsupported, Reason: "COPY"},
		{Q: "EXECUTE prepared_write(1)", Kind: Unsupported, Reason: "EXECUTE"},
		{Q: "EXPLAIN ANALYZE UPDATE t SET a = 1", Kind: Unsupported, Reason: "EXPLAIN ANALYZE"},
		{Q: "EXPLAIN (ANALYZE) DELETE FROM t", Kind: Unsupported, Reason: "EXPLAIN ANALYZE"},
		{Q: "EXPLAIN (ANALYZE true, BUFFERS) INSERT INTO t VALUES (1)", Kind: Unsupported, Reason: "EXPLAIN ANALYZE"},
		{Q: "EXPLAIN ANALYZE WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", Kind: Unsupported, Reason: "EXPLAIN ANALYZE"},
		{Q: "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", Kind: Unsupported, Reason: "WITH"},
		{Q: "WITH u AS (UPDATE t SET a = 1 RETURNING *) SELECT count(*) FROM u", Kind: Unsupported, Reason: "WITH"},
		{Q: "WITH i AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM i", Kind: Unsupported, Reason: "WITH"},
		{Q: "WITH d AS (DELETE FROM u RETURNING *) UPDATE t SET a = 1", Kind: Unsupported, Reason: "WITH"},
		{Q: "UPDATE t SET a = 1 WHERE CURRENT OF c", Kind: Unsupported, Reason: "CURRENT OF"},
		{Q: "DELETE FROM t WHERE CURRENT OF c", Kind: Unsupported, Reason: "CURRENT OF"},
		// Code the wrapper cannot see runs only with the warn policy.
		{Q: "DO $$ BEGIN UPDATE t SET a = 1; END $$", Kind: Unsupported, Reason: "DO block"},
		{Q: "DO LANGUAGE plpgsql 'BEGIN DELETE FROM t; END'", Kind: Unsupported, Reason: "DO block"},
		{Q: "CALL archive_orders(30)", Kind: Unsupported, Reason: "CALL"},
		{Q: "call s.p()", Kind: Unsupported, Reason: "CALL"},
		// A function called by a SELECT stays a read (documented: its writes are not seen).
		{Q: "SELECT archive_orders(30)", Kind: PassThrough},
	})
}

func TestAnalyseRefusesWritesItCannotRead(t *testing.T) {
	for _, tt := range []struct {
		q string
	}{
		{"UPDATE t SET a = WHERE id = 1"},
		{"UPDATE t SET"},
		{"INSERT INTO t VALUES ("},
		{"DELETE t WHERE id = 1"},
		{"WITH x AS (SELECT 1"},
		{"MERGE INTO t"},
	} {
		a := pg(tt.q)
		if a.Kind != Unsupported || !strings.Contains(a.Reason, "cannot read") {
			t.Errorf("analyse(%q) = %s with reason %q, want unsupported because the parser cannot read it",
				tt.q, a.Kind, a.Reason)
		}
	}
}

func TestAnalysePassesThroughWhatItCannotReadUnlessItWritesOrAltersTables(t *testing.T) {
	sqlstmttest.CheckKinds(t, pg, []sqlstmttest.KindCase{
		{Q: "FROBNICATE everything", Kind: PassThrough},
		{Q: "SELECT FROM WHERE", Kind: PassThrough},
		{Q: "CREATE TABLE (", Kind: DDL},
	})
}

func TestAnalyseTreatsMultiStatementStringsAsAWhole(t *testing.T) {
	sqlstmttest.CheckKinds(t, pg, []sqlstmttest.KindCase{
		{Q: "SELECT 1; SELECT 2", Kind: PassThrough},
		{Q: "SET a = 1; SHOW a;", Kind: PassThrough},
		{Q: "CREATE TABLE a (x int); CREATE INDEX ON a (x)", Kind: DDL},
		{Q: "SELECT 1; DROP TABLE a", Kind: DDL},
		{Q: "SELECT 1; UPDATE t SET a = 1", Kind: Unsupported, Reason: "several statements"},
		{Q: "INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)", Kind: Unsupported, Reason: "several statements"},
		{Q: "DELETE FROM t; SELECT 1", Kind: Unsupported, Reason: "several statements"},
		{Q: "SELECT 1; TRUNCATE t", Kind: Unsupported, Reason: "several statements"},
		{Q: "SELECT 1; UPDATE t SET", Kind: Unsupported, Reason: "several statements"},
	})
	// No tables: excluding one table must never let a whole string through.
	a := pg("SELECT 1; UPDATE s.t SET a = 1")
	if len(a.Tables) != 0 {
		t.Errorf("tables of a refused multi-statement write = %+v, want none", a.Tables)
	}
	if a.Text != "SELECT 1; UPDATE s.t SET a = 1" {
		t.Errorf("text of a multi-statement string = %q, want it unchanged", a.Text)
	}
}

func TestAnalyseDoesNotSplitAtSemicolonsInLiterals(t *testing.T) {
	for _, q := range []string{
		"UPDATE t SET a = ';' WHERE b = 'x;y'",
		"UPDATE t SET a = $$;$$ WHERE b = 1",
		"UPDATE t SET a = E'\\';' WHERE b = 1",
		"UPDATE t SET \"a;b\" = 1 /* ; */ WHERE b = 1 -- ;",
	} {
		if a := pg(q); a.Kind != Update {
			t.Errorf("analyse(%q) = %s (%s), want a single update", q, a.Kind, a.Reason)
		}
	}
}

func TestAnalyseNamesTheTablesOfRefusedWrites(t *testing.T) {
	tests := []struct {
		q    string
		want []TableRef
	}{
		{"TRUNCATE a, s.b", []TableRef{{Name: "a"}, {Schema: "s", Name: "b"}}},
		{"COPY t FROM STDIN", []TableRef{{Name: "t"}}},
	}
	for _, tt := range tests {
		a := pg(tt.q)
		if a.Kind != Unsupported || !reflect.DeepEqual(a.Tables, tt.want) {
			t.Errorf("analyse(%q) = %s, tables %+v; want unsupported, tables %+v", tt.q, a.Kind, a.Tables, tt.want)
		}
	}
}

func TestAnalyseReadsTheTargetTable(t *testing.T) {
	tests := []struct {
		q    string
		want TableRef
	}{
		{"UPDATE accounts SET a = 1", TableRef{Name: "accounts"}},
		{"UPDATE Accounts SET a = 1", TableRef{Name: "accounts"}},
		{"UPDATE accounts AS a SET b = 1", TableRef{Name: "accounts", Alias: "a"}},
		{"UPDATE accounts a SET b = 1", TableRef{Name: "accounts", Alias: "a"}},
		{"UPDATE ONLY s.t SET b = 1", TableRef{Schema: "s", Name: "t", Only: true}},
		{`UPDATE "My Schema"."My Table" AS "X" SET b = 1`, TableRef{Schema: "My Schema", Name: "My Table", Alias: "X"}},
		{`UPDATE "a""b" SET c = 1`, TableRef{Name: `a"b`}},
		{"DELETE FROM t", TableRef{Name: "t"}},
		{"DELETE FROM ONLY t WHERE a = 1", TableRef{Name: "t", Only: true}},
		{"DELETE FROM s.t AS x WHERE x.a = 1", TableRef{Schema: "s", Name: "t", Alias: "x"}},
		{"INSERT INTO t VALUES (1)", TableRef{Name: "t"}},
		{"INSERT INTO s.t AS x (a) VALUES (1)", TableRef{Schema: "s", Name: "t", Alias: "x"}},
		{`INSERT INTO "S"."T" VALUES (1)`, TableRef{Schema: "S", Name: "T"}},
	}
	for _, tt := range tests {
		a := pg(tt.q)
		if !sqlstmttest.IsRowWrite(a.Kind) {
			t.Errorf("analyse(%q) = %s (%s), want a row write", tt.q, a.Kind, a.Reason)
			continue
		}
		if a.Table != tt.want {
			t.Errorf("analyse(%q).table = %+v, want %+v", tt.q, a.Table, tt.want)
		}
	}
}

type updateSlices struct {
	set, where, returning string
	columns               []string
}

func FuzzAnalyse(f *testing.F) {
	for _, s := range sqlstmttest.Seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		a := sqlstmttest.CheckInvariants(t, q, pg)
		if !strings.Contains(q, a.Text) {
			t.Errorf("analyse(%q).Text = %q is not part of the statement", q, a.Text)
		}
		// The read fast path must never let a write through. (SELECT … INTO
		// is a plain read to the fast path but DDL to analyse; only writes
		// are checked here.)
		if IsPlainRead(q) && (sqlstmttest.IsRowWrite(a.Kind) || a.Kind == Unsupported) {
			t.Errorf("IsPlainRead(%q) but analyse says %s (%s)", q, a.Kind, a.Reason)
		}
	})
}

// Inputs the fuzzer and review found: each once crashed the analyser,
// misread a statement, or let a write through unaudited.
func TestAnalyseRegressions(t *testing.T) {
	tests := []struct {
		name  string
		q     string
		check func(a *Analysis) bool
	}{
		{"a table named set", `UPDATE set SET a = 1 WHERE id = 1`,
			func(a *Analysis) bool { return a.Kind == Update && a.Set == "a = 1" }},
		{"an alias named set", `UPDATE t AS set SET a = 1`,
			func(a *Analysis) bool { return a.Kind == Update && a.Set == "a = 1" }},
		{"a schema named set", `UPDATE set.t SET a = 1`,
			func(a *Analysis) bool { return a.Kind == Update && a.Set == "a = 1" }},
		{"EXPLAIN (ANALYZE false) does not run the write", `EXPLAIN (ANALYZE false) UPDATE t SET a = 1`,
			func(a *Analysis) bool { return a.Kind == PassThrough }},
		{"EXPLAIN (ANALYZE off)", `EXPLAIN (ANALYZE off) DELETE FROM t`, func(a *Analysis) bool { return a.Kind == PassThrough }},
		{"EXPLAIN (ANALYZE 0)", `EXPLAIN (ANALYZE 0) DELETE FROM t`, func(a *Analysis) bool { return a.Kind == PassThrough }},
		{"EXPLAIN (ANALYZE) runs it", `EXPLAIN (ANALYZE) DELETE FROM t`, func(a *Analysis) bool { return a.Kind == Unsupported }},
		{"a transaction ending inside a multi-statement string", `COMMIT; SELECT 1`, func(a *Analysis) bool { return a.EndsTx }},
	}
	for _, tt := range tests {
		if a := pg(tt.q); !tt.check(a) {
			t.Errorf("%s: analyse(%q) = %+v", tt.name, tt.q, a)
		}
	}
}

// User CTEs (that do not write), UPDATE … FROM and DELETE … USING are cut
// into their own slices, which the rewrite puts back around its own parts.
// Writes hidden inside other statements are refused (review findings).
func TestAnalyseFindsWritesInsideOtherStatements(t *testing.T) {
	sqlstmttest.CheckKinds(t, pg, []sqlstmttest.KindCase{
		{Q: "COPY (DELETE FROM t WHERE id = 1 RETURNING id) TO STDOUT", Kind: Unsupported, Reason: "inside the statement"},
		{Q: "CREATE TABLE x AS WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", Kind: Unsupported, Reason: "inside the statement"},
		{Q: "PREPARE p AS DELETE FROM t", Kind: Unsupported, Reason: "PREPARE"},
		{Q: "EXPLAIN ANALYZE EXECUTE p", Kind: Unsupported, Reason: "EXPLAIN ANALYZE"},
		{Q: "TRUNCATE t CASCADE", Kind: Unsupported, Reason: "CASCADE"},
		{Q: "PREPARE q AS SELECT 1", Kind: PassThrough},
		{Q: "EXPLAIN UPDATE t SET a = 1", Kind: PassThrough},
		{Q: "CREATE RULE r AS ON DELETE TO t DO INSTEAD NOTHING", Kind: DDL},
		{Q: "COPY (SELECT 1) TO STDOUT", Kind: PassThrough},
	})
	for _, q := range []string{"TRUNCATE t CASCADE", "WITH d AS (DELETE FROM u RETURNING *) DELETE FROM t"} {
		if a := pg(q); len(a.Tables) != 0 {
			t.Errorf("analyse(%q).tables = %+v: a write reaching other tables must not name only one", q, a.Tables)
		}
	}
}

// A transaction statement says whether a transaction is open after it: AND
// CHAIN ends one and begins the next (issue 14, item 14).
func TestAnalyseTellsWhereTransactionsBeginAndEnd(t *testing.T) {
	for _, tt := range []struct {
		q            string
		ends, begins bool
	}{
		{"BEGIN", true, true},
		{"START TRANSACTION ISOLATION LEVEL SERIALIZABLE", true, true},
		{"COMMIT", true, false},
		{"END", true, false},
		{"ROLLBACK", true, false},
		{"COMMIT AND CHAIN", true, true},
		{"ROLLBACK AND CHAIN", true, true},
		{"COMMIT AND NO CHAIN", true, false},
		{"SAVEPOINT s", false, false},
		{"ROLLBACK TO SAVEPOINT s", false, false},
		{"COMMIT AND CHAIN; SELECT 1", true, true},
	} {
		if a := pg(tt.q); a.EndsTx != tt.ends || a.BeginsTx != tt.begins {
			t.Errorf("analyse(%q): ends %v, begins %v; want %v, %v", tt.q, a.EndsTx, a.BeginsTx, tt.ends, tt.begins)
		}
	}
}

// MERGE is a write of its target table, its text kept whole (the dialect
// decides whether its server can return what it changes).
func TestAnalyseReadsMerge(t *testing.T) {
	for _, tt := range []struct{ q, table, with, body, returning string }{
		{"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", "t", "",
			"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", ""},
		{"WITH s AS (SELECT 1 AS id) MERGE INTO x.t AS m USING s ON m.id = s.id WHEN NOT MATCHED THEN INSERT VALUES (s.id) RETURNING merge_action(), m.id",
			"t", "s AS (SELECT 1 AS id)", "MERGE INTO x.t AS m USING s ON m.id = s.id WHEN NOT MATCHED THEN INSERT VALUES (s.id)", "merge_action(), m.id"},
	} {
		a := pg(tt.q)
		if a.Kind != Merge || a.Table.Name != tt.table || a.With != tt.with || a.MergeBody != tt.body || a.Returning != tt.returning {
			t.Errorf("analyse(%q) = %s, table %q, with %q, body %q, returning %q", tt.q, a.Kind, a.Table.Name, a.With, a.MergeBody, a.Returning)
		}
	}
	if a := pg("WITH d AS (DELETE FROM u RETURNING id) MERGE INTO t USING d ON t.id = d.id WHEN MATCHED THEN DELETE"); a.Kind != Unsupported {
		t.Errorf("a MERGE after a writing WITH query: %s, want unsupported", a.Kind)
	}
}

func TestAnalyseMarksUpserts(t *testing.T) {
	a := Analyse("INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET a = excluded.a RETURNING *", PostgreSQL)
	if a.Kind != Insert || !a.Upsert || a.OrIgnore || a.InsertBody != "VALUES (1) ON CONFLICT (id) DO UPDATE SET a = excluded.a" {
		t.Fatalf("analyse = %+v", a)
	}
}

func TestAnalyseAuditsTruncateOfOneTableAsDelete(t *testing.T) {
	for _, q := range []string{"TRUNCATE t", "TRUNCATE TABLE ONLY s.t", "truncate t CONTINUE IDENTITY RESTRICT"} {
		a := pg(q)
		if a.Kind != Delete || !a.Truncate || a.Table.Name != "t" || a.Where != "" {
			t.Errorf("analyse(%q) = %+v, want a DELETE of every row of t", q, a)
		}
	}
}
