package sqlaudit

import (
	"fmt"
	"strings"

	my "github.com/xwb1989/sqlparser"
)

// mysqlClauses are the offsets and texts of a MySQL write the MySQL plans
// rewrite. The grammar (xwb1989/sqlparser) checks the statement's structure
// and names its table; the texts are always sliced from the statement as the
// caller wrote it — the grammar never prints SQL.
type mysqlClauses struct {
	tableText   string        // the table reference as written (alias, PARTITION …)
	where       string        // the predicate, without WHERE; "" when absent
	order       string        // ORDER BY …, LIMIT … as written (keywords included)
	whereSpan   [2]int        // the predicate's offsets in the text; {-1,-1} when absent
	restrictAt  int           // where a restriction goes when there is no WHERE
	setArgs     int           // placeholders in UPDATE's SET
	beforeWhere int           // placeholders before the predicate (table references and SET)
	targets     []mysqlTarget // UPDATE, DELETE: the tables the statement changes
	whereArgs   int           // placeholders in the predicate
	orderArgs   int           // placeholders in ORDER BY / LIMIT
	ignore      bool          // IGNORE modifier
	insertCols  []string
	returningAt int // offset of RETURNING, or len(text)
	dupAt       int // INSERT … ON DUPLICATE KEY UPDATE: the offset after UPDATE (setArgs: placeholders before it)
	// setsLastInsertID: the upsert assigns c = LAST_INSERT_ID(c)
	setsLastInsertID bool
}

// mysqlTarget is a table an UPDATE or DELETE changes.
type mysqlTarget struct {
	ref  tableRef
	qual string   // how the statement names it: its alias, or its name as written
	set  []string // UPDATE: the columns assigned in it
}

// mysqlModifiers are the words MariaDB allows between a verb and its table;
// the grammar reads few of them, so they are cut before parsing.
var mysqlModifiers = map[string]bool{"LOW_PRIORITY": true, "QUICK": true, "IGNORE": true, "DELAYED": true, "HIGH_PRIORITY": true}

