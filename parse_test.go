package sqlaudit

import (
	"reflect"
	"strings"
	"testing"
)

var stmtKindNames = map[stmtKind]string{
	kindPassThrough: "pass-through", kindInsert: "insert", kindUpdate: "update", kindDelete: "delete",
	kindDDL: "DDL", kindTxControl: "transaction control", kindUnsupported: "unsupported",
}

func isRowWrite(k stmtKind) bool { return k == kindInsert || k == kindUpdate || k == kindDelete }

type kindCase struct {
	q      string
	kind   stmtKind
	reason string // for kindUnsupported: a substring of the reason
}

func checkKinds(t *testing.T, style lexStyle, tests []kindCase) {
	t.Helper()
	for _, tt := range tests {
		a := analyse(tt.q, style)
		if a.kind != tt.kind {
			t.Errorf("analyse(%q).kind = %s (reason %q), want %s", tt.q, stmtKindNames[a.kind], a.reason, stmtKindNames[tt.kind])
			continue
		}
		if a.kind == kindUnsupported && !strings.Contains(a.reason, tt.reason) {
			t.Errorf("analyse(%q).reason = %q, want it to mention %q", tt.q, a.reason, tt.reason)
		}
		if a.kind != kindUnsupported && a.reason != "" {
			t.Errorf("analyse(%q) is %s but has reason %q", tt.q, stmtKindNames[a.kind], a.reason)
		}
	}
}

func TestAnalyseClassifiesRowWrites(t *testing.T) {
	checkKinds(t, stylePostgres, []kindCase{
		{q: "INSERT INTO t (a) VALUES ($1)", kind: kindInsert},
		{q: "INSERT INTO t SELECT * FROM u", kind: kindInsert},
		{q: "INSERT INTO t DEFAULT VALUES", kind: kindInsert},
		{q: "insert into t values (1) returning *", kind: kindInsert},
		{q: "UPDATE t SET a = $1 WHERE id = $2", kind: kindUpdate},
		{q: "UPDATE t SET a = 1", kind: kindUpdate},
		{q: "DELETE FROM t WHERE id = $1", kind: kindDelete},
		{q: "DELETE FROM t", kind: kindDelete},
		{q: "DELETE FROM t WHERE id = 1 RETURNING *", kind: kindDelete},
	})
}

func TestAnalyseClassifiesStatementsThatChangeNoRows(t *testing.T) {
	checkKinds(t, stylePostgres, []kindCase{
		{q: "SELECT 1", kind: kindPassThrough},
		{q: "SELECT * FROM t WHERE a = $1 FOR UPDATE", kind: kindPassThrough},
		{q: "VALUES (1)", kind: kindPassThrough},
		{q: "TABLE t", kind: kindPassThrough},
		{q: "SHOW search_path", kind: kindPassThrough},
		{q: "SET search_path = app", kind: kindPassThrough},
		{q: "WITH x AS (SELECT 1) SELECT * FROM x", kind: kindPassThrough},
		{q: "EXPLAIN SELECT 1", kind: kindPassThrough},
		{q: "EXPLAIN ANALYZE SELECT 1", kind: kindPassThrough},
		{q: "EXPLAIN UPDATE t SET a = 1", kind: kindPassThrough},
		{q: "EXPLAIN (COSTS off) DELETE FROM t", kind: kindPassThrough},
		{q: "COPY t TO STDOUT", kind: kindPassThrough},
		{q: "CALL p(1)", kind: kindPassThrough},
		{q: "", kind: kindPassThrough},
		{q: " ; ;", kind: kindPassThrough},
		{q: "-- only a comment", kind: kindPassThrough},

		{q: "CREATE TABLE t (id int PRIMARY KEY, a text)", kind: kindDDL},
		{q: "CREATE TABLE t2 AS SELECT * FROM t", kind: kindDDL},
		{q: "SELECT * INTO t2 FROM t", kind: kindDDL},
		{q: "ALTER TABLE t ADD COLUMN b int", kind: kindDDL},
		{q: "ALTER TABLE t RENAME COLUMN b TO c", kind: kindDDL},
		{q: "DROP TABLE t", kind: kindDDL},
		{q: "CREATE INDEX ON t (a)", kind: kindDDL},
		{q: "CREATE VIEW v AS SELECT 1", kind: kindDDL},
		{q: "CREATE SCHEMA s", kind: kindDDL},
		{q: "CREATE TYPE mood AS ENUM ('sad', 'ok')", kind: kindDDL},
		{q: "CREATE DOMAIN pos AS int CHECK (VALUE > 0)", kind: kindDDL},
		{q: "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$", kind: kindDDL},
		{q: "CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()", kind: kindDDL},

		{q: "BEGIN", kind: kindTxControl},
		{q: "START TRANSACTION ISOLATION LEVEL SERIALIZABLE", kind: kindTxControl},
		{q: "COMMIT", kind: kindTxControl},
		{q: "ROLLBACK", kind: kindTxControl},
		{q: "END", kind: kindTxControl},
		{q: "COMMIT TRANSACTION", kind: kindTxControl},
		{q: "ROLLBACK WORK", kind: kindTxControl},

		// Savepoints neither begin nor end the transaction.
		{q: "SAVEPOINT s1", kind: kindPassThrough},
		{q: "RELEASE SAVEPOINT s1", kind: kindPassThrough},
		{q: "ROLLBACK TO SAVEPOINT s1", kind: kindPassThrough},
	})
}

func TestAnalyseRefusesWritesItCannotAudit(t *testing.T) {
	checkKinds(t, stylePostgres, []kindCase{
		{"TRUNCATE t CASCADE", kindUnsupported, "TRUNCATE"},
		{"TRUNCATE t RESTART IDENTITY", kindUnsupported, "TRUNCATE"},
		{"TRUNCATE a, b", kindUnsupported, "TRUNCATE"},
		{"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", kindUnsupported, "MERGE"},
		{"COPY t FROM STDIN", kindUnsupported, "COPY"},
		{"COPY t (a, b) FROM '/tmp/x.csv' WITH (FORMAT csv)", kindUnsupported, "COPY"},
		{"EXECUTE prepared_write(1)", kindUnsupported, "EXECUTE"},
		{"EXPLAIN ANALYZE UPDATE t SET a = 1", kindUnsupported, "EXPLAIN ANALYZE"},
		{"EXPLAIN (ANALYZE) DELETE FROM t", kindUnsupported, "EXPLAIN ANALYZE"},
		{"EXPLAIN (ANALYZE true, BUFFERS) INSERT INTO t VALUES (1)", kindUnsupported, "EXPLAIN ANALYZE"},
		{"EXPLAIN ANALYZE WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", kindUnsupported, "EXPLAIN ANALYZE"},
		{"WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", kindUnsupported, "WITH"},
		{"WITH u AS (UPDATE t SET a = 1 RETURNING *) SELECT count(*) FROM u", kindUnsupported, "WITH"},
		{"WITH i AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM i", kindUnsupported, "WITH"},
		{"WITH d AS (DELETE FROM u RETURNING *) UPDATE t SET a = 1", kindUnsupported, "WITH"},
		{"UPDATE t SET a = 1 WHERE CURRENT OF c", kindUnsupported, "CURRENT OF"},
		{"DELETE FROM t WHERE CURRENT OF c", kindUnsupported, "CURRENT OF"},
	})
}

