package sqlstmt_test

import (
	. "github.com/sqlaudit/sqlaudit/internal/sqlstmt"

	"fmt"
	"reflect"
	"strings"
	"testing"
)

// lexedToken is a token as a test reads it: its kind and its text.
type lexedToken struct {
	kind TokKind
	text string
}

func (t lexedToken) String() string {
	names := map[TokKind]string{
		TokWord: "word", TokIdent: "ident", TokString: "string", TokNumber: "number",
		TokParam: "param", TokPunct: "punct", TokSemicolon: "semicolon",
	}
	return fmt.Sprintf("%s(%s)", names[t.kind], t.text)
}

// lexedSignificant lexes q and keeps every token but operators and
// punctuation, whose granularity is not part of the lexer's contract.
func lexedSignificant(q string, style Style) []lexedToken {
	var out []lexedToken
	for _, t := range Lex(q, style) {
		if t.Kind != TokPunct {
			out = append(out, lexedToken{t.Kind, t.Text(q)})
		}
	}
	return out
}

func TestLexKeepsLiteralsCommentsAndIdentifiersWhole(t *testing.T) {
	w := func(s string) lexedToken { return lexedToken{TokWord, s} }
	str := func(s string) lexedToken { return lexedToken{TokString, s} }
	id := func(s string) lexedToken { return lexedToken{TokIdent, s} }
	num := func(s string) lexedToken { return lexedToken{TokNumber, s} }
	semi := lexedToken{TokSemicolon, ";"}
	tests := []struct {
		name  string
		style Style
		q     string
		want  []lexedToken
	}{
		{"a semicolon inside a string is not a statement end", StylePostgres,
			`SELECT 'a;b'`, []lexedToken{w("SELECT"), str(`'a;b'`)}},
		{"a doubled quote inside a string is an escaped quote", StylePostgres,
			`SELECT 'it''s; fine'`, []lexedToken{w("SELECT"), str(`'it''s; fine'`)}},
		{"comment markers inside a string are text", StylePostgres,
			`SELECT '-- no /* no */'`, []lexedToken{w("SELECT"), str(`'-- no /* no */'`)}},
		{"a line comment runs to the end of the line", StylePostgres,
			"SELECT 1 -- WHERE x; DELETE\n, 2", []lexedToken{w("SELECT"), num("1"), num("2")}},
		{"a line comment at the end of the text is dropped", StylePostgres,
			"SELECT 1 -- ; trailing", []lexedToken{w("SELECT"), num("1")}},
		{"a block comment is dropped", StylePostgres,
			"SELECT /* ; WHERE */ 1", []lexedToken{w("SELECT"), num("1")}},
		{"PostgreSQL block comments nest", StylePostgres,
			"SELECT /* a /* b; */ still comment; */ 1", []lexedToken{w("SELECT"), num("1")}},
		{"SQLite block comments do not nest", StyleSQLite,
			"SELECT /* a /* b */ c */ 1", []lexedToken{w("SELECT"), w("c"), num("1")}},
		{"an unterminated block comment runs to the end", StylePostgres,
			"SELECT 1 /* ; DELETE FROM t", []lexedToken{w("SELECT"), num("1")}},
		{"a backslash escapes a quote in a PostgreSQL E'' string", StylePostgres,
			`SELECT E'it\'s; \\', 2`, []lexedToken{w("SELECT"), str(`E'it\'s; \\'`), num("2")}},
		{"a lower-case e'' string takes backslash escapes too", StylePostgres,
			`SELECT e'\';'`, []lexedToken{w("SELECT"), str(`e'\';'`)}},
		{"a backslash is literal in a standard string", StylePostgres,
			`SELECT '\', ';'`, []lexedToken{w("SELECT"), str(`'\'`), str(`';'`)}},
		{"an identifier ending in e is not an E'' prefix", StylePostgres,
			`SELECT some'\', 1`, []lexedToken{w("SELECT"), w("some"), str(`'\'`), num("1")}},
		{"bit, hex and national strings are single literals", StylePostgres,
			`SELECT B'01', X'ff', N'x;y'`, []lexedToken{w("SELECT"), str("B'01'"), str("X'ff'"), str("N'x;y'")}},
		{"SQLite blobs are single literals", StyleSQLite,
			`SELECT x'00;ff'`, []lexedToken{w("SELECT"), str("x'00;ff'")}},
		{"an empty dollar tag quotes a body", StylePostgres,
			"SELECT $$ it's; -- not a comment $$", []lexedToken{w("SELECT"), str("$$ it's; -- not a comment $$")}},
		{"a named dollar tag ends only at the same tag", StylePostgres,
			"SELECT $fn$ a $$; $x$ b $fn$, 1", []lexedToken{w("SELECT"), str("$fn$ a $$; $x$ b $fn$"), num("1")}},
		{"an unterminated dollar quote runs to the end", StylePostgres,
			"SELECT $q$ a; b", []lexedToken{w("SELECT"), str("$q$ a; b")}},
		{"a dollar sign inside an identifier is part of it", StylePostgres,
			"SELECT a$b$ FROM t", []lexedToken{w("SELECT"), w("a$b$"), w("FROM"), w("t")}},
		{"a doubled double quote is part of a quoted identifier", StylePostgres,
			`SELECT "a""b;c" FROM t`, []lexedToken{w("SELECT"), id(`"a""b;c"`), w("FROM"), w("t")}},
		{"SQLite backticks quote identifiers", StyleSQLite,
			"SELECT `a;b` FROM t", []lexedToken{w("SELECT"), id("`a;b`"), w("FROM"), w("t")}},
		{"SQLite brackets quote identifiers", StyleSQLite,
			"SELECT [a;b] FROM t", []lexedToken{w("SELECT"), id("[a;b]"), w("FROM"), w("t")}},
		{"brackets are subscripts in PostgreSQL", StylePostgres,
			"SELECT a[1] FROM t", []lexedToken{w("SELECT"), w("a"), num("1"), w("FROM"), w("t")}},
		{"numbers with fractions and exponents are single tokens", StylePostgres,
			"SELECT 1.5e-3, .5, 10", []lexedToken{w("SELECT"), num("1.5e-3"), num(".5"), num("10")}},
		{"semicolons outside literals are tokens", StylePostgres,
			"SELECT 1; SELECT 2;", []lexedToken{w("SELECT"), num("1"), semi, w("SELECT"), num("2"), semi}},
		{"blank text has no tokens", StylePostgres, " \t\r\n\f", nil},
		{"a comment alone has no tokens", StylePostgres, "-- nothing\n/* at all */", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := lexedSignificant(tt.q, tt.style)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("lex(%q)\n got %v\nwant %v", tt.q, got, tt.want)
			}
		})
	}
}

