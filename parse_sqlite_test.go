package sqlaudit

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
	checkKinds(t, styleSQLite, []kindCase{
		{q: "INSERT OR IGNORE INTO t (a) VALUES (?)", kind: kindInsert},
		{q: "UPDATE OR IGNORE t SET a = ? WHERE id = ?", kind: kindUpdate},
		{q: "INSERT INTO t (a) VALUES (?) ON CONFLICT DO NOTHING", kind: kindInsert},
		{q: "INSERT INTO t (a) VALUES (?) ON CONFLICT (a) DO NOTHING", kind: kindInsert},
		// Row capture records what every conflict clause leaves changed.
		{q: "INSERT OR REPLACE INTO t (a) VALUES (?)", kind: kindInsert},
		{q: "REPLACE INTO t (a) VALUES (?)", kind: kindInsert},
		{q: "UPDATE OR REPLACE t SET a = 1", kind: kindUpdate},
		{q: "INSERT OR ROLLBACK INTO t VALUES (1)", kind: kindInsert},
		{q: "INSERT OR ABORT INTO t VALUES (1)", kind: kindInsert},
		{q: "UPDATE OR FAIL t SET a = 1", kind: kindUpdate},
		{q: "INSERT INTO t (a) VALUES (?) ON CONFLICT (a) DO UPDATE SET a = excluded.a", kind: kindInsert},
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
	for _, q := range []string{"REPLACE INTO s.t VALUES (1)", "INSERT OR REPLACE INTO s.t VALUES (1)", "UPDATE OR REPLACE s.t SET a = 1"} {
		a := analyse(q, styleSQLite)
		if want := (tableRef{schema: "s", name: "t"}); a.table != want || !a.orReplace {
			t.Errorf("analyse(%q) = table %+v, orReplace %v; want %+v, true", q, a.table, a.orReplace, want)
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
