package mysqldialect

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

func TestMySQLAnalysisSlicesClausesAsTheServerReadsThem(t *testing.T) {
	cases := []struct {
		name, q                    string
		kind                       sqlstmt.Kind
		table, where, order, tText string
		setArgs, whereArgs         int
	}{
		{"placeholders in SET, WHERE and LIMIT", "UPDATE t SET a = ? WHERE b = ? ORDER BY c LIMIT ?", sqlstmt.Update, "t", "b = ?", "ORDER BY c LIMIT ?", "t", 1, 1},
		{"# comment hides a WHERE", "UPDATE t SET a = 1 # WHERE b = 2\n WHERE c = 3", sqlstmt.Update, "t", "c = 3", "", "t", 0, 0},
		{"-- needs a blank after it", "UPDATE t SET a = 1--1\n WHERE c = 3", sqlstmt.Update, "t", "c = 3", "", "t", 0, 0},
		{"backslash-escaped quote in a string", `UPDATE t SET a = 'x\' WHERE y' WHERE c = "d\"q"`, sqlstmt.Update, "t", `c = "d\"q"`, "", "t", 0, 0},
		{"backtick identifiers", "DELETE FROM `my db`.`t``x` WHERE `where` = 1", sqlstmt.Delete, "t`x", "`where` = 1", "", "`my db`.`t``x`", 0, 0},
		{"modifiers are cut before parsing", "DELETE LOW_PRIORITY QUICK IGNORE FROM t ORDER BY id LIMIT 5", sqlstmt.Delete, "t", "", "ORDER BY id LIMIT 5", "t", 0, 0},
		{"alias", "UPDATE t AS a SET a.x = 1 WHERE a.id = 2", sqlstmt.Update, "t", "a.id = 2", "", "t AS a", 0, 0},
		{"RETURNING is not part of the predicate", "DELETE FROM t WHERE id = 1 RETURNING id, x", sqlstmt.Delete, "t", "id = 1", "", "t", 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := analyseMySQL(c.q)
			if a.Kind != c.kind || myClauses(a) == nil {
				t.Fatalf("kind %v (%s), want %v", a.Kind, a.Reason, c.kind)
			}
			got := []any{a.Table.Name, myClauses(a).where, myClauses(a).order, myClauses(a).tableText, myClauses(a).setArgs, myClauses(a).whereArgs}
			want := []any{c.table, c.where, c.order, c.tText, c.setArgs, c.whereArgs}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %q, want %q", got, want)
			}
		})
	}
}

func TestMySQLStatementsThatMayWriteUnseenAreRefused(t *testing.T) {
	for _, q := range []string{
		"UPDATE t SET a = 1 /*!, b = 2 */",
		"REPLACE INTO t VALUES (1)",
		"UPDATE t JOIN s ON s.id = t.id SET a = s.a", // which table's a?
		"DELETE x FROM t JOIN s ON s.id = t.id",
		"TRUNCATE TABLE t",
		"LOAD DATA INFILE 'x' INTO TABLE t",
		"WITH x AS (SELECT 1) UPDATE t SET a = 1",
		"ANALYZE UPDATE t SET a = 1",
		"SET STATEMENT max_statement_time = 1 FOR DELETE FROM t",
		"SELECT 1; DELETE FROM t",
		"UPDATE t SET a = 1 WHERE",
		"BEGIN NOT ATOMIC UPDATE t SET a = 1; END",
		"blk: BEGIN NOT ATOMIC UPDATE t SET a = 1; END blk",
		"`l`: LOOP UPDATE t SET a = 1; LEAVE l; END LOOP",
		"IF 1 THEN UPDATE t SET a = 1; END IF",
		"CASE WHEN 1 THEN DELETE FROM t; END CASE",
		"WHILE 0 DO DELETE FROM t; END WHILE",
		"SELECT 1; BEGIN NOT ATOMIC DELETE FROM t; END",
		"CALL p()",
		"EXECUTE IMMEDIATE 'DELETE FROM t'",
		"EXECUTE s",
		"PREPARE s FROM 'DELETE FROM t'",
		"DELETE HISTORY FROM t BEFORE SYSTEM_TIME '2020-01-01'",
		"UPDATE t FOR PORTION OF p FROM '2000-01-01' TO '2001-01-01' SET a = 1",
		"DELETE FROM t FOR PORTION OF p FROM '2000-01-01' TO '2001-01-01'",
		"UPDATE t SET a = 1 WHERE NEXTVAL(s) > 1",
		"UPDATE t SET a = 1 WHERE (@n := @n + 1) < 3",
		"DELETE FROM t ORDER BY (@n := @n + 1) LIMIT 3",
		"UPDATE t SET a = 1 WHERE id = (SELECT id FROM s ORDER BY RAND() LIMIT 1)",
		"UPDATE t JOIN s ON s.id = t.id SET t.a = s.a WHERE RAND() < 0.5",
	} {
		if a := analyseMySQL(q); a.Kind != sqlstmt.Unsupported || a.Reason == "" {
			t.Errorf("%s: kind %v, want refused with a reason", q, a.Kind)
		}
	}
	for q, want := range map[string]sqlstmt.Kind{
		"BEGIN": sqlstmt.TxControl, "START TRANSACTION": sqlstmt.TxControl, "COMMIT": sqlstmt.TxControl,
		"ROLLBACK TO SAVEPOINT s": sqlstmt.PassThrough, "CREATE TABLE x (id int)": sqlstmt.DDL,
		"SELECT 1 /*!, 2 */": sqlstmt.PassThrough, "SET NAMES utf8mb4": sqlstmt.PassThrough,
		"BEGIN WORK": sqlstmt.TxControl, "XA START 'x'": sqlstmt.TxControl, "XA BEGIN 'x'": sqlstmt.TxControl,
		"XA END 'x'": sqlstmt.PassThrough, "XA PREPARE 'x'": sqlstmt.PassThrough, "XA COMMIT 'x'": sqlstmt.TxControl,
		"DEALLOCATE PREPARE s": sqlstmt.PassThrough,
		// := is a user-variable assignment, which the grammar does not read
		"UPDATE t SET rnk = (@r := @r + 1) ORDER BY score": sqlstmt.Update,
		"UPDATE t SET a = @x:=1 WHERE id = 2":              sqlstmt.Update,
	} {
		if a := analyseMySQL(q); a.Kind != want {
			t.Errorf("%s: kind %v, want %v", q, a.Kind, want)
		}
	}
}

