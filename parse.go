package sqlaudit

import (
	"fmt"
	"strconv"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
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
	orIgnore   bool     // INSERT OR IGNORE / ON CONFLICT DO NOTHING / UPDATE OR IGNORE
	upsert     bool     // INSERT … ON CONFLICT DO UPDATE
	truncate   bool     // TRUNCATE, audited as DELETE of every row
	// resetsSession marks SET, RESET and DISCARD: names may resolve
	// differently afterwards (search_path), so the catalog is dropped.
	resetsSession bool
	// What the parse tree says the clauses are, to cross-check the slicing.
	treeWhere, treeReturning, treeWith, treeFrom bool
	paramNames                                   []string // SQLite: parameter name by number ("" for positional)
	numParams                                    int      // the largest placeholder number ($n, ?n)
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
	for _, st := range stmts {
		one := analyseOne(q[st[0].start:st[len(st)-1].end], nil, style)
		a.endsTx = a.endsTx || one.endsTx
		a.resetsSession = a.resetsSession || one.resetsSession
		switch one.kind {
		case kindDDL:
			a.kind = kindDDL
		case kindTxControl, kindPassThrough:
		default:
			return unsupported(q, "several statements in one string, at least one of them writes; send them one at a time")
		}
	}
	return a
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
	switch orMode {
	case "":
	case "IGNORE":
		a.orIgnore = true
	case "REPLACE":
		return unsupported(text, "OR REPLACE / REPLACE INTO deletes conflicting rows the wrapper cannot see", a.table)
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

func rangeVar(rv *pg.RangeVar) tableRef {
	t := tableRef{schema: rv.Schemaname, name: rv.Relname, only: !rv.Inh}
	if rv.Alias != nil {
		t.alias = rv.Alias.Aliasname
	}
	return t
}

// classify maps a parse tree to what the wrapper does with it.
func classify(n *pg.Node, q string) *analysis {
	a := &analysis{text: q}
	switch s := n.Node.(type) {
	case *pg.Node_InsertStmt:
		return classifyInsert(a, s.InsertStmt)
	case *pg.Node_UpdateStmt:
		return classifyUpdate(a, s.UpdateStmt)
	case *pg.Node_DeleteStmt:
		return classifyDelete(a, s.DeleteStmt)
	case *pg.Node_SelectStmt:
		if s.SelectStmt.IntoClause != nil {
			a.kind = kindDDL
		}
	case *pg.Node_VariableSetStmt, *pg.Node_DiscardStmt:
		a.resetsSession = true
	case *pg.Node_TransactionStmt:
		switch s.TransactionStmt.Kind {
		case pg.TransactionStmtKind_TRANS_STMT_SAVEPOINT, pg.TransactionStmtKind_TRANS_STMT_RELEASE,
			pg.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO:
		default:
			a.kind, a.endsTx = kindTxControl, true
		}
	case *pg.Node_MergeStmt:
		return unsupported(q, "MERGE", rangeVar(s.MergeStmt.Relation))
	case *pg.Node_TruncateStmt:
		return classifyTruncate(a, s.TruncateStmt)
	case *pg.Node_CopyStmt:
		if s.CopyStmt.IsFrom {
			return unsupported(q, "COPY … FROM", rangeVar(s.CopyStmt.Relation))
		}
	case *pg.Node_ExecuteStmt:
		return unsupported(q, "EXECUTE of a server-side prepared statement cannot be analysed")
	case *pg.Node_PrepareStmt:
		if containsWrite(n.ProtoReflect()) {
			return unsupported(q, "PREPARE of a write: its EXECUTE could not be audited")
		}
	case *pg.Node_ExplainStmt:
		if explainAnalyzesWrite(s.ExplainStmt) {
			return unsupported(q, "EXPLAIN ANALYZE executes the write")
		}
		return a // a plain EXPLAIN runs nothing
	case *pg.Node_RuleStmt:
		a.kind = kindDDL
		return a // the rule's actions run later, as part of statements on its table
	case *pg.Node_CreateStmt, *pg.Node_AlterTableStmt, *pg.Node_DropStmt, *pg.Node_RenameStmt,
		*pg.Node_IndexStmt, *pg.Node_CreateTableAsStmt, *pg.Node_ViewStmt, *pg.Node_CreateSchemaStmt,
		*pg.Node_CreateTrigStmt, *pg.Node_CreateFunctionStmt, *pg.Node_CompositeTypeStmt,
		*pg.Node_CreateEnumStmt, *pg.Node_CreateDomainStmt, *pg.Node_AlterDomainStmt:
		a.kind = kindDDL
	}
	// A write can hide inside anything else: a data-modifying WITH query in
	// a SELECT or CREATE TABLE AS, COPY (DELETE … RETURNING) TO, PREPARE.
	if containsWrite(n.ProtoReflect()) {
		return unsupported(q, "an INSERT, UPDATE, DELETE or MERGE inside the statement (a data-modifying WITH query, COPY (…) TO, CREATE TABLE AS …)")
	}
	return a
}

// writeNodes are the parse-tree messages of statements that change rows.
var writeNodes = map[protoreflect.FullName]bool{
	"pg_query.InsertStmt": true, "pg_query.UpdateStmt": true, "pg_query.DeleteStmt": true, "pg_query.MergeStmt": true,
}

// containsWrite reports whether the tree below m holds a write statement.
func containsWrite(m protoreflect.Message) bool {
	found := false
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Kind() != protoreflect.MessageKind:
		case fd.IsList():
			for i := 0; i < v.List().Len() && !found; i++ {
				found = isOrHasWrite(v.List().Get(i).Message())
			}
		case !fd.IsMap():
			found = isOrHasWrite(v.Message())
		}
		return !found
	})
	return found
}