func TestLexRecognisesPlaceholders(t *testing.T) {
	tests := []struct {
		name  string
		style Style
		q     string
		want  []string // parameter token texts, in order
	}{
		{"PostgreSQL numbered parameters", StylePostgres, "SELECT $1, $23 FROM t WHERE a = $1", []string{"$1", "$23", "$1"}},
		{"a PostgreSQL parameter ends at the digits", StylePostgres, "SELECT $1::int", []string{"$1"}},
		{"a question mark is an operator in PostgreSQL", StylePostgres, "SELECT j ? 'k', :a, @b", nil},
		{"a PostgreSQL cast is not a parameter", StylePostgres, "SELECT a::text", nil},
		{"SQLite anonymous parameters", StyleSQLite, "SELECT ?, ?", []string{"?", "?"}},
		{"SQLite numbered parameters", StyleSQLite, "SELECT ?1, ?42", []string{"?1", "?42"}},
		{"SQLite named parameters with each prefix", StyleSQLite, "SELECT :a, @b_1, $c", []string{":a", "@b_1", "$c"}},
		{"a parameter may touch an operator", StyleSQLite, "SELECT a=:a,b=?", []string{":a", "?"}},
		{"a double colon cast is not a SQLite parameter", StyleSQLite, "SELECT a::text FROM t", nil},
		{"a lone colon, at sign or dollar is not a parameter", StyleSQLite, "SELECT a : 1, @ 2, $ 3", nil},
		{"placeholders inside strings and comments are text", StyleSQLite, "SELECT '?', ':a' /* ? */ -- @b", nil},
		{"placeholders inside quoted identifiers are text", StyleSQLite, "SELECT \"?\", `:a`, [@b]", nil},
		{"PostgreSQL placeholders inside strings are text", StylePostgres, "SELECT '$1', $$ $2 $$, \"$3\"", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, tok := range Lex(tt.q, tt.style) {
				if tok.Kind == TokParam {
					got = append(got, tok.Text(tt.q))
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parameters of %q = %q, want %q", tt.q, got, tt.want)
			}
		})
	}
}

