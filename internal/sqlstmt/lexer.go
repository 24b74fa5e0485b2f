package sqlstmt

import (
	"strings"
)

// TokKind classifies a lexical token. The lexer does not parse SQL; it only
// knows where words, literals, comments and placeholders start and end, so
// that statements can be split, sliced and renumbered without ever mistaking
// the inside of a string or comment for SQL.
type TokKind uint8

const (
	TokWord   TokKind = iota // keyword or bare identifier
	TokIdent                 // quoted identifier ("x", `x`, [x])
	TokString                // string, blob or bit literal, dollar-quoted body
	TokNumber
	TokParam // $1 (PostgreSQL); ?, ?NNN, :name, @name, $name (SQLite)
	TokPunct // operators and punctuation, one token per character or operator run
	TokSemicolon
	TokExecComment // MySQL /*! … */: SQL the server runs, hidden from other lexers
)

type Token struct {
	Kind       TokKind
	Start, End int   // byte offsets into the lexed text
	Depth      int16 // parenthesis/bracket depth at the token
}

// lexStyle selects the quoting and placeholder rules of one SQL dialect.
type Style uint8

const (
	StylePostgres Style = iota
	StyleSQLite
	// styleMySQL: backtick identifiers, '…' and "…" strings with backslash
	// escapes, # and "-- " comments, ? placeholders. Executable comments
	// (/*! … */, /*M! … */) are kept as one tokExecComment token: the server
	// runs their contents as SQL.
	StyleMySQL
)

// lex splits q into tokens, dropping whitespace and comments. It never fails:
// an unterminated literal or comment runs to the end of the text, and the
// real parser reports the error.
func Lex(q string, style Style) []Token {
	toks := make([]Token, 0, 32)
	depth := int16(0)
	for i := 0; i < len(q); {
		c := q[i]
		start := i
		kind := TokPunct
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
			continue
		case c == '-' && i+1 < len(q) && q[i+1] == '-' && (style != StyleMySQL || isMySQLDashComment(q, i)),
			c == '#' && style == StyleMySQL:
			for i < len(q) && q[i] != '\n' {
				i++
			}
			continue
		case c == '/' && style == StyleMySQL && isExecComment(q, i):
			i, kind = skipBlockComment(q, i, false), TokExecComment
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			i = skipBlockComment(q, i, style == StylePostgres)
			continue
		case c == '\'':
			i, kind = skipQuoted(q, i+1, '\'', style == StyleMySQL), TokString
		case c == '"' && style == StyleMySQL:
			i, kind = skipQuoted(q, i+1, '"', true), TokString
		case (c == 'e' || c == 'E') && style == StylePostgres && i+1 < len(q) && q[i+1] == '\'':
			i, kind = skipQuoted(q, i+2, '\'', true), TokString
		case (c == 'x' || c == 'X' || c == 'b' || c == 'B' || c == 'n' || c == 'N') && i+1 < len(q) && q[i+1] == '\'':
			i, kind = skipQuoted(q, i+2, '\'', false), TokString
		case c == '"':
			i, kind = skipQuoted(q, i+1, '"', false), TokIdent
		case c == '`' && style != StylePostgres:
			i, kind = skipQuoted(q, i+1, '`', false), TokIdent
		case c == '[' && style == StyleSQLite:
			i, kind = skipTo(q, i+1, ']'), TokIdent
		case c == '$' && style == StylePostgres:
			i, kind = lexDollar(q, i)
		case c == '?' && style == StyleMySQL:
			i, kind = i+1, TokParam
		case c == '?' && style == StyleSQLite:
			i, kind = skipDigits(q, i+1), TokParam
		case (c == ':' || c == '@' || c == '$') && style == StyleSQLite && isParamStart(q, i):
			i, kind = skipParam(q, i+1), TokParam
		case isIdentStart(c):
			for i < len(q) && isIdentPart(q[i]) {
				i++
			}
			kind = TokWord
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9':
			i, kind = skipNumber(q, i), TokNumber
		case c == ';':
			i, kind = i+1, TokSemicolon
		default:
			i++
		}
		// An opening bracket belongs to the outer level, a closing one too.
		d := depth
		if kind == TokPunct {
			switch {
			case c == '(' || c == '[' && style == StylePostgres:
				depth++
			case (c == ')' || c == ']' && style == StylePostgres) && depth > 0:
				depth--
				d = depth
			}
		}
		toks = append(toks, Token{Kind: kind, Start: start, End: i, Depth: d})
	}
	return toks
}

// isMySQLDashComment: MySQL reads "--" as a comment only when a blank or
// control character (or the end) follows; "1--1" is arithmetic.
func isMySQLDashComment(q string, i int) bool {
	return i+2 >= len(q) || q[i+2] <= ' '
}

