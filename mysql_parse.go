package sqlaudit

import (
	"fmt"
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
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
	ref  sqlstmt.TableRef
	qual string   // how the statement names it: its alias, or its name as written
	set  []string // UPDATE: the columns assigned in it
}

// mysqlModifiers are the words MariaDB allows between a verb and its table;
// the grammar reads few of them, so they are cut before parsing.
var mysqlModifiers = map[string]bool{"LOW_PRIORITY": true, "QUICK": true, "IGNORE": true, "DELAYED": true, "HIGH_PRIORITY": true}

// analyseMySQL reads a statement for the MySQL dialect.
func analyseMySQL(q string) *sqlstmt.Analysis {
	toks := sqlstmt.Lex(q, sqlstmt.StyleMySQL)
	stmts := sqlstmt.SplitStatements(toks)
	switch len(stmts) {
	case 0:
		return &sqlstmt.Analysis{Kind: sqlstmt.PassThrough, Text: q}
	case 1:
		if text := mysqlSlice(q, stmts[0]); text != "" {
			return analyseMySQLOne(text)
		}
		return sqlstmt.Refused(q, "a statement the MySQL lexer cannot cut out of its text unchanged (a trailing \"--\")")
	}
	a := &sqlstmt.Analysis{Kind: sqlstmt.PassThrough, Text: q}
	for _, st := range stmts {
		one := analyseMySQLOne(mysqlSlice(q, st))
		a.EndsTx = a.EndsTx || one.EndsTx || one.BeginsTx
		a.ResetsSession = a.ResetsSession || one.ResetsSession
		switch one.Kind {
		case sqlstmt.DDL:
			a.Kind = sqlstmt.DDL
		case sqlstmt.TxControl, sqlstmt.PassThrough:
		default:
			return sqlstmt.Refused(q, "several statements in one string, at least one of them writes; send them one at a time")
		}
	}
	return a
}

// mysqlSlice is one statement's text without the blanks and comments
// around it. Cut out, the text must lex to the same tokens: "--" reads as
// a comment at the end of a text but not before "#" ("--#0").
func mysqlSlice(q string, st []sqlstmt.Token) string {
	text := q[st[0].Start:st[len(st)-1].End]
	toks := sqlstmt.Lex(text, sqlstmt.StyleMySQL)
	if len(toks) != len(st) {
		return "" // analysed as unreadable
	}
	for i, t := range toks {
		if t.Text(text) != st[i].Text(q) {
			return ""
		}
	}
	return text
}

func analyseMySQLOne(q string) *sqlstmt.Analysis {
	toks := sqlstmt.Lex(q, sqlstmt.StyleMySQL)
	if len(toks) == 0 { // a part mysqlSlice could not cut out
		return sqlstmt.Refused(q, "a statement the MySQL lexer cannot cut out of its text unchanged (a trailing \"--\")")
	}
	first := strings.ToUpper(toks[0].Text(q))
	for _, t := range toks {
		if t.Kind == sqlstmt.TokExecComment && first != "SELECT" && first != "SHOW" && first != "SET" {
			return sqlstmt.Refused(q, "executable comments (/*! … */) hold SQL the wrapper cannot read")
		}
	}
	second := ""
	if len(toks) > 1 {
		second = strings.ToUpper(toks[1].Text(q))
	}
	switch first {
	case "INSERT", "REPLACE", "UPDATE", "DELETE":
		return analyseMySQLWrite(q, toks)
	case "BEGIN", "START":
		if first == "BEGIN" || second == "TRANSACTION" {
			return &sqlstmt.Analysis{Kind: sqlstmt.TxControl, Text: q, BeginsTx: true}
		}
	case "COMMIT":
		return &sqlstmt.Analysis{Kind: sqlstmt.TxControl, Text: q, EndsTx: true}
	case "ROLLBACK":
		for _, t := range toks[1:] {
			if t.Is(q, "TO") {
				return &sqlstmt.Analysis{Kind: sqlstmt.PassThrough, Text: q}
			}
		}
		return &sqlstmt.Analysis{Kind: sqlstmt.TxControl, Text: q, EndsTx: true}
	case "SET", "USE":
		return mysqlSet(q, first, second)
	case "TRUNCATE":
		return sqlstmt.Refused(q, "TRUNCATE removes rows unseen (it is DDL in MySQL); use DELETE", mysqlDDLTable(q, toks))
	case "LOCK", "UNLOCK":
		return &sqlstmt.Analysis{Kind: sqlstmt.PassThrough, Text: q, EndsTx: true} // commits implicitly
	case "LOAD", "WITH", "EXECUTE", "ANALYZE":
		if first != "ANALYZE" || second == "UPDATE" || second == "DELETE" || second == "INSERT" || second == "REPLACE" {
			return sqlstmt.Refused(q, first+" statements may change rows the wrapper cannot see")
		}
	case "CREATE", "ALTER", "DROP", "RENAME", "GRANT", "REVOKE", "OPTIMIZE", "REPAIR":
		// DDL commits the open transaction implicitly.
		return &sqlstmt.Analysis{Kind: sqlstmt.DDL, Text: q, EndsTx: true}
	}
	return &sqlstmt.Analysis{Kind: sqlstmt.PassThrough, Text: q}
}