func TestLexTracksParenthesisDepth(t *testing.T) {
	tests := []struct {
		name  string
		style Style
		q     string
		want  string // each token as text@depth
	}{
		{"brackets belong to the outer level", StylePostgres,
			"f(a, (b))", "f@0 (@0 a@1 ,@1 (@1 b@2 )@1 )@0"},
		{"depth returns to zero after a subquery", StylePostgres,
			"SET a = (SELECT 1 WHERE x) WHERE y", "SET@0 a@0 =@0 (@0 SELECT@1 1@1 WHERE@1 x@1 )@0 WHERE@0 y@0"},
		{"parentheses inside literals and comments do not count", StylePostgres,
			"a '(' /* ( */ \"(\" $$($$ b", "a@0 '('@0 \"(\"@0 $$($$@0 b@0"},
		{"PostgreSQL subscripts count as brackets", StylePostgres,
			"a[1] b", "a@0 [@0 1@1 ]@0 b@0"},
		{"SQLite bracketed identifiers do not", StyleSQLite,
			"([x]) b", "(@0 [x]@1 )@0 b@0"},
		{"an unbalanced closing parenthesis never goes below zero", StylePostgres,
			") a ( b", ")@0 a@0 (@0 b@1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, tok := range Lex(tt.q, tt.style) {
				got = append(got, fmt.Sprintf("%s@%d", tok.Text(tt.q), tok.Depth))
			}
			if s := strings.Join(got, " "); s != tt.want {
				t.Errorf("lex(%q) depths\n got %s\nwant %s", tt.q, s, tt.want)
			}
		})
	}
}

func TestLexTokenOffsetsPointIntoTheText(t *testing.T) {
	q := "  UPDATE \"t\" SET a = $1 /* c */ WHERE b = 'x' -- end"
	prev := 0
	for _, tok := range Lex(q, StylePostgres) {
		if tok.Start < prev || tok.End <= tok.Start || tok.End > len(q) {
			t.Fatalf("token %+v out of order or out of range in %q", tok, q)
		}
		prev = tok.End
	}
}

func TestSplitStatementsCutsAtTopLevelSemicolons(t *testing.T) {
	tests := []struct {
		name  string
		style Style
		q     string
		want  []string
	}{
		{"one statement", StylePostgres, "SELECT 1", []string{"SELECT 1"}},
		{"a trailing semicolon adds no statement", StylePostgres, "SELECT 1;", []string{"SELECT 1"}},
		{"two statements", StylePostgres, "SELECT 1; UPDATE t SET a = 1", []string{"SELECT 1", "UPDATE t SET a = 1"}},
		{"empty statements are dropped", StylePostgres, ";; SELECT 1 ;;; SELECT 2 ;", []string{"SELECT 1", "SELECT 2"}},
		{"only semicolons", StylePostgres, " ; ; ", nil},
		{"nothing", StylePostgres, "", nil},
		{"semicolons in literals and comments do not split", StylePostgres,
			"SELECT ';', \";\", $$;$$, E'\\';' /* ; */ -- ;\n; SELECT 2",
			[]string{"SELECT ';', \";\", $$;$$, E'\\';'", "SELECT 2"}},
		{"semicolons in SQLite quoted identifiers do not split", StyleSQLite,
			"SELECT [;], `;`; SELECT 2", []string{"SELECT [;], `;`", "SELECT 2"}},
		{"statements keep no surrounding comments", StylePostgres,
			"/* a */ SELECT 1 /* b */; -- c\nSELECT 2 -- d", []string{"SELECT 1", "SELECT 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, st := range SplitStatements(Lex(tt.q, tt.style)) {
				got = append(got, tt.q[st[0].Start:st[len(st)-1].End])
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("splitStatements(%q) = %q, want %q", tt.q, got, tt.want)
			}
		})
	}
}