// isExecComment reports MySQL's /*! … */ and MariaDB's /*M! … */.
func isExecComment(q string, i int) bool {
	r := q[i:]
	return strings.HasPrefix(r, "/*!") || strings.HasPrefix(r, "/*M!") || strings.HasPrefix(r, "/*m!")
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isIdentPart(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' || c == '$' }

func skipBlockComment(q string, i int, nested bool) int {
	level := 0
	for i < len(q) {
		switch {
		case q[i] == '/' && i+1 < len(q) && q[i+1] == '*':
			level++
			i += 2
			if !nested && level > 1 {
				level = 1
			}
		case q[i] == '*' && i+1 < len(q) && q[i+1] == '/':
			level--
			i += 2
			if level == 0 {
				return i
			}
		default:
			i++
		}
	}
	return i
}

// skipQuoted returns the offset just past the closing quote; a doubled quote
// is an escaped quote, and backslash escapes apply in PostgreSQL E” strings.
func skipQuoted(q string, i int, quote byte, backslash bool) int {
	for i < len(q) {
		switch {
		case backslash && q[i] == '\\':
			i += 2
		case q[i] == quote && i+1 < len(q) && q[i+1] == quote:
			i += 2
		case q[i] == quote:
			return i + 1
		default:
			i++
		}
	}
	return len(q)
}

func skipTo(q string, i int, end byte) int {
	if j := strings.IndexByte(q[i:], end); j >= 0 {
		return i + j + 1
	}
	return len(q)
}

// lexDollar reads $1 parameters and $tag$…$tag$ dollar-quoted strings.
func lexDollar(q string, i int) (int, TokKind) {
	j := i + 1
	if j < len(q) && q[j] >= '0' && q[j] <= '9' {
		for j < len(q) && q[j] >= '0' && q[j] <= '9' {
			j++
		}
		return j, TokParam
	}
	for j < len(q) && q[j] != '$' && isIdentPart(q[j]) {
		j++
	}
	if j >= len(q) || q[j] != '$' {
		return i + 1, TokPunct
	}
	tag := q[i : j+1]
	if k := strings.Index(q[j+1:], tag); k >= 0 {
		return j + 1 + k + len(tag), TokString
	}
	return len(q), TokString
}

// isParamStart reports a SQLite ':name', '@name' or '$name' at i (names may
// start with a digit); a '::' is not a parameter.
func isParamStart(q string, i int) bool {
	return i+1 < len(q) && isIdentPart(q[i+1]) && q[i+1] != '$' && !(q[i] == ':' && i > 0 && q[i-1] == ':')
}

func skipDigits(q string, i int) int {
	for i < len(q) && q[i] >= '0' && q[i] <= '9' {
		i++
	}
	return i
}

func skipParam(q string, i int) int {
	for i < len(q) && isIdentPart(q[i]) {
		i++
	}
	return i
}

func skipNumber(q string, i int) int {
	for i < len(q) && (q[i] >= '0' && q[i] <= '9' || q[i] == '.' || q[i] == '_' ||
		q[i] == 'e' || q[i] == 'E' || q[i] == 'x' || q[i] == 'X' ||
		(q[i] >= 'a' && q[i] <= 'f') || (q[i] >= 'A' && q[i] <= 'F') ||
		((q[i] == '+' || q[i] == '-') && (q[i-1] == 'e' || q[i-1] == 'E'))) {
		i++
	}
	return i
}

// firstWord returns the first word of q when only blanks precede it; a
// leading comment or parenthesis gives "" (comment nesting differs between
// dialects, so the fast path does not try to skip comments). It allocates
// nothing.
func firstWord(q string) string {
	i := 0
	for i < len(q) && (q[i] == ' ' || q[i] == '\t' || q[i] == '\n' || q[i] == '\r' || q[i] == '\f') {
		i++
	}
	j := i
	for j < len(q) && isIdentPart(q[j]) {
		j++
	}
	if j == i || !isIdentStart(q[i]) {
		return ""
	}
	return q[i:j]
}

// isPlainRead reports whether q is certainly a single read-only statement,
// without lexing or allocating: it starts with SELECT, SHOW, VALUES or TABLE
// (no comment before) and contains no semicolon (so no second statement can
// hide behind it). A WITH query is not a plain read: its CTEs may write.
// Everything else takes the analysed path, cached by text.
func IsPlainRead(q string) bool {
	w := firstWord(q)
	switch len(w) {
	case 4:
		if !strings.EqualFold(w, "SHOW") {
			return false
		}
	case 5:
		if !strings.EqualFold(w, "TABLE") {
			return false
		}
	case 6:
		if !strings.EqualFold(w, "SELECT") && !strings.EqualFold(w, "VALUES") {
			return false
		}
	default:
		return false
	}
	return strings.IndexByte(q, ';') < 0
}

func (t Token) Text(q string) string { return q[t.Start:t.End] }

func (t Token) Is(q, word string) bool {
	return t.Kind == TokWord && strings.EqualFold(q[t.Start:t.End], word)
}

// splitStatements returns the statements of q, without their semicolons,
// each as a sub-slice of tokens; empty statements are dropped.
func SplitStatements(toks []Token) [][]Token {
	var out [][]Token
	begin := 0
	for i, t := range toks {
		if t.Kind == TokSemicolon {
			if i > begin {
				out = append(out, toks[begin:i])
			}
			begin = i + 1
		}
	}
	if begin < len(toks) {
		out = append(out, toks[begin:])
	}
	return out
}
