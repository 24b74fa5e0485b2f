package sqlstmt_test

import (
	. "github.com/sqlaudit/sqlaudit/internal/sqlstmt"

	"reflect"
	"testing"
)

// The clause slices the rewrites reuse.

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
			a := pg(tt.q)
			if a.Kind != Update {
				t.Fatalf("analyse(%q) = %s (%s), want update", tt.q, a.Kind, a.Reason)
			}
			got := updateSlices{a.Set, a.Where, a.Returning, a.SetColumns}
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
			a := pg(tt.q)
			if a.Kind != Delete {
				t.Fatalf("analyse(%q) = %s (%s), want delete", tt.q, a.Kind, a.Reason)
			}
			if a.Where != tt.where || a.Returning != tt.returning || a.Set != "" || a.InsertBody != "" {
				t.Errorf("analyse(%q): where %q, returning %q, set %q, body %q; want where %q, returning %q",
					tt.q, a.Where, a.Returning, a.Set, a.InsertBody, tt.where, tt.returning)
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
			a := pg(tt.q)
			if a.Kind != Insert {
				t.Fatalf("analyse(%q) = %s (%s), want insert", tt.q, a.Kind, a.Reason)
			}
			if a.InsertBody != tt.body || a.Returning != tt.returning || a.OrIgnore != tt.orIgnore ||
				a.Where != "" || a.Set != "" {
				t.Errorf("analyse(%q): body %q, returning %q, orIgnore %v, where %q, set %q; want body %q, returning %q, orIgnore %v",
					tt.q, a.InsertBody, a.Returning, a.OrIgnore, a.Where, a.Set, tt.body, tt.returning, tt.orIgnore)
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
		if a := pg(tt.q); a.Text != tt.text {
			t.Errorf("analyse(%q).text = %q, want %q", tt.q, a.Text, tt.text)
		}
	}
}

func TestAnalyseLeavesTheTextOfPostgreSQLStatementsAlone(t *testing.T) {
	for _, q := range []string{
		"UPDATE t SET a = $1 WHERE b = $2",
		"SELECT a::text, j ? 'k' FROM t WHERE x = :notaparam",
		"INSERT INTO t VALUES ($1) RETURNING *",
	} {
		a := pg(q)
		if a.Text != q {
			t.Errorf("analyse(%q): text %q; want the text unchanged", q, a.Text)
		}
	}
}

func TestAnalyseSlicesWithFromAndUsing(t *testing.T) {
	tests := []struct {
		q                                     string
		kind                                  Kind
		with, set, from, where, returning, ib string
	}{
		{q: "WITH x AS (SELECT 1 AS v) UPDATE t SET a = (SELECT v FROM x) WHERE id = 1", kind: Update,
			with: "x AS (SELECT 1 AS v)", set: "a = (SELECT v FROM x)", where: "id = 1"},
		{q: "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) DELETE FROM t WHERE id IN (SELECT n FROM r) RETURNING id", kind: Delete,
			with: "RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3)", where: "id IN (SELECT n FROM r)", returning: "id"},
		{q: "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", kind: Insert, with: "x AS (SELECT 1)", ib: "SELECT * FROM x"},
		{q: "UPDATE t SET a = u.a, b = u.b IS DISTINCT FROM t.b FROM u JOIN v ON v.id = u.id WHERE t.id = u.id RETURNING t.id", kind: Update,
			set: "a = u.a, b = u.b IS DISTINCT FROM t.b", from: "u JOIN v ON v.id = u.id", where: "t.id = u.id", returning: "t.id"},
		{q: "UPDATE t SET a = _data.a FROM (VALUES (1, 'x'), (2, 'y')) AS _data (id, a) WHERE t.id = _data.id", kind: Update,
			set: "a = _data.a", from: "(VALUES (1, 'x'), (2, 'y')) AS _data (id, a)", where: "t.id = _data.id"},
		{q: "DELETE FROM t AS x USING u JOIN w USING (id) WHERE x.id = u.id", kind: Delete,
			from: "u JOIN w USING (id)", where: "x.id = u.id"},
		{q: "DELETE FROM t USING u", kind: Delete, from: "u"},
	}
	for _, tt := range tests {
		a := pg(tt.q)
		got := []string{a.With, a.Set, a.From, a.Where, a.Returning, a.InsertBody}
		want := []string{tt.with, tt.set, tt.from, tt.where, tt.returning, tt.ib}
		if a.Kind != tt.kind || !reflect.DeepEqual(got, want) {
			t.Errorf("analyse(%q) = %s (%s)\n got %q\nwant %q", tt.q, a.Kind, a.Reason, got, want)
		}
	}
}

// An upsert's body is cut where the DO UPDATE's WHERE begins, whatever else
// says WHERE: the conflict target's index predicate, subqueries, strings.
func TestAnalyseCutsAnUpsertAtItsDoUpdateWhere(t *testing.T) {
	for _, tt := range []struct{ q, set, where string }{
		{"INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET v = excluded.v",
			"VALUES (1) ON CONFLICT (id) DO UPDATE SET v = excluded.v", ""},
		{"INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET v = excluded.v WHERE t.v < 5 RETURNING id",
			"VALUES (1) ON CONFLICT (id) DO UPDATE SET v = excluded.v", "t.v < 5"},
		{"INSERT INTO t AS x SELECT * FROM s WHERE s.ok ON CONFLICT (a) WHERE a > 0 DO UPDATE SET v = (SELECT 1 WHERE true) WHERE x.note <> 'WHERE'",
			"SELECT * FROM s WHERE s.ok ON CONFLICT (a) WHERE a > 0 DO UPDATE SET v = (SELECT 1 WHERE true)", "x.note <> 'WHERE'"},
		{"INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING", "", ""},
	} {
		a := pg(tt.q)
		if a.ConflictSet != tt.set || a.ConflictWhere != tt.where {
			t.Errorf("analyse(%q): %q / WHERE %q; want %q / %q", tt.q, a.ConflictSet, a.ConflictWhere, tt.set, tt.where)
		}
	}
}
