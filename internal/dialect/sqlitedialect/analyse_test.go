package sqlitedialect

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt/sqlstmttest"
)

// analyse reads SQLite text as the dialect does.
func analyse(q string) *sqlstmt.Analysis { return sqlstmt.Analyse(q, rules) }

// SQLite text through the dialect-aware lexer and the PostgreSQL parser.

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
	sqlstmttest.CheckKinds(t, analyse, []sqlstmttest.KindCase{
		{Q: "INSERT OR IGNORE INTO t (a) VALUES (?)", Kind: sqlstmt.Insert},
		{Q: "UPDATE OR IGNORE t SET a = ? WHERE id = ?", Kind: sqlstmt.Update},
		{Q: "INSERT INTO t (a) VALUES (?) ON CONFLICT DO NOTHING", Kind: sqlstmt.Insert},
		{Q: "INSERT INTO t (a) VALUES (?) ON CONFLICT (a) DO NOTHING", Kind: sqlstmt.Insert},
		// Row capture records what every conflict clause leaves changed.
		{Q: "INSERT OR REPLACE INTO t (a) VALUES (?)", Kind: sqlstmt.Insert},
		{Q: "REPLACE INTO t (a) VALUES (?)", Kind: sqlstmt.Insert},
		{Q: "UPDATE OR REPLACE t SET a = 1", Kind: sqlstmt.Update},
		{Q: "INSERT OR ROLLBACK INTO t VALUES (1)", Kind: sqlstmt.Insert},
		{Q: "INSERT OR ABORT INTO t VALUES (1)", Kind: sqlstmt.Insert},
		{Q: "UPDATE OR FAIL t SET a = 1", Kind: sqlstmt.Update},
		{Q: "INSERT INTO t (a) VALUES (?) ON CONFLICT (a) DO UPDATE SET a = excluded.a", Kind: sqlstmt.Insert},
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
		if a := analyse(tt.q); a.OrIgnore != tt.orIgnore {
			t.Errorf("analyse(%q).orIgnore = %v, want %v", tt.q, a.OrIgnore, tt.orIgnore)
		}
	}
	for _, q := range []string{"REPLACE INTO s.t VALUES (1)", "INSERT OR REPLACE INTO s.t VALUES (1)", "UPDATE OR REPLACE s.t SET a = 1"} {
		a := analyse(q)
		if want := (sqlstmt.TableRef{Schema: "s", Name: "t"}); a.Table != want || !a.OrReplace {
			t.Errorf("analyse(%q) = table %+v, orReplace %v; want %+v, true", q, a.Table, a.OrReplace, want)
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
		a := analyse(tt.q)
		if a.Text != tt.text || a.Set != tt.set || a.Where != tt.where || a.InsertBody != tt.body {
			t.Errorf("analyse(%q): text %q, set %q, where %q, body %q; want %q, %q, %q, %q",
				tt.q, a.Text, a.Set, a.Where, a.InsertBody, tt.text, tt.set, tt.where, tt.body)
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
			a := analyse(tt.q)
			if a.Kind == sqlstmt.Unsupported {
				t.Fatalf("analyse(%q) refused: %s", tt.q, a.Reason)
			}
			if a.Text != tt.text {
				t.Errorf("text = %q, want %q", a.Text, tt.text)
			}
			if a.Set != tt.set || a.Where != tt.where || a.Returning != tt.returning || a.InsertBody != tt.body {
				t.Errorf("set %q, where %q, returning %q, body %q; want %q, %q, %q, %q",
					a.Set, a.Where, a.Returning, a.InsertBody, tt.set, tt.where, tt.returning, tt.body)
			}
		})
	}
}

