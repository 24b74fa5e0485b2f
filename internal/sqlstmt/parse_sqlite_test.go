package sqlstmt

import (
	"reflect"
	"strings"
	"testing"
)

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
	checkKinds(t, StyleSQLite, []kindCase{
		{q: "INSERT OR IGNORE INTO t (a) VALUES (?)", kind: Insert},
		{q: "UPDATE OR IGNORE t SET a = ? WHERE id = ?", kind: Update},
		{q: "INSERT INTO t (a) VALUES (?) ON CONFLICT DO NOTHING", kind: Insert},
		{q: "INSERT INTO t (a) VALUES (?) ON CONFLICT (a) DO NOTHING", kind: Insert},
		// Row capture records what every conflict clause leaves changed.
		{q: "INSERT OR REPLACE INTO t (a) VALUES (?)", kind: Insert},
		{q: "REPLACE INTO t (a) VALUES (?)", kind: Insert},
		{q: "UPDATE OR REPLACE t SET a = 1", kind: Update},
		{q: "INSERT OR ROLLBACK INTO t VALUES (1)", kind: Insert},
		{q: "INSERT OR ABORT INTO t VALUES (1)", kind: Insert},
		{q: "UPDATE OR FAIL t SET a = 1", kind: Update},
		{q: "INSERT INTO t (a) VALUES (?) ON CONFLICT (a) DO UPDATE SET a = excluded.a", kind: Insert},
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
		if a := Analyse(tt.q, StyleSQLite); a.OrIgnore != tt.orIgnore {
			t.Errorf("analyse(%q).orIgnore = %v, want %v", tt.q, a.OrIgnore, tt.orIgnore)
		}
	}
	for _, q := range []string{"REPLACE INTO s.t VALUES (1)", "INSERT OR REPLACE INTO s.t VALUES (1)", "UPDATE OR REPLACE s.t SET a = 1"} {
		a := Analyse(q, StyleSQLite)
		if want := (TableRef{Schema: "s", Name: "t"}); a.Table != want || !a.OrReplace {
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
		a := Analyse(tt.q, StyleSQLite)
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
			a := Analyse(tt.q, StyleSQLite)
			if a.Kind == Unsupported {
				t.Fatalf("analyse(%q) refused: %s", tt.q, a.Reason)
			}
			if a.Text != tt.text {
				t.Errorf("text = %q, want %q", a.Text, tt.text)
			}
			if !reflect.DeepEqual(a.paramNames, tt.names) {
				t.Errorf("paramNames = %q, want %q", a.paramNames, tt.names)
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
		kind    Kind
		table   TableRef
		columns []string
	}{
		{"UPDATE `my tab` SET [my col] = :v WHERE id = :id", Update, TableRef{Name: "my tab"}, []string{"my col"}},
		{"UPDATE [Orders] SET `Total` = 1", Update, TableRef{Name: "Orders"}, []string{"Total"}},
		{`UPDATE "Orders" SET "Total" = 1`, Update, TableRef{Name: "Orders"}, []string{"Total"}},
		{"UPDATE main.`t` SET a = 1", Update, TableRef{Schema: "main", Name: "t"}, []string{"a"}},
		{"DELETE FROM [where] WHERE `returning` = 1", Delete, TableRef{Name: "where"}, nil},
		{"INSERT INTO `t` (`a`) VALUES (1)", Insert, TableRef{Name: "t"}, nil},
	}
	for _, tt := range tests {
		a := Analyse(tt.q, StyleSQLite)
		if a.Kind != tt.kind || a.Table != tt.table || !reflect.DeepEqual(a.SetColumns, tt.columns) {
			t.Errorf("analyse(%q) = %s (%s), table %+v, columns %q; want %s, %+v, %q",
				tt.q, stmtKindNames[a.Kind], a.Reason, a.Table, a.SetColumns, stmtKindNames[tt.kind], tt.table, tt.columns)
		}
	}
	a := Analyse("DELETE FROM [where] WHERE `returning` = 1", StyleSQLite)
	if a.Where == "" {
		t.Errorf("a bracketed [where] was taken for the WHERE keyword: where %q", a.Where)
	}
}

func TestSQLiteAnalysisClassifiesStatements(t *testing.T) {
	checkKinds(t, StyleSQLite, []kindCase{
		{q: "SELECT * FROM t WHERE a = ?", kind: PassThrough},
		{q: "EXPLAIN UPDATE t SET a = 1", kind: PassThrough},
		{q: "VACUUM", kind: PassThrough},
		{q: "BEGIN", kind: TxControl},
		{q: "BEGIN IMMEDIATE", kind: TxControl},
		{q: "BEGIN EXCLUSIVE TRANSACTION", kind: TxControl},
		{q: "begin deferred", kind: TxControl},
		{q: "COMMIT", kind: TxControl},
		{q: "END TRANSACTION", kind: TxControl},
		{q: "ROLLBACK TRANSACTION", kind: TxControl},
		{q: "SAVEPOINT s1", kind: PassThrough},
		{q: "RELEASE s1", kind: PassThrough},
		{q: "ROLLBACK TO s1", kind: PassThrough},
		{q: "ROLLBACK TRANSACTION TO SAVEPOINT s1", kind: PassThrough},
		{q: "CREATE TABLE t (id INTEGER PRIMARY KEY) WITHOUT ROWID", kind: DDL},
		{q: "CREATE INDEX t_a ON t (a)", kind: DDL},
		{q: "ALTER TABLE t ADD COLUMN b TEXT", kind: DDL},
		{q: "INSERT INTO t VALUES (?)", kind: Insert},
		{q: "UPDATE t SET a = ?", kind: Update},
		{q: "DELETE FROM t WHERE a = ?", kind: Delete},
		{q: "WITH x AS (SELECT 1) DELETE FROM t", kind: Delete},
		{q: "UPDATE t SET a = u.a FROM u WHERE t.id = u.id", kind: Update},
		{"WITH x AS (SELECT 1) UPDATE OR IGNORE t SET a = 1", Unsupported, "parser"},
	})
}

// fuzzSeeds are statements of both dialects; the fuzzer analyses each input
// in both styles.