// mysqlSet: sql_mode, autocommit and the default database change what the
// wrapper must know, so the catalog is read again, with them; other SETs
// (user variables, SET NAMES, time_zone …) keep it — reading it costs tens
// of milliseconds. SET STATEMENT … FOR runs a statement of its own.
func mysqlSet(q, first, second string) *sqlstmt.Analysis {
	lower := strings.ToLower(q)
	switch {
	case first == "SET" && second == "STATEMENT":
		return sqlstmt.Refused(q, "SET STATEMENT … FOR runs a statement the wrapper does not see")
	case first == "USE" || strings.Contains(lower, "sql_mode") || strings.Contains(lower, "autocommit"):
		return &sqlstmt.Analysis{Kind: sqlstmt.PassThrough, Text: q, ResetsSession: true, EndsTx: strings.Contains(lower, "autocommit")}
	}
	return &sqlstmt.Analysis{Kind: sqlstmt.PassThrough, Text: q}
}

// mysqlDDLTable names the table of TRUNCATE [TABLE] t, so that TRUNCATE of
// an excluded table runs.
func mysqlDDLTable(q string, toks []sqlstmt.Token) sqlstmt.TableRef {
	i := 1
	if i < len(toks) && toks[i].Is(q, "TABLE") {
		i++
	}
	ref, _ := mysqlTableName(q, toks, i)
	return ref
}

// mysqlTableName reads [schema.]name at toks[i], returning the index after it.
func mysqlTableName(q string, toks []sqlstmt.Token, i int) (sqlstmt.TableRef, int) {
	name := func(t sqlstmt.Token) string {
		s := t.Text(q)
		if t.Kind == sqlstmt.TokIdent {
			return strings.ReplaceAll(s[1:len(s)-1], "``", "`")
		}
		return s
	}
	if i >= len(toks) {
		return sqlstmt.TableRef{}, i
	}
	ref := sqlstmt.TableRef{Name: name(toks[i])}
	if i+2 < len(toks) && toks[i+1].Text(q) == "." {
		ref = sqlstmt.TableRef{Schema: ref.Name, Name: name(toks[i+2])}
		i += 2
	}
	return ref, i + 1
}