func TestAnalyseRefusesWritesItCannotRead(t *testing.T) {
	for _, tt := range []struct {
		style lexStyle
		q     string
	}{
		{stylePostgres, "UPDATE t SET a = WHERE id = 1"},
		{stylePostgres, "UPDATE t SET"},
		{stylePostgres, "INSERT INTO t VALUES ("},
		{stylePostgres, "DELETE t WHERE id = 1"},
		{stylePostgres, "WITH x AS (SELECT 1"},
		{stylePostgres, "MERGE INTO t"},
		{styleSQLite, "UPDATE t SET a = 1 ORDER BY id LIMIT 1"},
		{styleSQLite, "DELETE FROM t INDEXED BY t_a WHERE a = 1"},
		{styleSQLite, "REPLACE t"},
	} {
		a := analyse(tt.q, tt.style)
		if a.kind != kindUnsupported || !strings.Contains(a.reason, "cannot read") {
			t.Errorf("analyse(%q) = %s with reason %q, want unsupported because the parser cannot read it",
				tt.q, stmtKindNames[a.kind], a.reason)
		}
	}
}

func TestAnalysePassesThroughWhatItCannotReadUnlessItWritesOrAltersTables(t *testing.T) {
	checkKinds(t, styleSQLite, []kindCase{
		{q: "PRAGMA foo", kind: kindPassThrough},
		{q: "PRAGMA table_info(t)", kind: kindPassThrough},
		{q: "ATTACH DATABASE 'x.db' AS x", kind: kindDDL},
		{q: "SELECT * FROM t INDEXED BY t_a", kind: kindPassThrough},
		{q: "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT)", kind: kindDDL},
		{q: "CREATE VIRTUAL TABLE f USING fts5(body)", kind: kindDDL},
		{q: "CREATE TABLE t (id INTEGER PRIMARY KEY, a) WITHOUT ROWID", kind: kindDDL},
		{q: "DROP TABLE IF EXISTS t", kind: kindDDL},
	})
	checkKinds(t, stylePostgres, []kindCase{
		{q: "FROBNICATE everything", kind: kindPassThrough},
		{q: "SELECT FROM WHERE", kind: kindPassThrough},
		{q: "CREATE TABLE (", kind: kindDDL},
	})
}

func TestAnalyseTreatsMultiStatementStringsAsAWhole(t *testing.T) {
	checkKinds(t, stylePostgres, []kindCase{
		{q: "SELECT 1; SELECT 2", kind: kindPassThrough},
		{q: "SET a = 1; SHOW a;", kind: kindPassThrough},
		{q: "CREATE TABLE a (x int); CREATE INDEX ON a (x)", kind: kindDDL},
		{q: "SELECT 1; DROP TABLE a", kind: kindDDL},
		{"SELECT 1; UPDATE t SET a = 1", kindUnsupported, "several statements"},
		{"INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)", kindUnsupported, "several statements"},
		{"DELETE FROM t; SELECT 1", kindUnsupported, "several statements"},
		{"SELECT 1; TRUNCATE t", kindUnsupported, "several statements"},
		{"SELECT 1; UPDATE t SET", kindUnsupported, "several statements"},
	})
	checkKinds(t, styleSQLite, []kindCase{
		{q: "PRAGMA a; SELECT ?", kind: kindPassThrough},
		{"SELECT 1; REPLACE INTO t VALUES (1)", kindUnsupported, "several statements"},
		{"INSERT OR IGNORE INTO t VALUES (?); SELECT 1", kindUnsupported, "several statements"},
	})

	// No tables: excluding one table must never let a whole string through.
	a := analyse("SELECT 1; UPDATE s.t SET a = 1", stylePostgres)
	if len(a.tables) != 0 {
		t.Errorf("tables of a refused multi-statement write = %+v, want none", a.tables)
	}
	if a.text != "SELECT 1; UPDATE s.t SET a = 1" {
		t.Errorf("text of a multi-statement string = %q, want it unchanged", a.text)
	}
}

func TestAnalyseDoesNotSplitAtSemicolonsInLiterals(t *testing.T) {
	for _, q := range []string{
		"UPDATE t SET a = ';' WHERE b = 'x;y'",
		"UPDATE t SET a = $$;$$ WHERE b = 1",
		"UPDATE t SET a = E'\\';' WHERE b = 1",
		"UPDATE t SET \"a;b\" = 1 /* ; */ WHERE b = 1 -- ;",
	} {
		if a := analyse(q, stylePostgres); a.kind != kindUpdate {
			t.Errorf("analyse(%q) = %s (%s), want a single update", q, stmtKindNames[a.kind], a.reason)
		}
	}
}

func TestAnalyseNamesTheTablesOfRefusedWrites(t *testing.T) {
	tests := []struct {
		q    string
		want []tableRef
	}{
		{"TRUNCATE a, s.b", []tableRef{{name: "a"}, {schema: "s", name: "b"}}},
		{"MERGE INTO s.t USING u ON true WHEN MATCHED THEN DELETE", []tableRef{{schema: "s", name: "t"}}},
		{"COPY t FROM STDIN", []tableRef{{name: "t"}}},
	}
	for _, tt := range tests {
		a := analyse(tt.q, stylePostgres)
		if a.kind != kindUnsupported || !reflect.DeepEqual(a.tables, tt.want) {
			t.Errorf("analyse(%q) = %s, tables %+v; want unsupported, tables %+v", tt.q, stmtKindNames[a.kind], a.tables, tt.want)
		}
	}
}