func TestSQLiteAnalysisReadsQuotedIdentifiers(t *testing.T) {
	tests := []struct {
		q       string
		kind    sqlstmt.Kind
		table   sqlstmt.TableRef
		columns []string
	}{
		{"UPDATE `my tab` SET [my col] = :v WHERE id = :id", sqlstmt.Update, sqlstmt.TableRef{Name: "my tab"}, []string{"my col"}},
		{"UPDATE [Orders] SET `Total` = 1", sqlstmt.Update, sqlstmt.TableRef{Name: "Orders"}, []string{"Total"}},
		{`UPDATE "Orders" SET "Total" = 1`, sqlstmt.Update, sqlstmt.TableRef{Name: "Orders"}, []string{"Total"}},
		{"UPDATE main.`t` SET a = 1", sqlstmt.Update, sqlstmt.TableRef{Schema: "main", Name: "t"}, []string{"a"}},
		{"DELETE FROM [where] WHERE `returning` = 1", sqlstmt.Delete, sqlstmt.TableRef{Name: "where"}, nil},
		{"INSERT INTO `t` (`a`) VALUES (1)", sqlstmt.Insert, sqlstmt.TableRef{Name: "t"}, nil},
	}
	for _, tt := range tests {
		a := analyse(tt.q)
		if a.Kind != tt.kind || a.Table != tt.table || !reflect.DeepEqual(a.SetColumns, tt.columns) {
			t.Errorf("analyse(%q) = %s (%s), table %+v, columns %q; want %s, %+v, %q",
				tt.q, a.Kind, a.Reason, a.Table, a.SetColumns, tt.kind, tt.table, tt.columns)
		}
	}
	a := analyse("DELETE FROM [where] WHERE `returning` = 1")
	if a.Where == "" {
		t.Errorf("a bracketed [where] was taken for the WHERE keyword: where %q", a.Where)
	}
}

func TestSQLiteAnalysisClassifiesStatements(t *testing.T) {
	sqlstmttest.CheckKinds(t, analyse, []sqlstmttest.KindCase{
		{Q: "SELECT * FROM t WHERE a = ?", Kind: sqlstmt.PassThrough},
		{Q: "EXPLAIN UPDATE t SET a = 1", Kind: sqlstmt.PassThrough},
		{Q: "VACUUM", Kind: sqlstmt.PassThrough}, // the dialect makes it DDL (vacuum.go)
		{Q: "BEGIN", Kind: sqlstmt.TxControl},
		{Q: "BEGIN IMMEDIATE", Kind: sqlstmt.TxControl},
		{Q: "BEGIN EXCLUSIVE TRANSACTION", Kind: sqlstmt.TxControl},
		{Q: "begin deferred", Kind: sqlstmt.TxControl},
		{Q: "COMMIT", Kind: sqlstmt.TxControl},
		{Q: "END TRANSACTION", Kind: sqlstmt.TxControl},
		{Q: "ROLLBACK TRANSACTION", Kind: sqlstmt.TxControl},
		{Q: "SAVEPOINT s1", Kind: sqlstmt.PassThrough},
		{Q: "RELEASE s1", Kind: sqlstmt.PassThrough},
		{Q: "ROLLBACK TO s1", Kind: sqlstmt.PassThrough},
		{Q: "ROLLBACK TRANSACTION TO SAVEPOINT s1", Kind: sqlstmt.PassThrough},
		{Q: "CREATE TABLE t (id INTEGER PRIMARY KEY) WITHOUT ROWID", Kind: sqlstmt.DDL},
		{Q: "CREATE INDEX t_a ON t (a)", Kind: sqlstmt.DDL},
		{Q: "ALTER TABLE t ADD COLUMN b TEXT", Kind: sqlstmt.DDL},
		{Q: "INSERT INTO t VALUES (?)", Kind: sqlstmt.Insert},
		{Q: "UPDATE t SET a = ?", Kind: sqlstmt.Update},
		{Q: "DELETE FROM t WHERE a = ?", Kind: sqlstmt.Delete},
		{Q: "WITH x AS (SELECT 1) DELETE FROM t", Kind: sqlstmt.Delete},
		{Q: "UPDATE t SET a = u.a FROM u WHERE t.id = u.id", Kind: sqlstmt.Update},
		{Q: "WITH x AS (SELECT 1) UPDATE OR IGNORE t SET a = 1", Kind: sqlstmt.Unsupported, Reason: "parser"},
	})
}