func isOrHasWrite(m protoreflect.Message) bool {
	return writeNodes[m.Descriptor().FullName()] || containsWrite(m)
}

func hasWritingCTE(w *pg.WithClause) bool {
	if w == nil {
		return false
	}
	for _, c := range w.Ctes {
		switch c.GetCommonTableExpr().GetCtequery().GetNode().(type) {
		case *pg.Node_InsertStmt, *pg.Node_UpdateStmt, *pg.Node_DeleteStmt, *pg.Node_MergeStmt:
			return true
		}
	}
	return false
}

func explainAnalyzesWrite(e *pg.ExplainStmt) bool {
	switch e.Query.GetNode().(type) {
	case *pg.Node_SelectStmt:
		if !hasWritingCTE(e.Query.GetSelectStmt().WithClause) {
			return false
		}
	case *pg.Node_InsertStmt, *pg.Node_UpdateStmt, *pg.Node_DeleteStmt, *pg.Node_MergeStmt, *pg.Node_ExecuteStmt:
	default:
		if !containsWrite(e.Query.ProtoReflect()) {
			return false
		}
	}
	for _, o := range e.Options {
		if d := o.GetDefElem(); d != nil && strings.EqualFold(d.Defname, "analyze") {
			return optionIsTrue(d.Arg)
		}
	}
	return false
}

// optionIsTrue reads a boolean EXPLAIN option: absent means true; the parser
// gives it as a Boolean, a String ("false", "off") or an Integer.
func optionIsTrue(arg *pg.Node) bool {
	switch {
	case arg == nil:
		return true
	case arg.GetBoolean() != nil:
		return arg.GetBoolean().Boolval
	case arg.GetInteger() != nil:
		return arg.GetInteger().Ival != 0
	case arg.GetString_() != nil:
		switch strings.ToLower(arg.GetString_().Sval) {
		case "false", "off", "0", "no":
			return false
		}
	}
	return true
}

// classifyTruncate audits TRUNCATE of one table as the DELETE of every row
// (each removed row recorded); the forms whose effects reach further are
// refused.
func classifyTruncate(a *analysis, s *pg.TruncateStmt) *analysis {
	var ts []tableRef
	for _, r := range s.Relations {
		ts = append(ts, rangeVar(r.GetRangeVar()))
	}
	if s.Behavior == pg.DropBehavior_DROP_CASCADE {
		return unsupported(a.text, "TRUNCATE … CASCADE (it empties the referencing tables too)")
	}
	if len(ts) != 1 || s.RestartSeqs {
		return unsupported(a.text, "TRUNCATE of several tables or with RESTART IDENTITY", ts...)
	}
	a.kind, a.table, a.truncate = kindDelete, ts[0], true
	return a
}

func classifyInsert(a *analysis, s *pg.InsertStmt) *analysis {
	a.table = rangeVar(s.Relation)
	a.table.only = false
	switch {
	case hasWritingCTE(s.WithClause):
		return unsupported(a.text, "a data-modifying WITH query")
	case s.OnConflictClause != nil && s.OnConflictClause.Action == pg.OnConflictAction_ONCONFLICT_UPDATE:
		a.upsert = true
	case s.OnConflictClause != nil:
		a.orIgnore = true
	}
	a.kind, a.treeReturning, a.treeWith = kindInsert, len(s.ReturningList) > 0, s.WithClause != nil
	return a
}

func classifyUpdate(a *analysis, s *pg.UpdateStmt) *analysis {
	a.table = rangeVar(s.Relation)
	switch {
	case hasWritingCTE(s.WithClause):
		return unsupported(a.text, "a data-modifying WITH query")
	case s.WhereClause.GetCurrentOfExpr() != nil:
		return unsupported(a.text, "UPDATE … WHERE CURRENT OF", a.table)
	}
	for _, t := range s.TargetList {
		a.setColumns = append(a.setColumns, t.GetResTarget().GetName())
	}
	a.kind, a.treeWhere, a.treeReturning = kindUpdate, s.WhereClause != nil, len(s.ReturningList) > 0
	a.treeWith, a.treeFrom = s.WithClause != nil, len(s.FromClause) > 0
	return a
}

func classifyDelete(a *analysis, s *pg.DeleteStmt) *analysis {
	a.table = rangeVar(s.Relation)
	switch {
	case hasWritingCTE(s.WithClause):
		return unsupported(a.text, "a data-modifying WITH query")
	case s.WhereClause.GetCurrentOfExpr() != nil:
		return unsupported(a.text, "DELETE … WHERE CURRENT OF", a.table)
	}
	a.kind, a.treeWhere, a.treeReturning = kindDelete, s.WhereClause != nil, len(s.ReturningList) > 0
	a.treeWith, a.treeFrom = s.WithClause != nil, len(s.UsingClause) > 0
	return a
}