func TestAnalyseReadsTheTargetTable(t *testing.T) {
	tests := []struct {
		q    string
		want tableRef
	}{
		{"UPDATE accounts SET a = 1", tableRef{name: "accounts"}},
		{"UPDATE Accounts SET a = 1", tableRef{name: "accounts"}},
		{"UPDATE accounts AS a SET b = 1", tableRef{name: "accounts", alias: "a"}},
		{"UPDATE accounts a SET b = 1", tableRef{name: "accounts", alias: "a"}},
		{"UPDATE ONLY s.t SET b = 1", tableRef{schema: "s", name: "t", only: true}},
		{`UPDATE "My Schema"."My Table" AS "X" SET b = 1`, tableRef{schema: "My Schema", name: "My Table", alias: "X"}},
		{`UPDATE "a""b" SET c = 1`, tableRef{name: `a"b`}},
		{"DELETE FROM t", tableRef{name: "t"}},
		{"DELETE FROM ONLY t WHERE a = 1", tableRef{name: "t", only: true}},
		{"DELETE FROM s.t AS x WHERE x.a = 1", tableRef{schema: "s", name: "t", alias: "x"}},
		{"INSERT INTO t VALUES (1)", tableRef{name: "t"}},
		{"INSERT INTO s.t AS x (a) VALUES (1)", tableRef{schema: "s", name: "t", alias: "x"}},
		{`INSERT INTO "S"."T" VALUES (1)`, tableRef{schema: "S", name: "T"}},
	}
	for _, tt := range tests {
		a := analyse(tt.q, stylePostgres)
		if !isRowWrite(a.kind) {
			t.Errorf("analyse(%q) = %s (%s), want a row write", tt.q, stmtKindNames[a.kind], a.reason)
			continue
		}
		if a.table != tt.want {
			t.Errorf("analyse(%q).table = %+v, want %+v", tt.q, a.table, tt.want)
		}
	}
}

type updateSlices struct {
	set, where, returning string
	columns               []string
}

func TestAnalyseSlicesUpdateClauses(t *testing.T) {
	tests := []struct {
		name string
		q    string
		want updateSlices
	}{
		{"plain", "UPDATE t SET a = $1 WHERE id = $2",
			updateSlices{"a = $1", "id = $2", "", []string{"a"}}},
		{"no WHERE", "UPDATE t SET a = 1, b = 2",
			updateSlices{"a = 1, b = 2", "", "", []string{"a", "b"}}},
		{"RETURNING without WHERE", "UPDATE t SET a = a + 1 RETURNING a, b",
			updateSlices{"a = a + 1", "", "a, b", []string{"a"}}},
		{"all three clauses", "UPDATE t SET a = 1 WHERE b = 2 RETURNING *",
			updateSlices{"a = 1", "b = 2", "*", []string{"a"}}},
		{"IS DISTINCT FROM in SET is not a FROM clause", "UPDATE t SET a = b IS DISTINCT FROM c WHERE id = 1",
			updateSlices{"a = b IS DISTINCT FROM c", "id = 1", "", []string{"a"}}},
		{"IS NOT DISTINCT FROM in SET", "UPDATE t SET a = b IS NOT DISTINCT FROM c",
			updateSlices{"a = b IS NOT DISTINCT FROM c", "", "", []string{"a"}}},
		{"FROM inside a function call", "UPDATE t SET y = extract(year FROM d), s = substring(s FROM 2) WHERE id = 1",
			updateSlices{"y = extract(year FROM d), s = substring(s FROM 2)", "id = 1", "", []string{"y", "s"}}},
		{"a subquery with its own FROM and WHERE inside SET",
			"UPDATE t SET a = (SELECT max(x) FROM u WHERE u.id = t.id) WHERE id = 1",
			updateSlices{"a = (SELECT max(x) FROM u WHERE u.id = t.id)", "id = 1", "", []string{"a"}}},
		{"a subquery in WHERE with its own WHERE",
			"UPDATE t SET a = 1 WHERE b IN (SELECT b FROM u WHERE c = 2)",
			updateSlices{"a = 1", "b IN (SELECT b FROM u WHERE c = 2)", "", []string{"a"}}},
		{"a subquery in RETURNING with its own WHERE",
			"UPDATE t SET a = 1 RETURNING (SELECT 1 WHERE true) AS one",
			updateSlices{"a = 1", "", "(SELECT 1 WHERE true) AS one", []string{"a"}}},
		{"strings containing clause keywords", "UPDATE t SET note = 'no WHERE here' WHERE tag = 'RETURNING' RETURNING 'WHERE'",
			updateSlices{"note = 'no WHERE here'", "tag = 'RETURNING'", "'WHERE'", []string{"note"}}},
		{"an escaped quote does not end a string", "UPDATE t SET note = 'it''s WHERE' WHERE id = 1",
			updateSlices{"note = 'it''s WHERE'", "id = 1", "", []string{"note"}}},
		{"a backslash-escaped quote in an E string", `UPDATE t SET note = E'\' WHERE ' WHERE id = 1`,
			updateSlices{`note = E'\' WHERE '`, "id = 1", "", []string{"note"}}},
		{"a dollar-quoted string containing WHERE", "UPDATE t SET body = $b$ x WHERE y $b$ WHERE id = 1",
			updateSlices{"body = $b$ x WHERE y $b$", "id = 1", "", []string{"body"}}},
		{"a block comment containing RETURNING ends no clause and is not kept at its end", "UPDATE t SET note = 'x' /* RETURNING x */ WHERE id = 1",
			updateSlices{"note = 'x'", "id = 1", "", []string{"note"}}},
		{"a nested comment containing WHERE", "UPDATE t SET a = 1 /* a /* WHERE */ WHERE */ WHERE id = 1",
			updateSlices{"a = 1", "id = 1", "", []string{"a"}}},
		{"a trailing line comment containing RETURNING", "UPDATE t SET a = 1 WHERE id = 1 -- RETURNING *",
			updateSlices{"a = 1", "id = 1", "", []string{"a"}}},
		{"a line comment before the next clause is not kept, so it cannot swallow the rewrite",
			"UPDATE t SET a = 1 -- note\nWHERE id = 1 -- why\nRETURNING a",
			updateSlices{"a = 1", "id = 1", "a", []string{"a"}}},
		{"comments inside a clause are kept", "UPDATE t SET a = 1 /* c */ + 2 WHERE b /* d */ = 1",
			updateSlices{"a = 1 /* c */ + 2", "b /* d */ = 1", "", []string{"a"}}},
		{"quoted identifiers named like keywords", `UPDATE t SET "where" = 1 WHERE "returning" = 2`,
			updateSlices{`"where" = 1`, `"returning" = 2`, "", []string{"where"}}},
		{"an alias", "UPDATE accounts AS a SET balance = a.balance + $1 WHERE a.id = $2 RETURNING a.balance",
			updateSlices{"balance = a.balance + $1", "a.id = $2", "a.balance", []string{"balance"}}},
		{"UPDATE ONLY", "UPDATE ONLY t SET a = 1 WHERE id = 1",
			updateSlices{"a = 1", "id = 1", "", []string{"a"}}},
		{"schema-qualified quoted names", `UPDATE "S"."T" SET "Col" = 1 WHERE "Col" = 2`,
			updateSlices{`"Col" = 1`, `"Col" = 2`, "", []string{"Col"}}},
		{"a row-constructor SET", "UPDATE t SET (a, b) = ($1, $2) WHERE id = $3",
			updateSlices{"(a, b) = ($1, $2)", "id = $3", "", []string{"a", "b"}}},
		{"a row-constructor SET from a subquery", "UPDATE t SET (a, b) = (SELECT x, y FROM u WHERE u.id = t.id), c = 3",
			updateSlices{"(a, b) = (SELECT x, y FROM u WHERE u.id = t.id), c = 3", "", "", []string{"a", "b", "c"}}},
		{"a CASE expression", "UPDATE t SET a = CASE WHEN b THEN 1 ELSE 2 END WHERE c",
			updateSlices{"a = CASE WHEN b THEN 1 ELSE 2 END", "c", "", []string{"a"}}},
		{"lower-case keywords", "update t set a = 1 where b = 2 returning a",
			updateSlices{"a = 1", "b = 2", "a", []string{"a"}}},
		{"blank lines between clauses", "UPDATE t\n  SET a = 1\n  WHERE b = 2\n  RETURNING a\n",
			updateSlices{"a = 1", "b = 2", "a", []string{"a"}}},
		{"surrounding comments and a final semicolon", "/* lead */ UPDATE t SET a = 1 WHERE b = 2; -- done",
			updateSlices{"a = 1", "b = 2", "", []string{"a"}}},
		{"a column set to DEFAULT", "UPDATE t SET a = DEFAULT WHERE id = 1",
			updateSlices{"a = DEFAULT", "id = 1", "", []string{"a"}}},
		{"a subscripted target", "UPDATE t SET arr[1] = 2 WHERE id = 1",
			updateSlices{"arr[1] = 2", "id = 1", "", []string{"arr"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := analyse(tt.q, stylePostgres)
			if a.kind != kindUpdate {
				t.Fatalf("analyse(%q) = %s (%s), want update", tt.q, stmtKindNames[a.kind], a.reason)
			}
			got := updateSlices{a.setText, a.whereText, a.returningText, a.setColumns}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("analyse(%q)\n got %#v\nwant %#v", tt.q, got, tt.want)
			}
		})
	}
}