// analyseMySQLWrite reads INSERT, REPLACE, UPDATE and DELETE.
func analyseMySQLWrite(q string, toks []sqlstmt.Token) *sqlstmt.Analysis {
	// An unterminated string, identifier or comment would swallow what the
	// plan appends (the grammar's own tokenizer may not notice it).
	if end := sqlstmt.Lex(q+"\n0", sqlstmt.StyleMySQL); end[len(end)-1].Text(q+"\n0") != "0" {
		return sqlstmt.Refused(q, "an unterminated string, quoted identifier or comment")
	}
	c := &mysqlClauses{returningAt: len(q), whereSpan: [2]int{-1, -1}}
	end := len(toks)
	for i, t := range toks {
		if t.Depth == 0 && t.Is(q, "RETURNING") {
			c.returningAt, end = t.Start, i
			break
		}
	}
	// The grammar reads the statement without RETURNING and modifiers.
	body := q[:c.returningAt]
	verbEnd := 1
	for verbEnd < end && toks[verbEnd].Kind == sqlstmt.TokWord && mysqlModifiers[strings.ToUpper(toks[verbEnd].Text(q))] {
		c.ignore = c.ignore || toks[verbEnd].Is(q, "IGNORE")
		verbEnd++
	}
	parseText := body
	if verbEnd > 1 {
		parseText = q[:toks[0].End] + " " + q[toks[verbEnd-1].End:c.returningAt]
	}
	stmt, err := my.Parse(parseText)
	if err != nil {
		return sqlstmt.Refused(q, fmt.Sprintf("the MySQL parser cannot read it (%v)", err))
	}
	a := &sqlstmt.Analysis{Text: q, Ext: c, NumParams: countParams(toks)}
	if c.returningAt < len(q) {
		a.Returning = strings.TrimSpace(q[toks[end].End:])
	}
	switch s := stmt.(type) {
	case *my.Insert:
		return mysqlInsert(a, s, q, toks)
	case *my.Update:
		a.Kind = sqlstmt.Update
		for _, e := range s.Exprs {
			a.SetColumns = append(a.SetColumns, e.Name.Name.String())
		}
		if reason := mysqlUpdateTargets(a, s); reason != "" {
			return sqlstmt.Refused(q, reason)
		}
		return mysqlChange(a, s.Where != nil, len(s.OrderBy) > 0 || s.Limit != nil, q, toks[:end], verbEnd)
	case *my.Delete:
		a.Kind = sqlstmt.Delete
		if reason := mysqlDeleteTargets(a, s); reason != "" {
			return sqlstmt.Refused(q, reason)
		}
		return mysqlChange(a, s.Where != nil, len(s.OrderBy) > 0 || s.Limit != nil, q, toks[:end], verbEnd)
	}
	return sqlstmt.Refused(q, fmt.Sprintf("the MySQL parser read it as %T", stmt))
}

func mysqlInsert(a *sqlstmt.Analysis, s *my.Insert, q string, toks []sqlstmt.Token) *sqlstmt.Analysis {
	a.Kind, a.OrIgnore = sqlstmt.Insert, myClauses(a).ignore || s.Ignore != ""
	a.Table = sqlstmt.TableRef{Schema: s.Table.Qualifier.String(), Name: s.Table.Name.String()}
	for _, col := range s.Columns {
		myClauses(a).insertCols = append(myClauses(a).insertCols, col.String())
	}
	if s.Action == my.ReplaceStr {
		return sqlstmt.Refused(q, "REPLACE deletes conflicting rows; it is not supported yet", a.Table)
	}
	if len(s.OnDup) == 0 {
		return a
	}
	// ON DUPLICATE KEY UPDATE: the plan puts its own assignment first.
	a.Upsert = true
	for _, e := range s.OnDup {
		switch keep, lii := mysqlKeeps(e); {
		case lii:
			myClauses(a).setsLastInsertID = true
		case keep: // `id` = `id`: GORM's DO NOTHING; it changes no column
		default:
			a.SetColumns = append(a.SetColumns, e.Name.Name.String())
		}
	}
	for i := 0; i+3 < len(toks); i++ {
		if toks[i].Depth == 0 && toks[i].Is(q, "ON") && toks[i+1].Is(q, "DUPLICATE") && toks[i+2].Is(q, "KEY") && toks[i+3].Is(q, "UPDATE") {
			myClauses(a).dupAt = toks[i+3].End
			myClauses(a).setArgs = countParams(toks[:i])
			return a
		}
	}
	return sqlstmt.Refused(q, "cannot locate ON DUPLICATE KEY UPDATE", a.Table)
}