// analyseMySQL reads a statement for the MySQL dialect.
func analyseMySQL(q string) *analysis {
	toks := lex(q, styleMySQL)
	stmts := splitStatements(toks)
	switch len(stmts) {
	case 0:
		return &analysis{kind: kindPassThrough, text: q}
	case 1:
		if text := mysqlSlice(q, stmts[0]); text != "" {
			return analyseMySQLOne(text)
		}
		return unsupported(q, "a statement the MySQL lexer cannot cut out of its text unchanged (a trailing \"--\")")
	}
	a := &analysis{kind: kindPassThrough, text: q}
	for _, st := range stmts {
		one := analyseMySQLOne(mysqlSlice(q, st))
		a.endsTx = a.endsTx || one.endsTx || one.beginsTx
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

// mysqlSlice is one statement's text without the blanks and comments
// around it. Cut out, the text must lex to the same tokens: "--" reads as
// a comment at the end of a text but not before "#" ("--#0").
func mysqlSlice(q string, st []token) string {
	text := q[st[0].start:st[len(st)-1].end]
	toks := lex(text, styleMySQL)
	if len(toks) != len(st) {
		return "" // analysed as unreadable
	}
	for i, t := range toks {
		if t.text(text) != st[i].text(q) {
			return ""
		}
	}
	return text
}

func analyseMySQLOne(q string) *analysis {
	toks := lex(q, styleMySQL)
	if len(toks) == 0 { // a part mysqlSlice could not cut out
		return unsupported(q, "a statement the MySQL lexer cannot cut out of its text unchanged (a trailing \"--\")")
	}
	first := strings.ToUpper(toks[0].text(q))
	for _, t := range toks {
		if t.kind == tokExecComment && first != "SELECT" && first != "SHOW" && first != "SET" {
			return unsupported(q, "executable comments (/*! … */) hold SQL the wrapper cannot read")
		}
	}
	second := ""
	if len(toks) > 1 {
		second = strings.ToUpper(toks[1].text(q))
	}
	switch first {
	case "INSERT", "REPLACE", "UPDATE", "DELETE":
		return analyseMySQLWrite(q, toks)
	case "BEGIN", "START":
		if first == "BEGIN" || second == "TRANSACTION" {
			return &analysis{kind: kindTxControl, text: q, beginsTx: true}
		}
	case "COMMIT":
		return &analysis{kind: kindTxControl, text: q, endsTx: true}
	case "ROLLBACK":
		for _, t := range toks[1:] {
			if t.is(q, "TO") {
				return &analysis{kind: kindPassThrough, text: q}
			}
		}
		return &analysis{kind: kindTxControl, text: q, endsTx: true}
	case "SET", "USE":
		return mysqlSet(q, first, second)
	case "TRUNCATE":
		return unsupported(q, "TRUNCATE removes rows unseen (it is DDL in MySQL); use DELETE", mysqlDDLTable(q, toks))
	case "LOCK", "UNLOCK":
		return &analysis{kind: kindPassThrough, text: q, endsTx: true} // commits implicitly
	case "LOAD", "WITH", "EXECUTE", "ANALYZE":
		if first != "ANALYZE" || second == "UPDATE" || second == "DELETE" || second == "INSERT" || second == "REPLACE" {
			return unsupported(q, first+" statements may change rows the wrapper cannot see")
		}
	case "CREATE", "ALTER", "DROP", "RENAME", "GRANT", "REVOKE", "OPTIMIZE", "REPAIR":
		// DDL commits the open transaction implicitly.
		return &analysis{kind: kindDDL, text: q, endsTx: true}
	}
	return &analysis{kind: kindPassThrough, text: q}
}

// mysqlSet: sql_mode, autocommit and the default database change what the
// wrapper must know, so the catalog is read again, with them; other SETs
// (user variables, SET NAMES, time_zone …) keep it — reading it costs tens
// of milliseconds. SET STATEMENT … FOR runs a statement of its own.
func mysqlSet(q, first, second string) *analysis {
	lower := strings.ToLower(q)
	switch {
	case first == "SET" && second == "STATEMENT":
		return unsupported(q, "SET STATEMENT … FOR runs a statement the wrapper does not see")
	case first == "USE" || strings.Contains(lower, "sql_mode") || strings.Contains(lower, "autocommit"):
		return &analysis{kind: kindPassThrough, text: q, resetsSession: true, endsTx: strings.Contains(lower, "autocommit")}
	}
	return &analysis{kind: kindPassThrough, text: q}
}

// mysqlDDLTable names the table of TRUNCATE [TABLE] t, so that TRUNCATE of
// an excluded table runs.
func mysqlDDLTable(q string, toks []token) tableRef {
	i := 1
	if i < len(toks) && toks[i].is(q, "TABLE") {
		i++
	}
	ref, _ := mysqlTableName(q, toks, i)
	return ref
}

// mysqlTableName reads [schema.]name at toks[i], returning the index after it.
func mysqlTableName(q string, toks []token, i int) (tableRef, int) {
	name := func(t token) string {
		s := t.text(q)
		if t.kind == tokIdent {
			return strings.ReplaceAll(s[1:len(s)-1], "``", "`")
		}
		return s
	}
	if i >= len(toks) {
		return tableRef{}, i
	}
	ref := tableRef{name: name(toks[i])}
	if i+2 < len(toks) && toks[i+1].text(q) == "." {
		ref = tableRef{schema: ref.name, name: name(toks[i+2])}
		i += 2
	}
	return ref, i + 1
}

// analyseMySQLWrite reads INSERT, REPLACE, UPDATE and DELETE.
func analyseMySQLWrite(q string, toks []token) *analysis {
	// An unterminated string, identifier or comment would swallow what the
	// plan appends (the grammar's own tokenizer may not notice it).
	if end := lex(q+"\n0", styleMySQL); end[len(end)-1].text(q+"\n0") != "0" {
		return unsupported(q, "an unterminated string, quoted identifier or comment")
	}
	c := &mysqlClauses{returningAt: len(q), whereSpan: [2]int{-1, -1}}
	end := len(toks)
	for i, t := range toks {
		if t.depth == 0 && t.is(q, "RETURNING") {
			c.returningAt, end = t.start, i
			break
		}
	}
	// The grammar reads the statement without RETURNING and modifiers.
	body := q[:c.returningAt]
	verbEnd := 1
	for verbEnd < end && toks[verbEnd].kind == tokWord && mysqlModifiers[strings.ToUpper(toks[verbEnd].text(q))] {
		c.ignore = c.ignore || toks[verbEnd].is(q, "IGNORE")
		verbEnd++
	}
	parseText := body
	if verbEnd > 1 {
		parseText = q[:toks[0].end] + " " + q[toks[verbEnd-1].end:c.returningAt]
	}
	stmt, err := my.Parse(parseText)
	if err != nil {
		return unsupported(q, fmt.Sprintf("the MySQL parser cannot read it (%v)", err))
	}
	a := &analysis{text: q, ext: c, numParams: countParams(toks)}
	if c.returningAt < len(q) {
		a.returningText = strings.TrimSpace(q[toks[end].end:])
	}
	switch s := stmt.(type) {
	case *my.Insert:
		return mysqlInsert(a, s, q, toks)
	case *my.Update:
		a.kind = kindUpdate
		for _, e := range s.Exprs {
			a.setColumns = append(a.setColumns, e.Name.Name.String())
		}
		if reason := mysqlUpdateTargets(a, s); reason != "" {
			return unsupported(q, reason)
		}
		return mysqlChange(a, s.Where != nil, len(s.OrderBy) > 0 || s.Limit != nil, q, toks[:end], verbEnd)
	case *my.Delete:
		a.kind = kindDelete
		if reason := mysqlDeleteTargets(a, s); reason != "" {
			return unsupported(q, reason)
		}
		return mysqlChange(a, s.Where != nil, len(s.OrderBy) > 0 || s.Limit != nil, q, toks[:end], verbEnd)
	}
	return unsupported(q, fmt.Sprintf("the MySQL parser read it as %T", stmt))
}

func mysqlInsert(a *analysis, s *my.Insert, q string, toks []token) *analysis {
	a.kind, a.orIgnore = kindInsert, myClauses(a).ignore || s.Ignore != ""
	a.table = tableRef{schema: s.Table.Qualifier.String(), name: s.Table.Name.String()}
	for _, col := range s.Columns {
		myClauses(a).insertCols = append(myClauses(a).insertCols, col.String())
	}
	if s.Action == my.ReplaceStr {
		return unsupported(q, "REPLACE deletes conflicting rows; it is not supported yet", a.table)
	}
	if len(s.OnDup) == 0 {
		return a
	}
	// ON DUPLICATE KEY UPDATE: the plan puts its own assignment first.
	a.upsert = true
	for _, e := range s.OnDup {
		switch keep, lii := mysqlKeeps(e); {
		case lii:
			myClauses(a).setsLastInsertID = true
		case keep: // `id` = `id`: GORM's DO NOTHING; it changes no column
		default:
			a.setColumns = append(a.setColumns, e.Name.Name.String())
		}
	}
	for i := 0; i+3 < len(toks); i++ {
		if toks[i].depth == 0 && toks[i].is(q, "ON") && toks[i+1].is(q, "DUPLICATE") && toks[i+2].is(q, "KEY") && toks[i+3].is(q, "UPDATE") {
			myClauses(a).dupAt = toks[i+3].end
			myClauses(a).setArgs = countParams(toks[:i])
			return a
		}
	}
	return unsupported(q, "cannot locate ON DUPLICATE KEY UPDATE", a.table)
}

// mysqlChange slices a single-table UPDATE or DELETE: the table reference,
// SET, WHERE and the ORDER BY / LIMIT tail, counting the placeholders of each.
func mysqlChange(a *analysis, hasWhere, hasOrder bool, q string, toks []token, verbEnd int) *analysis {
	c := myClauses(a)
	a.table = c.targets[0].ref
	if len(c.targets) > 1 {
		for _, tg := range c.targets {
			a.tables = append(a.tables, tg.ref)
		}
	}
	find := func(from int, word string) int {
		for i := from; i < len(toks); i++ {
			if toks[i].depth == 0 && toks[i].is(q, word) {
				return i
			}
		}
		return -1
	}
	tableStart := verbEnd
	if a.kind == kindDelete {
		if tableStart = find(verbEnd, "FROM") + 1; tableStart == 0 {
			return unsupported(q, "cannot find FROM", a.table)
		}
		if using := find(tableStart, "USING"); using >= 0 { // DELETE FROM t1, t2 USING …
			tableStart = using + 1
		}
	}
	tail := len(toks) // ORDER BY or LIMIT
	if i := find(tableStart, "ORDER"); i >= 0 {
		tail = i
	} else if i := find(tableStart, "LIMIT"); i >= 0 {
		tail = i
	}
	where := find(tableStart, "WHERE")
	if where > tail {
		where = -1
	}
	tableEnd := firstOf(where, tail)
	if a.kind == kindUpdate {
		if tableEnd = find(tableStart, "SET"); tableEnd < 0 {
			return unsupported(q, "cannot locate the SET clause", a.table)
		}
		c.setArgs = countParams(toks[tableEnd:firstOf(where, tail)])
	}
	if tableEnd <= tableStart || (where >= 0) != hasWhere || (tail < len(toks)) != hasOrder || where == len(toks)-1 {
		return unsupported(q, "the clauses found by the lexer disagree with the parse tree", a.table)
	}
	c.tableText = q[toks[tableStart].start:toks[tableEnd-1].end]
	c.beforeWhere = countParams(toks[:firstOf(where, tail)])
	c.restrictAt = toks[firstOf(where, tail)-1].end
	if where >= 0 {
		c.whereSpan = [2]int{toks[where+1].start, toks[tail-1].end}
		c.where = q[c.whereSpan[0]:c.whereSpan[1]]
		c.whereArgs = countParams(toks[where:tail])
	}
	if tail < len(toks) {
		c.order = q[toks[tail].start:toks[len(toks)-1].end]
		c.orderArgs = countParams(toks[tail:])
	}
	return a
}

// mysqlKeeps reports an assignment that leaves its column as it is: c = c,
// or c = LAST_INSERT_ID(c) (lii; ent's upserts, which make the updated
// row's id the statement's LastInsertId).
func mysqlKeeps(e *my.UpdateExpr) (keep, lii bool) {
	same := func(x my.Expr) bool {
		c, ok := x.(*my.ColName)
		return ok && c.Name.Equal(e.Name.Name) && (c.Qualifier.IsEmpty() || e.Name.Qualifier.IsEmpty() || c.Qualifier == e.Name.Qualifier)
	}
	if same(e.Expr) {
		return true, false
	}
	f, ok := e.Expr.(*my.FuncExpr)
	if ok && f.Name.Lowered() == "last_insert_id" && len(f.Exprs) == 1 {
		if a, ok := f.Exprs[0].(*my.AliasedExpr); ok && same(a.Expr) {
			return true, true
		}
	}
	return false, false
}

// mysqlTables names the tables of a statement's table references by how
// columns may be qualified with them: alias, else name (and schema.name).
func mysqlTables(exprs my.TableExprs) map[string]tableRef {
	out := map[string]tableRef{}
	my.Walk(func(n my.SQLNode) (bool, error) { //nolint:errcheck // the visitor never fails
		at, ok := n.(*my.AliasedTableExpr)
		if !ok {
			return true, nil
		}
		if tn, ok := at.Expr.(my.TableName); ok {
			ref := tableRef{schema: tn.Qualifier.String(), name: tn.Name.String(), alias: at.As.String()}
			if ref.alias != "" {
				out[ref.alias] = ref
			} else {
				out[ref.name] = ref
				out[ref.schema+"."+ref.name] = ref
			}
		}
		return false, nil
	}, exprs)
	return out
}

// mysqlQual is how a statement qualifies the columns of ref.
func mysqlQual(ref tableRef) string {
	if ref.alias != "" {
		return mysqlIdent(ref.alias)
	}
	return mysqlSpelled(tableRef{schema: ref.schema, name: ref.name})
}

// mysqlUpdateTargets: a single-table UPDATE changes its table; a
// multi-table one the tables its (qualified) SET columns name.
func mysqlUpdateTargets(a *analysis, s *my.Update) string {
	tables := mysqlTables(s.TableExprs)
	if at, ok := s.TableExprs[0].(*my.AliasedTableExpr); ok && len(s.TableExprs) == 1 {
		if _, ok := at.Expr.(my.TableName); !ok {
			return "the target is not a table"
		}
		for _, ref := range tables {
			myClauses(a).targets = []mysqlTarget{{ref: ref, qual: mysqlQual(ref), set: a.setColumns}}
			return ""
		}
	}
	index := map[string]int{}
	for _, e := range s.Exprs {
		q := e.Name.Qualifier
		if q.IsEmpty() {
			return "a multi-table UPDATE must qualify its SET columns (" + e.Name.Name.String() + ") for the wrapper to know which table changes"
		}
		name := q.Name.String()
		if !q.Qualifier.IsEmpty() {
			name = q.Qualifier.String() + "." + name
		}
		ref, ok := tables[name]
		if !ok {
			return "SET names " + name + ", which is not among the statement's tables"
		}
		i, seen := index[name]
		if !seen {
			i, index[name] = len(myClauses(a).targets), len(myClauses(a).targets)
			myClauses(a).targets = append(myClauses(a).targets, mysqlTarget{ref: ref, qual: mysqlQual(ref)})
		}
		myClauses(a).targets[i].set = append(myClauses(a).targets[i].set, e.Name.Name.String())
	}
	return ""
}

// mysqlDeleteTargets: DELETE FROM t changes t; DELETE t1, t2 FROM … (or
// FROM t1, t2 USING …) the tables it lists.
func mysqlDeleteTargets(a *analysis, s *my.Delete) string {
	tables := mysqlTables(s.TableExprs)
	if len(s.Targets) == 0 {
		if at, ok := s.TableExprs[0].(*my.AliasedTableExpr); !ok || len(s.TableExprs) != 1 {
			return "cannot tell which table the DELETE changes"
		} else if _, ok := at.Expr.(my.TableName); !ok {
			return "the target is not a table"
		}
		for _, ref := range tables {
			myClauses(a).targets = []mysqlTarget{{ref: ref, qual: mysqlQual(ref)}}
			return ""
		}
	}
	for _, tn := range s.Targets {
		name := tn.Name.String()
		if !tn.Qualifier.IsEmpty() {
			name = tn.Qualifier.String() + "." + name
		}
		ref, ok := tables[name]
		if !ok {
			return "DELETE names " + name + ", which is not among the statement's tables"
		}
		myClauses(a).targets = append(myClauses(a).targets, mysqlTarget{ref: ref, qual: mysqlQual(ref)})
	}
	return ""
}

func countParams(toks []token) int {
	n := 0
	for _, t := range toks {
		if t.kind == tokParam {
			n++
		}
	}
	return n
}

func kindName(k stmtKind) string {
	switch k {
	case kindInsert:
		return "INSERT"
	case kindUpdate:
		return "UPDATE"
	case kindDelete:
		return "DELETE"
	}
	return "statement"
}

// myClauses is the MySQL reading of a write analysed by analyseMySQL.
func myClauses(a *analysis) *mysqlClauses {
	c, _ := a.ext.(*mysqlClauses)
	return c
}