func TestIsPlainReadAcceptsOnlyASingleReadingStatement(t *testing.T) {
	tests := []struct {
		q    string
		want bool
	}{
		{"SELECT 1", true},
		{"select * from t where a = $1", true},
		{"SeLeCt 1", true},
		{"SHOW search_path", true},
		{"VALUES (1), (2)", true},
		{"TABLE t", true},
		{" \t\r\n SELECT 1", true},
		// A leading comment or parenthesis sends the text to the analyser
		// (comment nesting differs between SQLite and PostgreSQL).
		{"-- leading comment\nSELECT 1", false},
		{"/* leading comment */ SELECT 1", false},
		{"/* /* */ DELETE FROM t WHERE e <> '*/ SELECT 1'", false},
		{"(SELECT 1) UNION (SELECT 2)", false},
		{"SELECT 1 FOR UPDATE", true},

		// A WITH query may hide a data-modifying CTE.
		{"WITH x AS (SELECT 1) SELECT * FROM x", false},
		{"WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", false},
		// Any semicolon might start a second statement, even inside a literal.
		{"SELECT 1;", false},
		{"SELECT 1; DELETE FROM t", false},
		{"SELECT ';'", false},
		{"SELECT 1 -- ;", false},
		// Writes and everything else.
		{"UPDATE t SET a = 1", false},
		{"INSERT INTO t VALUES (1)", false},
		{"DELETE FROM t", false},
		{"MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE", false},
		{"TRUNCATE t", false},
		{"EXPLAIN SELECT 1", false},
		{"EXPLAIN ANALYZE DELETE FROM t", false},
		{"CALL p()", false},
		{"BEGIN", false},
		{"CREATE TABLE t (a int)", false},
		{"/* SELECT */ DELETE FROM t", false},
		{"-- SELECT\nUPDATE t SET a = 1", false},
		// Words that only start like a read keyword.
		{"SELECTED", false},
		{"TABLES", false},
		{"SHOWS", false},
		{"VALUE 1", false},
		{"", false},
		{"   ", false},
		{"-- only a comment", false},
		{"'SELECT'", false},
		{"\"SELECT\"", false},
	}
	for _, tt := range tests {
		if got := IsPlainRead(tt.q); got != tt.want {
			t.Errorf("isPlainRead(%q) = %v, want %v", tt.q, got, tt.want)
		}
	}
}

// firstWord skips only blanks: comment nesting differs between dialects, so
// text with a leading comment or parenthesis takes the analysed path.
func TestLexFirstWordSkipsOnlyBlanks(t *testing.T) {
	tests := []struct{ q, want string }{
		{"SELECT 1", "SELECT"},
		{"select 1", "select"},
		{" \n\tvalues (1)", "values"},
		{"  ((\n\tvalues (1)))", ""},
		{"-- c\n/* d /* e */ */ UPDATE t", ""},
		{"/* /* */ DELETE FROM t WHERE e <> '*/ SELECT 1'", ""},
		{"_x1$ y", "_x1$"},
		{"'SELECT'", ""},
		{"", ""},
		{"/* unterminated SELECT", ""},
		{"; SELECT 1", ""},
	}
	for _, tt := range tests {
		if got := FirstWord(tt.q); got != tt.want {
			t.Errorf("FirstWord(%q) = %q, want %q", tt.q, got, tt.want)
		}
	}
}

func TestPlainReadsAreRecognisedWithoutAllocating(t *testing.T) {
	q := `SELECT id, balance FROM accounts WHERE id = $1`
	if n := testing.AllocsPerRun(100, func() { IsPlainRead(q) }); n != 0 {
		t.Fatalf("IsPlainRead allocates %.0f times per call", n)
	}
}