// mysqlChange slices a single-table UPDATE or DELETE: the table reference,
// SET, WHERE and the ORDER BY / LIMIT tail, counting the placeholders of each.
func mysqlChange(a *sqlstmt.Analysis, hasWhere, hasOrder bool, q string, toks []sqlstmt.Token, verbEnd int) *sqlstmt.Analysis {
	c := myClauses(a)
	a.Table = c.targets[0].ref
	if len(c.targets) > 1 {
		for _, tg := range c.targets {
			a.Tables = append(a.Tables, tg.ref)
		}
	}
	find := func(from int, word string) int {
		for i := from; i < len(toks); i++ {
			if toks[i].Depth == 0 && toks[i].Is(q, word) {
				return i
			}
		}
		return -1
	}
	tableStart := verbEnd
	if a.Kind == sqlstmt.Delete {
		if tableStart = find(verbEnd, "FROM") + 1; tableStart == 0 {
			return sqlstmt.Refused(q, "cannot find FROM", a.Table)
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
	tableEnd := sqlstmt.FirstOf(where, tail)
	if a.Kind == sqlstmt.Update {
		if tableEnd = find(tableStart, "SET"); tableEnd < 0 {
			return sqlstmt.Refused(q, "cannot locate the SET clause", a.Table)
		}
		c.setArgs = countParams(toks[tableEnd:sqlstmt.FirstOf(where, tail)])
	}
	if tableEnd <= tableStart || (where >= 0) != hasWhere || (tail < len(toks)) != hasOrder || where == len(toks)-1 {
		return sqlstmt.Refused(q, "the clauses found by the lexer disagree with the parse tree", a.Table)
	}
	c.tableText = q[toks[tableStart].Start:toks[tableEnd-1].End]
	c.beforeWhere = countParams(toks[:sqlstmt.FirstOf(where, tail)])
	c.restrictAt = toks[sqlstmt.FirstOf(where, tail)-1].End
	if where >= 0 {
		c.whereSpan = [2]int{toks[where+1].Start, toks[tail-1].End}
		c.where = q[c.whereSpan[0]:c.whereSpan[1]]
		c.whereArgs = countParams(toks[where:tail])
	}
	if tail < len(toks) {
		c.order = q[toks[tail].Start:toks[len(toks)-1].End]
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
func mysqlTables(exprs my.TableExprs) map[string]sqlstmt.TableRef {
	out := map[string]sqlstmt.TableRef{}
	my.Walk(func(n my.SQLNode) (bool, error) { //nolint:errcheck // the visitor never fails
		at, ok := n.(*my.AliasedTableExpr)
		if !ok {
			return true, nil
		}
		if tn, ok := at.Expr.(my.TableName); ok {
			ref := sqlstmt.TableRef{Schema: tn.Qualifier.String(), Name: tn.Name.String(), Alias: at.As.String()}
			if ref.Alias != "" {
				out[ref.Alias] = ref
			} else {
				out[ref.Name] = ref
				out[ref.Schema+"."+ref.Name] = ref
			}
		}
		return false, nil
	}, exprs)
	return out
}

// mysqlQual is how a statement qualifies the columns of ref.
func mysqlQual(ref sqlstmt.TableRef) string {
	if ref.Alias != "" {
		return mysqlIdent(ref.Alias)
	}
	return mysqlSpelled(sqlstmt.TableRef{Schema: ref.Schema, Name: ref.Name})
}

// mysqlUpdateTargets: a single-table UPDATE changes its table; a
// multi-table one the tables its (qualified) SET columns name.
func mysqlUpdateTargets(a *sqlstmt.Analysis, s *my.Update) string {
	tables := mysqlTables(s.TableExprs)
	if at, ok := s.TableExprs[0].(*my.AliasedTableExpr); ok && len(s.TableExprs) == 1 {
		if _, ok := at.Expr.(my.TableName); !ok {
			return "the target is not a table"
		}
		for _, ref := range tables {
			myClauses(a).targets = []mysqlTarget{{ref: ref, qual: mysqlQual(ref), set: a.SetColumns}}
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
func mysqlDeleteTargets(a *sqlstmt.Analysis, s *my.Delete) string {
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

func countParams(toks []sqlstmt.Token) int {
	n := 0
	for _, t := range toks {
		if t.Kind == sqlstmt.TokParam {
			n++
		}
	}
	return n
}

// myClauses is the MySQL reading of a write analysed by analyseMySQL.
func myClauses(a *sqlstmt.Analysis) *mysqlClauses {
	c, _ := a.Ext.(*mysqlClauses)
	return c
}