// Inputs the fuzzer and review found in SQLite text: each once crashed the
// analyser, misread a statement, or let a write through unaudited.
func TestSQLiteAnalysisRegressions(t *testing.T) {
	tests := []struct {
		name  string
		q     string
		check func(a *sqlstmt.Analysis) bool
	}{
		{"unterminated backtick does not panic", "`", func(a *sqlstmt.Analysis) bool { return a.Kind == sqlstmt.PassThrough }},
		{"unterminated bracket does not panic", "SELECT [", func(a *sqlstmt.Analysis) bool { return a.Kind == sqlstmt.PassThrough }},
		{"huge placeholder numbers are refused, not allocated", "UPDATE t SET a = ?100000000",
			func(a *sqlstmt.Analysis) bool {
				return a.Kind == sqlstmt.Unsupported && strings.Contains(a.Reason, "range")
			}},
		{"e'' is no escape string in SQLite", `WITH x AS (SELECT e'\' FROM t) DELETE FROM t WHERE e <> ' FROM t) SELECT 1 --'`,
			func(a *sqlstmt.Analysis) bool {
				return a.Kind == sqlstmt.Delete && a.Table.Name == "t" && a.Where == `e <> ' FROM t) SELECT 1 --'`
			}},
		{"comments do not nest in SQLite", `DELETE FROM /* /* */ t WHERE e <> '*/ u WHERE e <> ''--'`,
			func(a *sqlstmt.Analysis) bool { return a.Kind == sqlstmt.Delete && a.Table.Name == "t" }},
		{"UPDATE OR IGNORE of a table named set", `UPDATE OR IGNORE set SET a = 1`,
			func(a *sqlstmt.Analysis) bool { return a.Kind == sqlstmt.Update && a.Set == "a = 1" && a.OrIgnore }},
		{"SQLite runs its own identifier quoting", "UPDATE `a``b` SET x = [b]",
			func(a *sqlstmt.Analysis) bool { return a.Text == "UPDATE `a``b` SET x = [b]" && a.Table.Name == "a`b" }},
		{"?abc is a placeholder followed by a name", `SELECT ?abc`, func(a *sqlstmt.Analysis) bool { return a.Text == "SELECT ?1abc" || a.Kind == sqlstmt.PassThrough }},
		{"$1 is a SQLite name, numbered after ?2", `UPDATE t SET a = ?2, b = $1`,
			func(a *sqlstmt.Analysis) bool {
				return a.Text == "UPDATE t SET a = ?2, b = ?3"
			}},
		{"SQLite EXPLAIN QUERY PLAN never runs the statement", `EXPLAIN QUERY PLAN UPDATE t SET a = 1`,
			func(a *sqlstmt.Analysis) bool { return a.Kind == sqlstmt.PassThrough }},
	}
	for _, tt := range tests {
		if a := analyse(tt.q); !tt.check(a) {
			t.Errorf("%s: analyse(%q) = %+v", tt.name, tt.q, a)
		}
	}
}

func TestSQLiteAnalysisPassesThroughWhatItCannotReadUnlessItWritesOrAltersTables(t *testing.T) {
	sqlstmttest.CheckKinds(t, analyse, []sqlstmttest.KindCase{
		{Q: "PRAGMA foo", Kind: sqlstmt.PassThrough},
		{Q: "PRAGMA table_info(t)", Kind: sqlstmt.PassThrough},
		{Q: "ATTACH DATABASE 'x.db' AS x", Kind: sqlstmt.DDL},
		{Q: "SELECT * FROM t INDEXED BY t_a", Kind: sqlstmt.PassThrough},
		{Q: "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT)", Kind: sqlstmt.DDL},
		{Q: "CREATE VIRTUAL TABLE f USING fts5(body)", Kind: sqlstmt.DDL},
		{Q: "CREATE TABLE t (id INTEGER PRIMARY KEY, a) WITHOUT ROWID", Kind: sqlstmt.DDL},
		{Q: "DROP TABLE IF EXISTS t", Kind: sqlstmt.DDL},
	})
}

func TestSQLiteAnalysisTreatsMultiStatementStringsAsAWhole(t *testing.T) {
	sqlstmttest.CheckKinds(t, analyse, []sqlstmttest.KindCase{
		{Q: "PRAGMA a; SELECT ?", Kind: sqlstmt.PassThrough},
		{Q: "SELECT 1; REPLACE INTO t VALUES (1)", Kind: sqlstmt.Unsupported, Reason: "several statements"},
		{Q: "INSERT OR IGNORE INTO t VALUES (?); SELECT 1", Kind: sqlstmt.Unsupported, Reason: "several statements"},
	})
}