func TestAnalyseSlicesDeleteClauses(t *testing.T) {
	tests := []struct {
		name, q, where, returning string
	}{
		{"no WHERE", "DELETE FROM t", "", ""},
		{"WHERE", "DELETE FROM t WHERE id = $1", "id = $1", ""},
		{"WHERE and RETURNING", "DELETE FROM t WHERE id = 1 RETURNING id, a", "id = 1", "id, a"},
		{"RETURNING only", "DELETE FROM t RETURNING *", "", "*"},
		{"an alias", "DELETE FROM t AS x WHERE x.id = 1 RETURNING x.a", "x.id = 1", "x.a"},
		{"ONLY", "DELETE FROM ONLY t WHERE id = 1", "id = 1", ""},
		{"a subquery with WHERE", "DELETE FROM t WHERE id IN (SELECT id FROM u WHERE u.gone)", "id IN (SELECT id FROM u WHERE u.gone)", ""},
		{"EXISTS with RETURNING-like text", "DELETE FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.x = 'RETURNING')", "EXISTS (SELECT 1 FROM u WHERE u.x = 'RETURNING')", ""},
		{"comments around clauses", "DELETE FROM t /* WHERE nothing */ WHERE a = 1 -- RETURNING *", "a = 1", ""},
		{"a line comment before RETURNING", "DELETE FROM t WHERE id = 1 -- note\nRETURNING id", "id = 1", "id"},
		{"a string containing WHERE", "DELETE FROM t WHERE note = 'x WHERE y' RETURNING 'WHERE'", "note = 'x WHERE y'", "'WHERE'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := analyse(tt.q, stylePostgres)
			if a.kind != kindDelete {
				t.Fatalf("analyse(%q) = %s (%s), want delete", tt.q, stmtKindNames[a.kind], a.reason)
			}
			if a.whereText != tt.where || a.returningText != tt.returning || a.setText != "" || a.insertBody != "" {
				t.Errorf("analyse(%q): where %q, returning %q, set %q, body %q; want where %q, returning %q",
					tt.q, a.whereText, a.returningText, a.setText, a.insertBody, tt.where, tt.returning)
			}
		})
	}
}

func TestAnalyseSlicesInsertBody(t *testing.T) {
	tests := []struct {
		name, q, body, returning string
		orIgnore                 bool
	}{
		{"a column list and values", "INSERT INTO t (a, b) VALUES ($1, $2)", "(a, b) VALUES ($1, $2)", "", false},
		{"values without a column list", "INSERT INTO t VALUES (1), (2)", "VALUES (1), (2)", "", false},
		{"DEFAULT VALUES", "INSERT INTO t DEFAULT VALUES", "DEFAULT VALUES", "", false},
		{"DEFAULT VALUES RETURNING", "INSERT INTO t DEFAULT VALUES RETURNING id", "DEFAULT VALUES", "id", false},
		{"a SELECT with WHERE", "INSERT INTO t (a) SELECT a FROM u WHERE b = 1 RETURNING *", "(a) SELECT a FROM u WHERE b = 1", "*", false},
		{"an alias", "INSERT INTO public.t AS x (a) VALUES (1) RETURNING x.id", "(a) VALUES (1)", "x.id", false},
		{"quoted schema-qualified names", `INSERT INTO "S"."T" AS "x" ("A") VALUES (1)`, `("A") VALUES (1)`, "", false},
		{"no space before the column list", "INSERT INTO t(a) VALUES(1)", "(a) VALUES(1)", "", false},
		{"strings containing RETURNING", "INSERT INTO t (a) VALUES ('RETURNING') RETURNING 'x'", "(a) VALUES ('RETURNING')", "'x'", false},
		{"a line comment before RETURNING", "INSERT INTO t VALUES (1) -- x\nRETURNING id", "VALUES (1)", "id", false},
		{"OVERRIDING", "INSERT INTO t (id) OVERRIDING SYSTEM VALUE VALUES (1)", "(id) OVERRIDING SYSTEM VALUE VALUES (1)", "", false},
		{"ON CONFLICT DO NOTHING ignores conflicts", "INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING", "VALUES (1) ON CONFLICT DO NOTHING", "", true},
		{"ON CONFLICT on a target DO NOTHING RETURNING", "INSERT INTO t VALUES (1) ON CONFLICT (id) DO NOTHING RETURNING id",
			"VALUES (1) ON CONFLICT (id) DO NOTHING", "id", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := analyse(tt.q, stylePostgres)
			if a.kind != kindInsert {
				t.Fatalf("analyse(%q) = %s (%s), want insert", tt.q, stmtKindNames[a.kind], a.reason)
			}
			if a.insertBody != tt.body || a.returningText != tt.returning || a.orIgnore != tt.orIgnore ||
				a.whereText != "" || a.setText != "" {
				t.Errorf("analyse(%q): body %q, returning %q, orIgnore %v, where %q, set %q; want body %q, returning %q, orIgnore %v",
					tt.q, a.insertBody, a.returningText, a.orIgnore, a.whereText, a.setText, tt.body, tt.returning, tt.orIgnore)
			}
		})
	}
}