var mysqlFuzzSeeds = []string{
	"UPDATE `users` SET `deleted_at`=? WHERE `users`.`id` = ? AND `users`.`deleted_at` IS NULL",
	"INSERT INTO `users` (`name`,`age`) VALUES (?,?),(?,?)",
	"INSERT IGNORE INTO t SET a = 'x\\'', b = \"y\"",
	"DELETE FROM t WHERE a < 5 ORDER BY id LIMIT 100",
	"UPDATE LOW_PRIORITY IGNORE t SET a = 1 # c\n WHERE b = 2",
	"UPDATE t SET a = 1--1\nWHERE b = '-- x'",
	"DELETE FROM t WHERE id = 1 RETURNING id",
	"UPDATE t SET a = 1 /*!, b = 2 */",
	"UPDATE t AS a SET a.x = (SELECT max(y) FROM s WHERE s.k = a.k) WHERE a.id IN (?, ?)",
	"INSERT INTO t (a) VALUES (?) ON DUPLICATE KEY UPDATE a = VALUES(a) RETURNING id",
	"", ";", "BEGIN; UPDATE t SET a = 1; COMMIT",
}

// FuzzAnalyseMySQL: the MySQL analysis never panics, is deterministic,
// explains every refusal, and the restriction the plan inserts into an
// UPDATE or DELETE lands between tokens: the rewritten statement lexes as
// the caller's tokens with the restriction's tokens added.
func FuzzAnalyseMySQL(f *testing.F) {
	for _, s := range mysqlFuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		a := analyseMySQL(q)
		if b := analyseMySQL(q); !reflect.DeepEqual(a, b) {
			t.Fatalf("analyseMySQL(%q) is not deterministic", q)
		}
		if a.Kind == sqlstmt.Unsupported && a.Reason == "" {
			t.Fatalf("analyseMySQL(%q) is refused without a reason", q)
		}
		texts := func(s string) []string {
			var out []string
			for _, tk := range sqlstmt.Lex(s, sqlstmt.StyleMySQL) {
				out = append(out, tk.Text(s))
			}
			return out
		}
		between := func(prefix, inserted, suffix string) {
			want := append(append(texts(prefix), texts(inserted)...), texts(suffix)...)
			if got := texts(prefix + inserted + suffix); !reflect.DeepEqual(got, want) {
				t.Fatalf("analyseMySQL(%q): the plan's insertion does not land between tokens:\n got %q\nwant %q", q, got, want)
			}
		}
		if a.Upsert {
			between(a.Text[:myClauses(a).dupAt], " k = IF(@x := ?, k, k),", a.Text[myClauses(a).dupAt:])
		}
		if a.Kind != sqlstmt.Update && a.Kind != sqlstmt.Delete {
			return
		}
		c := myClauses(a)
		if c.setArgs+c.whereArgs+c.orderArgs > a.NumParams || !strings.Contains(a.Text, c.tableText) {
			t.Fatalf("analyseMySQL(%q): inconsistent clauses %+v", q, c)
		}
		prefix, suffix, inserted := a.Text[:c.restrictAt], a.Text[c.restrictAt:], " WHERE (k) IN (SELECT k FROM c WHERE s = ?)"
		if c.where != "" {
			if a.Text[c.whereSpan[0]:c.whereSpan[1]] != c.where {
				t.Fatalf("analyseMySQL(%q): predicate span %v is not %q", q, c.whereSpan, c.where)
			}
			prefix, suffix, inserted = a.Text[:c.whereSpan[0]]+"("+c.where, a.Text[c.whereSpan[1]:], ") AND (k) IN (SELECT k FROM c WHERE s = ?)"
		}
		between(prefix, inserted, suffix)
	})
}

// A multi-statement string tells where a transaction stands after it as its
// last transaction statement does (as on PostgreSQL and SQLite).
func TestMySQLMultiStatementStringsKeepTheTransactionState(t *testing.T) {
	for _, tt := range []struct {
		q            string
		begins, ends bool
	}{
		{"BEGIN; SELECT 1", true, false},
		{"START TRANSACTION; SELECT 1", true, false},
		{"SELECT 1; COMMIT", false, true},
		{"BEGIN; COMMIT", false, true},
		{"COMMIT; BEGIN", true, true},
		{"COMMIT AND CHAIN", true, true},
		{"ROLLBACK AND NO CHAIN", false, true},
		{"XA START 'x'", true, false},
		{"XA ROLLBACK 'x'", false, true},
		{"SELECT 1; SELECT 2", false, false},
	} {
		a := analyseMySQL(tt.q)
		if a.BeginsTx != tt.begins || a.EndsTx != tt.ends {
			t.Errorf("analyseMySQL(%q): begins %v, ends %v; want %v, %v", tt.q, a.BeginsTx, a.EndsTx, tt.begins, tt.ends)
		}
	}
}
