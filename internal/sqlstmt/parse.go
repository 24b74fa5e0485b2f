package sqlstmt

import (
	"fmt"
	"strconv"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// Kind is what the wrapper does with a statement.
type Kind uint8

const (
	PassThrough Kind = iota // runs untouched: reads, SET, SHOW …
	Insert
	Update
	Delete
	Merge       // MERGE INTO: inserts, updates and deletes (audited by dialects that can)
	DDL         // runs untouched, then the catalog is forgotten
	TxControl   // BEGIN, COMMIT, ROLLBACK … sent as text (not savepoints)
	Unsupported // writes, but cannot be audited: refused or warned by policy
)

// Writes reports the kinds that change rows the wrapper audits: INSERT,
// UPDATE, DELETE and MERGE.
func (k Kind) Writes() bool { return k == Insert || k == Update || k == Delete || k == Merge }

// String names the kind for messages.
func (k Kind) String() string {
	switch k {
	case PassThrough:
		return "pass-through"
	case Insert:
		return "insert"
	case Update:
		return "update"
	case Delete:
		return "delete"
	case Merge:
		return "merge"
	case DDL:
		return "DDL"
	case TxControl:
		return "transaction control"
	case Unsupported:
		return "unsupported"
	}
	return "kind " + strconv.Itoa(int(k))
}

// TableRef names a table as a statement wrote it (identifiers already folded
// and unquoted by the parser).
type TableRef struct {
	Schema, Name string
	Alias        string
	Only         bool // UPDATE ONLY / DELETE FROM ONLY
}

// Analysis describes one statement. It is built once per distinct statement
// text and shared, read-only, by every connection of a connector.
type Analysis struct {
	Kind   Kind
	Text   string // the statement as it will run (SQLite: placeholders renumbered ?NNN)
	Table  TableRef
	Tables []TableRef // tables an unsupported statement writes, where known
	Reason string     // why a statement is Unsupported
	// Unreadable: refused because the parser cannot read it — perhaps a
	// mistake the database reports better (the wrapper asks it, see the
	// root's run), perhaps syntax the parser does not know.
	Unreadable bool

	// Clause texts, sliced from text without their keywords; "" when absent.
	With                  string // the WITH list (with RECURSIVE, if there)
	Set, Where, Returning string
	From                  string // UPDATE … FROM list, DELETE … USING list
	InsertBody            string // after INSERT INTO rel [AS alias], before RETURNING
	MergeBody             string // MERGE: the statement from MERGE to before RETURNING
	// An upsert's InsertBody in two: up to the end of its DO UPDATE SET list
	// (ConflictSet), and the DO UPDATE's WHERE condition ("" when none).
	ConflictSet, ConflictWhere string

	SetColumns []string // UPDATE: columns assigned by SET
	// JoinFunctions are the functions an UPDATE … FROM calls in its FROM
	// list and WHERE clause, by name: the rewrite evaluates those twice.
	JoinFunctions []string
	EndsTx        bool // begins or ends a transaction (also inside a multi-statement string)
	BeginsTx      bool // begins one (BEGIN, START TRANSACTION)
	OrIgnore      bool // INSERT OR IGNORE / ON CONFLICT DO NOTHING / UPDATE OR IGNORE
	OrReplace     bool // SQLite: INSERT OR REPLACE / REPLACE INTO / UPDATE OR REPLACE
	orClause      bool // SQLite: the statement has an OR conflict clause (or is REPLACE)
	Upsert        bool // INSERT … ON CONFLICT DO UPDATE
	// returningStar: the RETURNING list has an unqualified *
	ReturningStar bool
	Truncate      bool     // TRUNCATE, audited as DELETE of every row
	CopyIn        bool     // COPY t [(copyColumns)] FROM STDIN: audited when prepared (lib/pq's CopyIn)
	CopyColumns   []string // its column list
	// resetsSession marks SET, RESET and DISCARD: names may resolve
	// differently afterwards (search_path), so the catalog is dropped.
	ResetsSession bool
	NumParams     int // the largest placeholder number ($n, ?n)
	// parts are the statements of a multi-statement string that writes;
	// dialects that run such strings statement by statement audit each.
	Parts []Part
	// ext is a dialect's own reading of the statement, built by its analyser
	// (MySQL: the clauses its plans rewrite)
	Ext any
	// What the parse tree says the clauses are, to cross-check the slicing.
	treeWhere, treeReturning, treeWith, treeFrom bool
	treeConflictWhere                            bool
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

// Rules are what a dialect adds to the PostgreSQL grammar to read its text.
type Rules struct {
	Style Style // its lexing rules
	// Translate turns one statement (its text and tokens) into the text the
	// PostgreSQL parser checks and the text the database will run, and
	// names the OR conflict clause it removed; nil keeps the text as it is.
	Translate func(q string, toks []Token) (Translation, error)
	// ExplainRunsNothing: EXPLAIN never executes its statement, so one the
	// parser cannot read is a read (SQLite's EXPLAIN QUERY PLAN).
	ExplainRunsNothing bool
}

// Translation is one statement as the PostgreSQL parser reads it (Parse) and
// as the database will run it (Run), with the OR conflict clause removed
// from Parse, upper-case ("" when none).
type Translation struct {
	Parse, Run, Conflict string
}

// PostgreSQL are the rules of PostgreSQL's own text: nothing to translate.
var PostgreSQL = Rules{Style: StylePostgres}

// Analyse reads q with the real PostgreSQL parser, after the dialect's
// translation (SQLite: placeholders, identifier quotes, OR conflict clauses)
// so that pg_query can check its structure; clause texts are always sliced
// from the text the database will actually run.
func Analyse(q string, r Rules) *Analysis {
	toks := Lex(q, r.Style)
	stmts := SplitStatements(toks)
	switch len(stmts) {
	case 0:
		return &Analysis{Kind: PassThrough, Text: q}
	case 1:
		return analyseOne(q, stmts[0], r)
	}
	texts := make([]string, len(stmts))
	parts := make([]*Analysis, len(stmts))
	for i, st := range stmts {
		texts[i] = q[st[0].Start:st[len(st)-1].End]
		parts[i] = analyseOne(texts[i], nil, r)
	}
	return Combine(q, texts, parts)
}

// Combine is the analysis of a string of several statements (their texts
// as written and their analyses): transaction control and session changes
// anywhere in it count, the last transaction statement deciding whether a
// transaction is open after it; DDL makes it DDL; a write anywhere refuses
// it, keeping its parts for a dialect whose driver runs them one by one
// (Part, Features OneByOne).
func Combine(q string, texts []string, parts []*Analysis) *Analysis {
	a := &Analysis{Kind: PassThrough, Text: q}
	writes := false
	for i, one := range parts {
		a.Parts = append(a.Parts, Part{Text: texts[i], Params: one.NumParams})
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

// Part is one statement of a multi-statement string, as written, with the
// number of arguments it takes (its largest placeholder number).
type Part struct {
	Text   string
	Params int
}

// Refused is the analysis of a statement the wrapper cannot audit, and why;
// tables are the tables it writes, where known.
func Refused(q, reason string, tables ...TableRef) *Analysis {
	return &Analysis{Kind: Unsupported, Text: q, Reason: reason, Tables: tables}
}

// analyseOne analyses a single statement; toks may be nil (it is then lexed).
func analyseOne(q string, toks []Token, r Rules) *Analysis {
	if toks == nil {
		toks = Lex(q, r.Style)
	}
	if toks[0].Start > 0 || toks[len(toks)-1].End < len(q) {
		q = q[toks[0].Start:toks[len(toks)-1].End] // drop surrounding blanks and comments
		toks = Lex(q, r.Style)
	}
	first := strings.ToUpper(toks[0].Text(q))
	tr := Translation{Parse: q, Run: q}
	if r.Translate != nil {
		var err error
		if tr, err = r.Translate(q, toks); err != nil {
			return refuseOrPass(q, first, r, err)
		}
	}
	text := tr.Run
	toks = Lex(text, r.Style)
	tree, err := pg.Parse(tr.Parse)
	if err == nil && len(tree.Stmts) != 1 {
		err = fmt.Errorf("%d statements", len(tree.Stmts))
	}
	if err != nil {
		if beginsOrEndsTx(text, toks) { // SQLite's BEGIN IMMEDIATE and friends
			return &Analysis{Kind: TxControl, Text: text, EndsTx: true}
		}
		return refuseOrPass(text, first, r, err)
	}
	a := classify(tree.Stmts[0].Stmt, text)
	a.NumParams = maxParam(text, toks)
	a.orClause = tr.Conflict != ""
	switch tr.Conflict {
	case "":
	case "IGNORE":
		a.OrIgnore = true
	case "REPLACE":
		a.OrReplace = true // its deletions fire the SQLite dialect's DELETE triggers
	case "ABORT", "FAIL", "ROLLBACK":
		// Row capture records exactly the rows that stay changed.
	default:
		return Refused(text, "OR "+tr.Conflict+" conflict clauses are not supported", a.Table)
	}
	if a.Kind.Writes() {
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
func refuseOrPass(text, first string, r Rules, err error) *Analysis {
	switch {
	case first == "EXPLAIN" && r.ExplainRunsNothing:
		return &Analysis{Kind: PassThrough, Text: text}
	case writeKeywords[first]:
		a := Refused(text, fmt.Sprintf("the SQL parser cannot read it (%v)", err))
		a.Unreadable = true
		return a
	case ddlKeywords[first]:
		return &Analysis{Kind: DDL, Text: text}
	}
	return &Analysis{Kind: PassThrough, Text: text}
}