func TestAnalyseTrimsSurroundingBlanksCommentsAndSemicolon(t *testing.T) {
	tests := []struct{ q, text string }{
		{"  DELETE FROM t  ", "DELETE FROM t"},
		{"-- why\nDELETE FROM t WHERE a = 1; -- done", "DELETE FROM t WHERE a = 1"},
		{"/* a */ SELECT 1 /* b */", "SELECT 1"},
		{";SELECT 1;;", "SELECT 1"},
	}
	for _, tt := range tests {
		if a := analyse(tt.q, stylePostgres); a.text != tt.text {
			t.Errorf("analyse(%q).text = %q, want %q", tt.q, a.text, tt.text)
		}
	}
}

func TestAnalyseLeavesTheTextOfPostgreSQLStatementsAlone(t *testing.T) {
	for _, q := range []string{
		"UPDATE t SET a = $1 WHERE b = $2",
		"SELECT a::text, j ? 'k' FROM t WHERE x = :notaparam",
		"INSERT INTO t VALUES ($1) RETURNING *",
	} {
		a := analyse(q, stylePostgres)
		if a.text != q || a.paramNames != nil {
			t.Errorf("analyse(%q): text %q, paramNames %q; want the text unchanged and no names", q, a.text, a.paramNames)
		}
	}
}

func TestSQLiteConflictClauseIsStrippedForTheParser(t *testing.T) {
	tests := []struct{ q, stripped, mode string }{
		{"INSERT OR IGNORE INTO t VALUES (1)", "INSERT INTO t VALUES (1)", "IGNORE"},
		{"insert or replace into t values (1)", "insert into t values (1)", "REPLACE"},
		{"REPLACE INTO t VALUES (1)", "INSERT INTO t VALUES (1)", "REPLACE"},
		{"UPDATE OR IGNORE t SET a = 1", "UPDATE t SET a = 1", "IGNORE"},
		{"UPDATE OR ROLLBACK t SET a = 1", "UPDATE t SET a = 1", "ROLLBACK"},
		{"INSERT OR ABORT INTO t VALUES (1)", "INSERT INTO t VALUES (1)", "ABORT"},
		{"INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (1)", ""},
		{"UPDATE t SET a = 1 OR b", "UPDATE t SET a = 1 OR b", ""},
		{"SELECT 1 OR 2", "SELECT 1 OR 2", ""},
		{"INSERT", "INSERT", ""},
	}
	for _, tt := range tests {
		got, mode := stripConflictClause(tt.q)
		if strings.Join(strings.Fields(got), " ") != tt.stripped || mode != tt.mode {
			t.Errorf("stripConflictClause(%q) = %q, %q; want %q, %q", tt.q, got, mode, tt.stripped, tt.mode)
		}
	}
}

func TestSQLiteConflictClausesDecideTheKind(t *testing.T) {
	checkKinds(t, styleSQLite, []kindCase{
		{q: "INSERT OR IGNORE INTO t (a) VALUES (?)", kind: kindInsert},
		{q: "UPDATE OR IGNORE t SET a = ? WHERE id = ?", kind: kindUpdate},
		{q: "INSERT INTO t (a) VALUES (?) ON CONFLICT DO NOTHING", kind: kindInsert},
		{q: "INSERT INTO t (a) VALUES (?) ON CONFLICT (a) DO NOTHING", kind: kindInsert},
		{"INSERT OR REPLACE INTO t (a) VALUES (?)", kindUnsupported, "REPLACE"},
		{"REPLACE INTO t (a) VALUES (?)", kindUnsupported, "REPLACE"},
		{"UPDATE OR REPLACE t SET a = 1", kindUnsupported, "REPLACE"},
		{"INSERT OR ROLLBACK INTO t VALUES (1)", kindUnsupported, "OR ROLLBACK"},
		{"INSERT OR ABORT INTO t VALUES (1)", kindUnsupported, "OR ABORT"},
		{"UPDATE OR FAIL t SET a = 1", kindUnsupported, "OR FAIL"},
		{q: "INSERT INTO t (a) VALUES (?) ON CONFLICT (a) DO UPDATE SET a = excluded.a", kind: kindInsert}, // refused by the SQLite dialect
	})
	for _, tt := range []struct {
		q        string
		orIgnore bool
	}{
		{"INSERT OR IGNORE INTO t (a) VALUES (?)", true},
		{"UPDATE OR IGNORE t SET a = ? WHERE id = ?", true},
		{"INSERT INTO t (a) VALUES (?) ON CONFLICT DO NOTHING", true},
		{"INSERT INTO t (a) VALUES (?)", false},
		{"UPDATE t SET a = ?", false},
	} {
		if a := analyse(tt.q, styleSQLite); a.orIgnore != tt.orIgnore {
			t.Errorf("analyse(%q).orIgnore = %v, want %v", tt.q, a.orIgnore, tt.orIgnore)
		}
	}
	for _, q := range []string{"REPLACE INTO s.t VALUES (1)", "INSERT OR REPLACE INTO s.t VALUES (1)"} {
		a := analyse(q, styleSQLite)
		if want := []tableRef{{schema: "s", name: "t"}}; !reflect.DeepEqual(a.tables, want) {
			t.Errorf("analyse(%q).tables = %+v, want %+v", q, a.tables, want)
		}
	}
}

func TestSQLiteAnalysisKeepsTheConflictClauseInTheTextItRuns(t *testing.T) {
	tests := []struct {
		q, text, set, where, body string
	}{
		{"INSERT OR IGNORE INTO t (a) VALUES (?)", "INSERT OR IGNORE INTO t (a) VALUES (?1)", "", "", "(a) VALUES (?1)"},
		{"UPDATE OR IGNORE t SET a = ? WHERE id = ?", "UPDATE OR IGNORE t SET a = ?1 WHERE id = ?2", "a = ?1", "id = ?2", ""},
	}
	for _, tt := range tests {
		a := analyse(tt.q, styleSQLite)
		if a.text != tt.text || a.setText != tt.set || a.whereText != tt.where || a.insertBody != tt.body {
			t.Errorf("analyse(%q): text %q, set %q, where %q, body %q; want %q, %q, %q, %q",
				tt.q, a.text, a.setText, a.whereText, a.insertBody, tt.text, tt.set, tt.where, tt.body)
		}
	}
}