func TestSQLiteAnalysisRefusesWritesItCannotRead(t *testing.T) {
	for _, q := range []string{
		"UPDATE t SET a = 1 ORDER BY id LIMIT 1",
		"DELETE FROM t INDEXED BY t_a WHERE a = 1",
		"REPLACE t",
	} {
		if a := analyse(q); a.Kind != sqlstmt.Unsupported || !strings.Contains(a.Reason, "cannot read") {
			t.Errorf("analyse(%q) = %s with reason %q, want unsupported because the parser cannot read it", q, a.Kind, a.Reason)
		}
	}
}

// FuzzAnalyseSQLite keeps the invariants of every analysis on SQLite text.
func FuzzAnalyseSQLite(f *testing.F) {
	for _, s := range sqlstmttest.Seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) { sqlstmttest.CheckInvariants(t, q, analyse) })
}

func TestSQLiteParamsNumbersPlaceholdersLikeSQLite(t *testing.T) {
	tests := []struct {
		name          string
		q             string
		pgText, liteQ string
		names         []string
	}{
		{"anonymous parameters count from one",
			"SELECT ?, ?", "SELECT $1, $2", "SELECT ?1, ?2", []string{"", ""}},
		{"an anonymous parameter after ?5 is 6",
			"SELECT ?5, ?", "SELECT $5, $6", "SELECT ?5, ?6", []string{"", "", "", "", "", ""}},
		{"an explicit number below the largest does not reset the count",
			"SELECT ?3, ?1, ?", "SELECT $3, $1, $4", "SELECT ?3, ?1, ?4", []string{"", "", "", ""}},
		{"a repeated name keeps the number of its first appearance",
			"SELECT :a, :b, :a", "SELECT $1, $2, $1", "SELECT ?1, ?2, ?1", []string{"a", "b"}},
		{"names and anonymous parameters share one sequence",
			"SELECT :a, ?, :b, ?", "SELECT $1, $2, $3, $4", "SELECT ?1, ?2, ?3, ?4", []string{"a", "", "b", ""}},
		{"a name after an explicit number takes the next number",
			"SELECT ?3, :a", "SELECT $3, $4", "SELECT ?3, ?4", []string{"", "", "", "a"}},
		{"every prefix names a parameter, without its prefix",
			"SELECT :x, @y, $z", "SELECT $1, $2, $3", "SELECT ?1, ?2, ?3", []string{"x", "y", "z"}},
		{"the prefix is part of the name",
			"SELECT :x, @x", "SELECT $1, $2", "SELECT ?1, ?2", []string{"x", "x"}},
		{"text without parameters is unchanged",
			"SELECT '?', ':a' /* ? */, a::b FROM t", "SELECT '?', ':a' , a::b FROM t",
			"SELECT '?', ':a' /* ? */, a::b FROM t", nil},
		{"parameters touching operators are rewritten in place",
			"UPDATE t SET a=?,b=:b WHERE c=?", "UPDATE t SET a=$1,b=$2 WHERE c=$3",
			"UPDATE t SET a=?1,b=?2 WHERE c=?3", []string{"", "b", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pgText, liteText, err := params(tt.q, sqlstmt.Lex(tt.q, sqlstmt.StyleSQLite))
			if err != nil {
				t.Fatal(err)
			}
			if pgText != tt.pgText {
				t.Errorf("pg text = %q, want %q", pgText, tt.pgText)
			}
			if liteText != tt.liteQ {
				t.Errorf("SQLite text = %q, want %q", liteText, tt.liteQ)
			}
		})
	}
}

func TestSQLiteParamsQuotesIdentifiersTheWayPostgreSQLReadsThem(t *testing.T) {
	tests := []struct{ q, pgText string }{
		{"SELECT `a b` FROM [my table]", `SELECT "a b" FROM "my table"`},
		{`SELECT [a"b]`, `SELECT "a""b"`},
		{`SELECT "already quoted", 'str'`, `SELECT "already quoted", 'str'`},
	}
	for _, tt := range tests {
		pgText, _, _ := params(tt.q, sqlstmt.Lex(tt.q, sqlstmt.StyleSQLite))
		if pgText != tt.pgText {
			t.Errorf("params(%q) pg text = %q, want %q", tt.q, pgText, tt.pgText)
		}
	}
}
