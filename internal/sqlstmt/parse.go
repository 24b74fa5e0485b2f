package sqlstmt

import (
	"fmt"
	"strconv"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// stmtKind is what the wrapper does with a statement.
type Kind uint8

const (
	PassThrough Kind = iota // runs untouched: reads, SET, CALL …
	Insert
	Update
	Delete
	DDL         // runs untouched, then the catalog is forgotten
	TxControl   // BEGIN, COMMIT, ROLLBACK … sent as text (not savepoints)
	Unsupported // writes, but cannot be audited: refused or warned by policy
)

// tableRef names a table as a statement wrote it (identifiers already folded
// and unquoted by the parser).
type TableRef struct {
	Schema, Name string
	Alias        string
	Only         bool // UPDATE ONLY / DELETE FROM ONLY
}

// analysis describes one statement. It is built once per distinct statement
// text and shared, read-only, by every connection of a connector.
type Analysis struct {
	Kind   Kind
	Text   string // the statement as it will run (SQLite: placeholders renumbered ?NNN)
	Table  TableRef
	Tables []TableRef // tables an unsupported statement writes, where known
	Reason string     // why a statement is kindUnsupported

	// Clause texts, sliced from text without their keywords; "" when absent.
	With                  string // the WITH list (with RECURSIVE, if there)
	Set, Where, Returning string
	From                  string // UPDATE … FROM list, DELETE … USING list
	InsertBody            string // after INSERT INTO rel [AS alias], before RETURNING

	SetColumns []string // UPDATE: columns assigned by SET
	EndsTx     bool     // begins or ends a transaction (also inside a multi-statement string)
	BeginsTx   bool     // begins one (BEGIN, START TRANSACTION)
	OrIgnore   bool     // INSERT OR IGNORE / ON CONFLICT DO NOTHING / UPDATE OR IGNORE
	OrReplace  bool     // SQLite: INSERT OR REPLACE / REPLACE INTO / UPDATE OR REPLACE
	orClause   bool     // SQLite: the statement has an OR conflict clause (or is REPLACE)
	Upsert     bool     // INSERT … ON CONFLICT DO UPDATE
	// returningStar: the RETURNING list has an unqualified *
	ReturningStar bool
	Truncate      bool     // TRUNCATE, audited as DELETE of every row
	CopyIn        bool     // COPY t [(copyColumns)] FROM STDIN: audited when prepared (lib/pq's CopyIn)
	CopyColumns   []string // its column list
	// resetsSession marks SET, RESET and DISCARD: names may resolve
	// differently afterwards (search_path), so the catalog is dropped.
	ResetsSession bool
	paramNames    []string // SQLite: parameter name by number ("" for positional)
	NumParams     int      // the largest placeholder number ($n, ?n)
	// parts are the statements of a multi-statement string that writes;
	// dialects that run such strings statement by statement audit each.
	Parts []Part
	// ext is a dialect's own reading of the statement, built by its analyser
	// (MySQL: the clauses its plans rewrite)
	Ext any
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
func Analyse(q string, style Style) *Analysis {
	toks := Lex(q, style)
	stmts := SplitStatements(toks)
	switch len(stmts) {
	case 0:
		return &Analysis{Kind: PassThrough, Text: q}
	case 1:
		return analyseOne(q, stmts[0], style)
	}
	a := &Analysis{Kind: PassThrough, Text: q}
	writes := false
	for _, st := range stmts {
		text := q[st[0].Start:st[len(st)-1].End]
		one := analyseOne(text, nil, style)
		a.Parts = append(a.Parts, Part{Text: text, Params: one.NumParams})
		a.EndsTx = a.EndsTx || one.EndsTx
		if one.EndsTx || one.BeginsTx { // the last one decides
			a.BeginsTx = one.BeginsTx
		}
		a.ResetsSession = a.ResetsSession || one.ResetsSession
		switch one.Kind {
		case DDL:
			a.Kind = DDL
		case TxControl, PassThrough:
		default:
			writes = true
		}
	}
	if writes {
		multi := Refused(q, "several statements in one string, at least one of them writes; send them one at a time")
		multi.Parts = a.Parts
		return multi
	}
	return a
}

// statementPart is one statement of a multi-statement string, as written,
// with the number of arguments it takes (its largest placeholder number).
type Part struct {
	Text   string
	Params int
}

func Refused(q, reason string, tables ...TableRef) *Analysis {
	return &Analysis{Kind: Unsupported, Text: q, Reason: reason, Tables: tables}
}

// analyseOne analyses a single statement; toks may be nil (it is then lexed).
func analyseOne(q string, toks []Token, style Style) *Analysis {
	if toks == nil {
		toks = Lex(q, style)
	}
	if toks[0].Start > 0 || toks[len(toks)-1].End < len(q) {
		q = q[toks[0].Start:toks[len(toks)-1].End] // drop surrounding blanks and comments
		toks = Lex(q, style)
	}
	pgText, text, names := q, q, []string(nil)
	first := strings.ToUpper(toks[0].Text(q))
	orMode := ""
	if style == StyleSQLite {
		var err error
		if pgText, text, names, err = sqliteParams(q, toks); err != nil {
			return refuseOrPass(q, first, style, err)
		}
		pgText, orMode = stripConflictClause(pgText)
	}
	toks = Lex(text, style)
	tree, err := pg.Parse(pgText)
	if err == nil && len(tree.Stmts) != 1 {
		err = fmt.Errorf("%d statements", len(tree.Stmts))
	}
	if err != nil {
		if beginsOrEndsTx(text, toks) { // SQLite's BEGIN IMMEDIATE and friends
			return &Analysis{Kind: TxControl, Text: text, EndsTx: true}
		}
		return refuseOrPass(text, first, style, err)
	}
	a := classify(tree.Stmts[0].Stmt, text)
	a.paramNames, a.NumParams = names, maxParam(text, toks)
	a.orClause = orMode != ""
	switch orMode {
	case "":
	case "IGNORE":
		a.OrIgnore = true
	case "REPLACE":
		a.OrReplace = true // its deletions fire the SQLite dialect's DELETE triggers
	case "ABORT", "FAIL", "ROLLBACK":
		// Row capture records exactly the rows that stay changed.
	default:
		return Refused(text, "OR "+orMode+" conflict clauses are not supported", a.Table)
	}
	if a.Kind == Insert || a.Kind == Update || a.Kind == Delete {
		if reason := sliceClauses(a, toks); reason != "" {
			return Refused(text, reason, a.Table)
		}
	}
	return a
}

// beginsOrEndsTx recognises transaction control the parser cannot read:
// BEGIN, COMMIT, END, and ROLLBACK other than ROLLBACK … TO a savepoint.
func beginsOrEndsTx(q string, toks []Token) bool {
	switch strings.ToUpper(toks[0].Text(q)) {
	case "BEGIN", "COMMIT", "END":
		return true
	case "ROLLBACK":
		for _, t := range toks[1:] {
			if t.Is(q, "TO") {
				return false
			}
		}
		return true
	}
	return false
}

// maxParam is the largest placeholder number of a statement (PostgreSQL
// $n; SQLite text is already renumbered ?n).
func maxParam(q string, toks []Token) int {
	max := 0
	for _, t := range toks {
		if t.Kind == TokParam {
			if n, err := strconv.Atoi(t.Text(q)[1:]); err == nil && n > max {
				max = n
			}
		}
	}
	return max
}

// refuseOrPass decides a statement the parser cannot read by its first word:
// a possible write is refused, never passed unaudited.
func refuseOrPass(text, first string, style Style, err error) *Analysis {
	switch {
	case first == "EXPLAIN" && style == StyleSQLite:
		return &Analysis{Kind: PassThrough, Text: text}
	case writeKeywords[first]:
		return Refused(text, fmt.Sprintf("the SQL parser cannot read it (%v)", err))
	case ddlKeywords[first]:
		return &Analysis{Kind: DDL, Text: text}
	}
	return &Analysis{Kind: PassThrough, Text: text}
}

// stripConflictClause removes SQLite's INSERT OR x / UPDATE OR x and turns
// REPLACE INTO into INSERT INTO, returning the mode it removed.
func stripConflictClause(q string) (string, string) {
	toks := Lex(q, StyleSQLite)
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