func TestSQLiteAnalysisRenumbersParameters(t *testing.T) {
	tests := []struct {
		name, q, text string
		names         []string
		set, where    string
		returning     string
		body          string
	}{
		{name: "anonymous parameters", q: "UPDATE t SET a = ?, b = ? WHERE id = ?",
			text: "UPDATE t SET a = ?1, b = ?2 WHERE id = ?3", names: []string{"", "", ""},
			set: "a = ?1, b = ?2", where: "id = ?3"},
		{name: "an anonymous parameter after ?5", q: "UPDATE t SET a = ?5, b = ? WHERE c = ?",
			text: "UPDATE t SET a = ?5, b = ?6 WHERE c = ?7", names: []string{"", "", "", "", "", "", ""},
			set: "a = ?5, b = ?6", where: "c = ?7"},
		{name: "a repeated name keeps its number", q: "UPDATE t SET a = :v WHERE id = :id AND b <> :v",
			text: "UPDATE t SET a = ?1 WHERE id = ?2 AND b <> ?1", names: []string{"v", "id"},
			set: "a = ?1", where: "id = ?2 AND b <> ?1"},
		{name: "every named prefix", q: "UPDATE t SET a = :a, b = @b, c = $c, d = ?",
			text: "UPDATE t SET a = ?1, b = ?2, c = ?3, d = ?4", names: []string{"a", "b", "c", ""},
			set: "a = ?1, b = ?2, c = ?3, d = ?4"},
		{name: "an insert", q: "INSERT INTO t (a, b) VALUES (:a, :b) RETURNING id",
			text: "INSERT INTO t (a, b) VALUES (?1, ?2) RETURNING id", names: []string{"a", "b"},
			body: "(a, b) VALUES (?1, ?2)", returning: "id"},
		{name: "a delete", q: "DELETE FROM t WHERE id = ? RETURNING *",
			text: "DELETE FROM t WHERE id = ?1 RETURNING *", names: []string{""},
			where: "id = ?1", returning: "*"},
		{name: "parameters in literals are left alone", q: "UPDATE t SET a = '?', b = ':x' WHERE c = ? -- ?",
			text: "UPDATE t SET a = '?', b = ':x' WHERE c = ?1", names: []string{""},
			set: "a = '?', b = ':x'", where: "c = ?1"},
		{name: "a read", q: "SELECT * FROM t WHERE a = ? AND b = :b",
			text: "SELECT * FROM t WHERE a = ?1 AND b = ?2", names: []string{"", "b"}},
		{name: "no parameters", q: "DELETE FROM t", text: "DELETE FROM t"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := analyse(tt.q, styleSQLite)
			if a.kind == kindUnsupported {
				t.Fatalf("analyse(%q) refused: %s", tt.q, a.reason)
			}
			if a.text != tt.text {
				t.Errorf("text = %q, want %q", a.text, tt.text)
			}
			if !reflect.DeepEqual(a.paramNames, tt.names) {
				t.Errorf("paramNames = %q, want %q", a.paramNames, tt.names)
			}
			if a.setText != tt.set || a.whereText != tt.where || a.returningText != tt.returning || a.insertBody != tt.body {
				t.Errorf("set %q, where %q, returning %q, body %q; want %q, %q, %q, %q",
					a.setText, a.whereText, a.returningText, a.insertBody, tt.set, tt.where, tt.returning, tt.body)
			}
		})
	}
}

func TestSQLiteAnalysisReadsQuotedIdentifiers(t *testing.T) {
	tests := []struct {
		q       string
		kind    stmtKind
		table   tableRef
		columns []string
	}{
		{"UPDATE `my tab` SET [my col] = :v WHERE id = :id", kindUpdate, tableRef{name: "my tab"}, []string{"my col"}},
		{"UPDATE [Orders] SET `Total` = 1", kindUpdate, tableRef{name: "Orders"}, []string{"Total"}},
		{`UPDATE "Orders" SET "Total" = 1`, kindUpdate, tableRef{name: "Orders"}, []string{"Total"}},
		{"UPDATE main.`t` SET a = 1", kindUpdate, tableRef{schema: "main", name: "t"}, []string{"a"}},
		{"DELETE FROM [where] WHERE `returning` = 1", kindDelete, tableRef{name: "where"}, nil},
		{"INSERT INTO `t` (`a`) VALUES (1)", kindInsert, tableRef{name: "t"}, nil},
	}
	for _, tt := range tests {
		a := analyse(tt.q, styleSQLite)
		if a.kind != tt.kind || a.table != tt.table || !reflect.DeepEqual(a.setColumns, tt.columns) {
			t.Errorf("analyse(%q) = %s (%s), table %+v, columns %q; want %s, %+v, %q",
				tt.q, stmtKindNames[a.kind], a.reason, a.table, a.setColumns, stmtKindNames[tt.kind], tt.table, tt.columns)
		}
	}
	a := analyse("DELETE FROM [where] WHERE `returning` = 1", styleSQLite)
	if a.whereText == "" {
		t.Errorf("a bracketed [where] was taken for the WHERE keyword: where %q", a.whereText)
	}
}

func TestSQLiteAnalysisClassifiesStatements(t *testing.T) {
	checkKinds(t, styleSQLite, []kindCase{
		{q: "SELECT * FROM t WHERE a = ?", kind: kindPassThrough},
		{q: "EXPLAIN UPDATE t SET a = 1", kind: kindPassThrough},
		{q: "VACUUM", kind: kindPassThrough},
		{q: "BEGIN", kind: kindTxControl},
		{q: "BEGIN IMMEDIATE", kind: kindTxControl},
		{q: "BEGIN EXCLUSIVE TRANSACTION", kind: kindTxControl},
		{q: "begin deferred", kind: kindTxControl},
		{q: "COMMIT", kind: kindTxControl},
		{q: "END TRANSACTION", kind: kindTxControl},
		{q: "ROLLBACK TRANSACTION", kind: kindTxControl},
		{q: "SAVEPOINT s1", kind: kindPassThrough},
		{q: "RELEASE s1", kind: kindPassThrough},
		{q: "ROLLBACK TO s1", kind: kindPassThrough},
		{q: "ROLLBACK TRANSACTION TO SAVEPOINT s1", kind: kindPassThrough},
		{q: "CREATE TABLE t (id INTEGER PRIMARY KEY) WITHOUT ROWID", kind: kindDDL},
		{q: "CREATE INDEX t_a ON t (a)", kind: kindDDL},
		{q: "ALTER TABLE t ADD COLUMN b TEXT", kind: kindDDL},
		{q: "INSERT INTO t VALUES (?)", kind: kindInsert},
		{q: "UPDATE t SET a = ?", kind: kindUpdate},
		{q: "DELETE FROM t WHERE a = ?", kind: kindDelete},
		{q: "WITH x AS (SELECT 1) DELETE FROM t", kind: kindDelete},
		{q: "UPDATE t SET a = u.a FROM u WHERE t.id = u.id", kind: kindUpdate},
		{"WITH x AS (SELECT 1) UPDATE OR IGNORE t SET a = 1", kindUnsupported, "parser"},
	})
}

