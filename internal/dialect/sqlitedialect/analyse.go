package sqlitedialect

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// rules are how SQLite text is read: the PostgreSQL grammar after a
// translation of what SQLite writes differently, and EXPLAIN never runs its
// statement (EXPLAIN QUERY PLAN).
var rules = sqlstmt.Rules{Style: sqlstmt.StyleSQLite, Translate: translate, ExplainRunsNothing: true}

// translate renumbers the placeholders (params) and removes the OR conflict
// clause from the text the parser checks, keeping it in the text SQLite
// runs.
func translate(q string, toks []sqlstmt.Token) (sqlstmt.Translation, error) {
	parse, run, err := params(q, toks)
	if err != nil {
		return sqlstmt.Translation{}, err
	}
	parse, conflict := stripConflictClause(parse)
	return sqlstmt.Translation{Parse: parse, Run: run, Conflict: conflict}, nil
}

// maxParam is SQLite's default SQLITE_MAX_VARIABLE_NUMBER.
const maxParam = 32766

// params rewrites SQLite placeholders to explicit ?NNN numbers, following
// SQLite's own numbering (an anonymous ? takes the largest number so far
// plus one; a named parameter keeps the number of its first appearance). It
// returns the text pg_query checks — rebuilt from SQLite's tokens, so that
// comments, which nest in PostgreSQL but not in SQLite, and e'…' strings,
// which are escape strings only in PostgreSQL, cannot make the two parsers
// see different statements — and the text SQLite will run (the original
// with ?NNN placeholders).
func params(q string, toks []sqlstmt.Token) (parse, run string, err error) {
	var pg, lite strings.Builder
	pg.Grow(len(q) + 8)
	lite.Grow(len(q) + 8)
	byName := map[string]int{}
	last, top := 0, 0
	for i, t := range toks {
		lite.WriteString(q[last:t.Start])
		if i > 0 && (t.Start > last || toks[i-1].Kind == sqlstmt.TokWord && t.Kind == sqlstmt.TokString) {
			pg.WriteByte(' ')
		}
		last = t.End
		s := t.Text(q)
		switch t.Kind {
		case sqlstmt.TokParam:
			n := 0
			switch {
			case s == "?":
				n = top + 1
			case s[0] == '?':
				n, _ = strconv.Atoi(s[1:])
			default:
				if k, ok := byName[s]; ok {
					n = k
				} else {
					n = top + 1
					byName[s] = n
				}
			}
			if n < 1 || n > maxParam {
				return "", "", fmt.Errorf("placeholder %s is out of SQLite's range 1..%d", s, maxParam)
			}
			top = max(top, n)
			pg.WriteString("$" + strconv.Itoa(n))
			lite.WriteString("?" + strconv.Itoa(n))
		case sqlstmt.TokIdent:
			pg.WriteString(pgIdent(s))
			lite.WriteString(s)
		default:
			pg.WriteString(s)
			lite.WriteString(s)
		}
	}
	lite.WriteString(q[last:])
	return pg.String(), lite.String(), nil
}

// pgIdent turns a SQLite `quoted` or [quoted] identifier into PostgreSQL's
// "quoted" form; an unterminated one keeps what it has.
func pgIdent(s string) string {
	var body string
	switch {
	case s[0] == '`':
		body = s[1:]
		if len(s) >= 2 && s[len(s)-1] == '`' {
			body = s[1 : len(s)-1]
		}
		body = strings.ReplaceAll(body, "``", "`")
	case s[0] == '[':
		body = strings.TrimSuffix(s[1:], "]")
	default:
		return s
	}
	return `"` + strings.ReplaceAll(body, `"`, `""`) + `"`
}

// stripConflictClause removes SQLite's INSERT OR x / UPDATE OR x and turns
// REPLACE INTO into INSERT INTO, returning the mode it removed.
func stripConflictClause(q string) (string, string) {
	toks := sqlstmt.Lex(q, sqlstmt.StyleSQLite)
	if len(toks) < 2 {
		return q, ""
	}
	if toks[0].Is(q, "REPLACE") {
		return "INSERT" + q[toks[0].End:], "REPLACE"
	}
	if len(toks) >= 3 && (toks[0].Is(q, "INSERT") || toks[0].Is(q, "UPDATE")) && toks[1].Is(q, "OR") {
		return q[:toks[1].Start] + q[toks[2].End:], strings.ToUpper(toks[2].Text(q))
	}
	return q, ""
}
