package sqlaudit

import (
	"fmt"
	"strconv"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// stmtKind is what the wrapper does with a statement.
type stmtKind uint8

const (
	kindPassThrough stmtKind = iota // runs untouched: reads, SET, CALL …
	kindInsert
	kindUpdate
	kindDelete
	kindDDL         // runs untouched, then the catalog is forgotten
	kindTxControl   // BEGIN, COMMIT, ROLLBACK … sent as text (not savepoints)
	kindUnsupported // writes, but cannot be audited: refused or warned by policy
)

// tableRef names a table as a statement wrote it (identifiers already folded
// and unquoted by the parser).
type tableRef struct {
	schema, name string
	alias        string
	only         bool // UPDATE ONLY / DELETE FROM ONLY
}

// analysis describes one statement. It is built once per distinct statement
// text and shared, read-only, by every connection of a connector.
type analysis struct {
	kind   stmtKind
	text   string // the statement as it will run (SQLite: placeholders renumbered ?NNN)
	table  tableRef
	tables []tableRef // tables an unsupported statement writes, where known
	reason string     // why a statement is kindUnsupported

	// Clause texts, sliced from text without their keywords; "" when absent.
	withText                          string // the WITH list (with RECURSIVE, if there)
	setText, whereText, returningText string
	fromText                          string // UPDATE … FROM list, DELETE … USING list
	insertBody                        string // after INSERT INTO rel [AS alias], before RETURNING

	setColumns []string // UPDATE: columns assigned by SET
	endsTx     bool     // begins or ends a transaction (also inside a multi-statement string)
	beginsTx   bool     // begins one (BEGIN, START TRANSACTION)
	orIgnore   bool     // INSERT OR IGNORE / ON CONFLICT DO NOTHING / UPDATE OR IGNORE
	orReplace  bool     // SQLite: INSERT OR REPLACE / REPLACE INTO / UPDATE OR REPLACE
	orClause   bool     // SQLite: the statement has an OR conflict clause (or is REPLACE)
	upsert     bool     // INSERT … ON CONFLICT DO UPDATE
	// returningStar: the RETURNING list has an unqualified *
	returningStar bool
	truncate      bool     // TRUNCATE, audited as DELETE of every row
	copyIn        bool     // COPY t [(copyColumns)] FROM STDIN: audited when prepared (lib/pq's CopyIn)
	copyColumns   []string // its column list
	// resetsSession marks SET, RESET and DISCARD: names may resolve
	// differently afterwards (search_path), so the catalog is dropped.
	resetsSession bool
	paramNames    []string // SQLite: parameter name by number ("" for positional)
	numParams     int      // the largest placeholder number ($n, ?n)
	// parts are the statements of a multi-statement string that writes;
	// dialects that run such strings statement by statement audit each.
	parts []statementPart
	// ext is a dialect's own reading of the statement, built by its analyser
	// (MySQL: the clauses its plans rewrite)
	ext any
	// What the parse tree says the clauses are, to cross-check the slicing.
	treeWhere, treeReturning, treeWith, treeFrom bool
}

// writeKeywords are the first words of statements that may change rows; a
// statement starting with one of them that the parser cannot read is refused,
// never passed through unaudited.
var writeKeywords = map[string]bool{
	"INSERT": true, "UPDATE": true, "DELETE": true, "REPLACE": true, "UPSERT": true,
	"MERGE": true, "TRUNCATE": true, "COPY": true, "WITH": true, "EXPLAIN": true, "EXECUTE": true,
}

// ddlKeywords start statements that may change what a table name means or
// what a table holds in columns (SQLite's ATTACH adds schemas).
var ddlKeywords = map[string]bool{
	"CREATE": true, "ALTER": true, "DROP": true, "COMMENT": true, "GRANT": true, "REVOKE": true,
	"ATTACH": true, "DETACH": true,
}

// analyse reads q with the real PostgreSQL parser. SQLite text is first
// translated by the lexer (placeholders, identifier quotes, OR conflict
// clauses) so that pg_query can check its structure; clause texts are always
// sliced from the text the database will actually run.
func analyse(q string, style lexStyle) *analysis {
	toks := lex(q, style)
	stmts := splitStatements(toks)
	switch len(stmts) {
	case 0:
		return &analysis{kind: kindPassThrough, text: q}
	case 1:
		return analyseOne(q, stmts[0], style)
	}
	a := &analysis{kind: kindPassThrough, text: q}
	writes := false
	for _, st := range stmts {
		text := q[st[0].start:st[len(st)-1].end]
		one := analyseOne(text, nil, style)
		a.parts = append(a.parts, statementPart{text: text, params: one.numParams})
		a.endsTx = a.endsTx || one.endsTx
		if one.endsTx || one.beginsTx { // the last one decides
			a.beginsTx = one.beginsTx
		}
		a.resetsSession = a.resetsSession || one.resetsSession
		switch one.kind {
		case kindDDL:
			a.kind = kindDDL
		case kindTxControl, kindPassThrough:
		default:
			writes = true
		}
	}
	if writes {
		multi := unsupported(q, "several statements in one string, at least one of them writes; send them one at a time")
		multi.parts = a.parts
		return multi
	}
	return a
}

// statementPart is one statement of a multi-statement string, as written,
// with the number of arguments it takes (its largest placeholder number).
type statementPart struct {
	text   string
	params int
}

func unsupported(q, reason string, tables ...tableRef) *analysis {
	return &analysis{kind: kindUnsupported, text: q, reason: reason, tables: tables}
}

// analyseOne analyses a single statement; toks may be nil (it is then lexed).
func analyseOne(q string, toks []token, style lexStyle) *analysis {
	if toks == nil {
		toks = lex(q, style)
	}
	if toks[0].start > 0 || toks[len(toks)-1].end < len(q) {
		q = q[toks[0].start:toks[len(toks)-1].end] // drop surrounding blanks and comments
		toks = lex(q, style)
	}
	pgText, text, names := q, q, []string(nil)
	first := strings.ToUpper(toks[0].text(q))
	orMode := ""
	if style == styleSQLite {
		var err error
		if pgText, text, names, err = sqliteParams(q, toks); err != nil {
			return refuseOrPass(q, first, style, err)
		}
		pgText, orMode = stripConflictClause(pgText)
	}
	toks = lex(text, style)
	tree, err := pg.Parse(pgText)
	if err == nil && len(tree.Stmts) != 1 {
		err = fmt.Errorf("%d statements", len(tree.Stmts))
	}
	if err != nil {
		if beginsOrEndsTx(text, toks) { // SQLite's BEGIN IMMEDIATE and friends
			return &analysis{kind: kindTxControl, text: text, endsTx: true}
		}
		return refuseOrPass(text, first, style, err)
	}
	a := classify(tree.Stmts[0].Stmt, text)
	a.paramNames, a.numParams = names, maxParam(text, toks)
	a.orClause = orMode != ""
	switch orMode {
	case "":
	case "IGNORE":
		a.orIgnore = true
	case "REPLACE":
		a.orReplace = true // its deletions fire the SQLite dialect's DELETE triggers
	case "ABORT", "FAIL", "ROLLBACK":
		// Row capture records exactly the rows that stay changed.
	default:
		return unsupported(text, "OR "+orMode+" conflict clauses are not supported", a.table)
	}
	if a.kind == kindInsert || a.kind == kindUpdate || a.kind == kindDelete {
		if reason := sliceClauses(a, toks); reason != "" {
			return unsupported(text, reason, a.table)
		}
	}
	return a
}

// beginsOrEndsTx recognises transaction control the parser cannot read:
// BEGIN, COMMIT, END, and ROLLBACK other than ROLLBACK … TO a savepoint.
func beginsOrEndsTx(q string, toks []token) bool {
	switch strings.ToUpper(toks[0].text(q)) {
	case "BEGIN", "COMMIT", "END":
		return true
	case "ROLLBACK":
		for _, t := range toks[1:] {
			if t.is(q, "TO") {
				return false
			}
		}
		return true
	}
	return false
}

// maxParam is the largest placeholder number of a statement (PostgreSQL
// $n; SQLite text is already renumbered ?n).
func maxParam(q string, toks []token) int {
	max := 0
	for _, t := range toks {
		if t.kind == tokParam {
			if n, err := strconv.Atoi(t.text(q)[1:]); err == nil && n > max {
				max = n
			}
		}
	}
	return max
}

// refuseOrPass decides a statement the parser cannot read by its first word:
// a possible write is refused, never passed unaudited.
func refuseOrPass(text, first string, style lexStyle, err error) *analysis {
	switch {
	case first == "EXPLAIN" && style == styleSQLite:
		return &analysis{kind: kindPassThrough, text: text}
	case writeKeywords[first]:
		return unsupported(text, fmt.Sprintf("the SQL parser cannot read it (%v)", err))
	case ddlKeywords[first]:
		return &analysis{kind: kindDDL, text: text}
	}
	return &analysis{kind: kindPassThrough, text: text}
}

// stripConflictClause removes SQLite's INSERT OR x / UPDATE OR x and turns
// REPLACE INTO into INSERT INTO, returning the mode it removed.
func stripConflictClause(q string) (string, string) {
	toks := lex(q, styleSQLite)
	if len(toks) < 2 {
		return q, ""
	}
	if toks[0].is(q, "REPLACE") {
		return "INSERT" + q[toks[0].end:], "REPLACE"
	}
	if len(toks) >= 3 && (toks[0].is(q, "INSERT") || toks[0].is(q, "UPDATE")) && toks[1].is(q, "OR") {
		return q[:toks[1].start] + q[toks[2].end:], strings.ToUpper(toks[2].text(q))
	}
	return q, ""
}