// fuzzSeeds are statements of both dialects; the fuzzer analyses each input
// in both styles.
var fuzzSeeds = []string{
	"`",
	`DELETE FROM /* /* */ t WHERE e <> '*/ u WHERE e <> ''--'`,
	"UPDATE set SET a = 1",
	"UPDATE t SET a = ?2, b = $1",
	"UPDATE t SET a = $1 WHERE id = $2 RETURNING *",
	"UPDATE accounts AS a SET balance = a.balance + 1 WHERE a.id = 1",
	"UPDATE ONLY \"S\".\"T\" SET (a, b) = ($1, $2)",
	"UPDATE t SET a = b IS DISTINCT FROM c WHERE x = (SELECT 1 FROM u WHERE y)",
	"UPDATE t SET note = 'WHERE' /* RETURNING */ WHERE id = 1 -- x",
	"UPDATE t SET a = E'\\';' WHERE b = $q$ ; $q$",
	"DELETE FROM t WHERE id IN (SELECT id FROM u) RETURNING id",
	"DELETE FROM t USING u WHERE t.id = u.id",
	"INSERT INTO t (a, b) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING id",
	"INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET a = 1",
	"INSERT INTO s.t AS x DEFAULT VALUES",
	"WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
	"EXPLAIN ANALYZE UPDATE t SET a = 1",
	"SELECT 1; UPDATE t SET a = 1",
	"CREATE TABLE t (id int PRIMARY KEY); SELECT 1",
	"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE",
	"INSERT OR IGNORE INTO `t` ([a]) VALUES (?)",
	"UPDATE OR IGNORE t SET a = :a, b = ?5, c = ? WHERE d = @d AND e = $e AND f = :a",
	"REPLACE INTO t VALUES (?1, ?2)",
	"CREATE TABLE t (id INTEGER PRIMARY KEY) WITHOUT ROWID",
	"PRAGMA table_info(t)",
	"SELECT a::text FROM t WHERE b = ?",
	"/* a /* b */ c */ SELECT 1",
	"",
}

func FuzzAnalyse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		for _, style := range []lexStyle{stylePostgres, styleSQLite} {
			a := analyse(q, style)
			if a == nil {
				t.Fatalf("analyse(%q, %d) returned nil", q, style)
			}
			if b := analyse(q, style); !reflect.DeepEqual(a, b) {
				t.Fatalf("analyse(%q, %d) is not deterministic:\n%+v\n%+v", q, style, a, b)
			}
			if a.kind == kindUnsupported && a.reason == "" {
				t.Errorf("analyse(%q, %d) is unsupported without a reason", q, style)
			}
			if style == stylePostgres && !strings.Contains(q, a.text) {
				t.Errorf("analyse(%q).text = %q is not part of the statement", q, a.text)
			}
			if !isRowWrite(a.kind) {
				if a.setText != "" || a.whereText != "" || a.returningText != "" || a.insertBody != "" || a.setColumns != nil {
					t.Errorf("analyse(%q, %d) is %s but has clause slices %+v", q, style, stmtKindNames[a.kind], a)
				}
				continue
			}
			for _, s := range []string{a.setText, a.whereText, a.returningText, a.insertBody} {
				if !strings.Contains(a.text, s) {
					t.Errorf("analyse(%q, %d): slice %q is not part of the text %q", q, style, s, a.text)
				}
			}
			if a.table.name == "" {
				t.Errorf("analyse(%q, %d) is %s without a table", q, style, stmtKindNames[a.kind])
			}
			if (a.whereText != "") != a.treeWhere || (a.returningText != "") != a.treeReturning {
				t.Errorf("analyse(%q, %d): slices where %q, returning %q disagree with the tree (where %v, returning %v)",
					q, style, a.whereText, a.returningText, a.treeWhere, a.treeReturning)
			}
			switch a.kind {
			case kindUpdate:
				if a.setText == "" || len(a.setColumns) == 0 || a.insertBody != "" {
					t.Errorf("analyse(%q, %d) is an update with SET %q, columns %q, body %q",
						q, style, a.setText, a.setColumns, a.insertBody)
				}
			case kindDelete:
				if a.setText != "" || a.insertBody != "" {
					t.Errorf("analyse(%q, %d) is a delete with SET %q, body %q", q, style, a.setText, a.insertBody)
				}
			case kindInsert:
				if a.insertBody == "" || a.setText != "" || a.whereText != "" {
					t.Errorf("analyse(%q, %d) is an insert with body %q, SET %q, WHERE %q",
						q, style, a.insertBody, a.setText, a.whereText)
				}
			}
		}
		// The read fast path must never let a write through. (SELECT … INTO
		// is a plain read to the fast path but DDL to analyse; only writes
		// are checked here.)
		if isPlainRead(q) {
			if a := analyse(q, stylePostgres); isRowWrite(a.kind) || a.kind == kindUnsupported {
				t.Errorf("isPlainRead(%q) but analyse says %s (%s)", q, stmtKindNames[a.kind], a.reason)
			}
		}
	})
}

// Inputs the fuzzer and review found: each once crashed the analyser,
// misread a statement, or let a write through unaudited.
func TestAnalyseRegressions(t *testing.T) {
	tests := []struct {
		name  string
		style lexStyle
		q     string
		check func(a *analysis) bool
	}{
		{"unterminated backtick does not panic", styleSQLite, "`", func(a *analysis) bool { return a.kind == kindPassThrough }},
		{"unterminated bracket does not panic", styleSQLite, "SELECT [", func(a *analysis) bool { return a.kind == kindPassThrough }},
		{"huge placeholder numbers are refused, not allocated", styleSQLite, "UPDATE t SET a = ?100000000",
			func(a *analysis) bool { return a.kind == kindUnsupported && strings.Contains(a.reason, "range") }},
		{"e'' is no escape string in SQLite", styleSQLite, `WITH x AS (SELECT e'\' FROM t) DELETE FROM t WHERE e <> ' FROM t) SELECT 1 --'`,
			func(a *analysis) bool {
				return a.kind == kindDelete && a.table.name == "t" && a.whereText == `e <> ' FROM t) SELECT 1 --'`
			}},
		{"comments do not nest in SQLite", styleSQLite, `DELETE FROM /* /* */ t WHERE e <> '*/ u WHERE e <> ''--'`,
			func(a *analysis) bool { return a.kind == kindDelete && a.table.name == "t" }},
		{"a table named set", stylePostgres, `UPDATE set SET a = 1 WHERE id = 1`,
			func(a *analysis) bool { return a.kind == kindUpdate && a.setText == "a = 1" }},
		{"an alias named set", stylePostgres, `UPDATE t AS set SET a = 1`,
			func(a *analysis) bool { return a.kind == kindUpdate && a.setText == "a = 1" }},
		{"a schema named set", stylePostgres, `UPDATE set.t SET a = 1`,
			func(a *analysis) bool { return a.kind == kindUpdate && a.setText == "a = 1" }},
		{"UPDATE OR IGNORE of a table named set", styleSQLite, `UPDATE OR IGNORE set SET a = 1`,
			func(a *analysis) bool { return a.kind == kindUpdate && a.setText == "a = 1" && a.orIgnore }},
		{"EXPLAIN (ANALYZE false) does not run the write", stylePostgres, `EXPLAIN (ANALYZE false) UPDATE t SET a = 1`,
			func(a *analysis) bool { return a.kind == kindPassThrough }},
		{"EXPLAIN (ANALYZE off)", stylePostgres, `EXPLAIN (ANALYZE off) DELETE FROM t`, func(a *analysis) bool { return a.kind == kindPassThrough }},
		{"EXPLAIN (ANALYZE 0)", stylePostgres, `EXPLAIN (ANALYZE 0) DELETE FROM t`, func(a *analysis) bool { return a.kind == kindPassThrough }},
		{"EXPLAIN (ANALYZE) runs it", stylePostgres, `EXPLAIN (ANALYZE) DELETE FROM t`, func(a *analysis) bool { return a.kind == kindUnsupported }},
		{"SQLite runs its own identifier quoting", styleSQLite, "UPDATE `a``b` SET x = [b]",
			func(a *analysis) bool { return a.text == "UPDATE `a``b` SET x = [b]" && a.table.name == "a`b" }},
		{"?abc is a placeholder followed by a name", styleSQLite, `SELECT ?abc`, func(a *analysis) bool { return a.text == "SELECT ?1abc" || a.kind == kindPassThrough }},
		{"$1 is a SQLite name, numbered after ?2", styleSQLite, `UPDATE t SET a = ?2, b = $1`,
			func(a *analysis) bool {
				return reflect.DeepEqual(a.paramNames, []string{"", "", "1"}) && a.text == "UPDATE t SET a = ?2, b = ?3"
			}},
		{"a transaction ending inside a multi-statement string", stylePostgres, `COMMIT; SELECT 1`, func(a *analysis) bool { return a.endsTx }},
		{"SQLite EXPLAIN QUERY PLAN never runs the statement", styleSQLite, `EXPLAIN QUERY PLAN UPDATE t SET a = 1`,
			func(a *analysis) bool { return a.kind == kindPassThrough }},
	}
	for _, tt := range tests {
		if a := analyse(tt.q, tt.style); !tt.check(a) {
			t.Errorf("%s: analyse(%q) = %+v", tt.name, tt.q, a)
		}
	}
}

// User CTEs (that do not write), UPDATE … FROM and DELETE … USING are cut
// into their own slices, which the rewrite puts back around its own parts.
func TestAnalyseSlicesWithFromAndUsing(t *testing.T) {
	tests := []struct {
		q                                     string
		kind                                  stmtKind
		with, set, from, where, returning, ib string
	}{
		{q: "WITH x AS (SELECT 1 AS v) UPDATE t SET a = (SELECT v FROM x) WHERE id = 1", kind: kindUpdate,
			with: "x AS (SELECT 1 AS v)", set: "a = (SELECT v FROM x)", where: "id = 1"},
		{q: "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) DELETE FROM t WHERE id IN (SELECT n FROM r) RETURNING id", kind: kindDelete,
			with: "RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3)", where: "id IN (SELECT n FROM r)", returning: "id"},
		{q: "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", kind: kindInsert, with: "x AS (SELECT 1)", ib: "SELECT * FROM x"},
		{q: "UPDATE t SET a = u.a, b = u.b IS DISTINCT FROM t.b FROM u JOIN v ON v.id = u.id WHERE t.id = u.id RETURNING t.id", kind: kindUpdate,
			set: "a = u.a, b = u.b IS DISTINCT FROM t.b", from: "u JOIN v ON v.id = u.id", where: "t.id = u.id", returning: "t.id"},
		{q: "UPDATE t SET a = _data.a FROM (VALUES (1, 'x'), (2, 'y')) AS _data (id, a) WHERE t.id = _data.id", kind: kindUpdate,
			set: "a = _data.a", from: "(VALUES (1, 'x'), (2, 'y')) AS _data (id, a)", where: "t.id = _data.id"},
		{q: "DELETE FROM t AS x USING u JOIN w USING (id) WHERE x.id = u.id", kind: kindDelete,
			from: "u JOIN w USING (id)", where: "x.id = u.id"},
		{q: "DELETE FROM t USING u", kind: kindDelete, from: "u"},
	}
	for _, tt := range tests {
		a := analyse(tt.q, stylePostgres)
		got := []string{a.withText, a.setText, a.fromText, a.whereText, a.returningText, a.insertBody}
		want := []string{tt.with, tt.set, tt.from, tt.where, tt.returning, tt.ib}
		if a.kind != tt.kind || !reflect.DeepEqual(got, want) {
			t.Errorf("analyse(%q) = %s (%s)\n got %q\nwant %q", tt.q, stmtKindNames[a.kind], a.reason, got, want)
		}
	}
}

// Writes hidden inside other statements are refused (review findings).
func TestAnalyseFindsWritesInsideOtherStatements(t *testing.T) {
	checkKinds(t, stylePostgres, []kindCase{
		{"COPY (DELETE FROM t WHERE id = 1 RETURNING id) TO STDOUT", kindUnsupported, "inside the statement"},
		{"CREATE TABLE x AS WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", kindUnsupported, "inside the statement"},
		{"PREPARE p AS DELETE FROM t", kindUnsupported, "PREPARE"},
		{"EXPLAIN ANALYZE EXECUTE p", kindUnsupported, "EXPLAIN ANALYZE"},
		{"TRUNCATE t CASCADE", kindUnsupported, "CASCADE"},
		{q: "PREPARE q AS SELECT 1", kind: kindPassThrough},
		{q: "EXPLAIN UPDATE t SET a = 1", kind: kindPassThrough},
		{q: "CREATE RULE r AS ON DELETE TO t DO INSTEAD NOTHING", kind: kindDDL},
		{q: "COPY (SELECT 1) TO STDOUT", kind: kindPassThrough},
	})
	for _, q := range []string{"TRUNCATE t CASCADE", "WITH d AS (DELETE FROM u RETURNING *) DELETE FROM t"} {
		if a := analyse(q, stylePostgres); len(a.tables) != 0 {
			t.Errorf("analyse(%q).tables = %+v: a write reaching other tables must not name only one", q, a.tables)
		}
	}
}

func TestAnalyseMarksUpserts(t *testing.T) {
	a := analyse("INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET a = excluded.a RETURNING *", stylePostgres)
	if a.kind != kindInsert || !a.upsert || a.orIgnore || a.insertBody != "VALUES (1) ON CONFLICT (id) DO UPDATE SET a = excluded.a" {
		t.Fatalf("analyse = %+v", a)
	}
}

func TestAnalyseAuditsTruncateOfOneTableAsDelete(t *testing.T) {
	for _, q := range []string{"TRUNCATE t", "TRUNCATE TABLE ONLY s.t", "truncate t CONTINUE IDENTITY RESTRICT"} {
		a := analyse(q, stylePostgres)
		if a.kind != kindDelete || !a.truncate || a.table.name != "t" || a.whereText != "" {
			t.Errorf("analyse(%q) = %+v, want a DELETE of every row of t", q, a)
		}
	}
}
