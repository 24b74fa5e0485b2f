package mysqldialect

import (
	"fmt"
	"strings"

	my "github.com/xwb1989/sqlparser"

	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
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
	// UPDATE, DELETE: the table references join several tables; the
	// predicate is not a deterministic function of the row (see
	// mysqlPredicate), or reads a subquery
	joined, volatile, subquery bool
	insertCols                 []string
	returningAt                int // offset of RETURNING, or len(text)
	dupAt                      int // INSERT … ON DUPLICATE KEY UPDATE: the offset after UPDATE (setArgs: placeholders before it)
	// setsLastInsertID: the upsert assigns c = LAST_INSERT_ID(c)
	setsLastInsertID bool
	fromSelect       bool // INSERT … SELECT (not VALUES or SET)
}

// mysqlTarget is a table an UPDATE or DELETE changes.
type mysqlTarget struct {
	ref  sqlstmt.TableRef
	qual string   // how the statement names it: its alias, or its name as written
	set  []string // UPDATE: the columns assigned in it
}

// analyseMySQLWrite reads INSERT, REPLACE, UPDATE and DELETE.
func analyseMySQLWrite(q string, toks []sqlstmt.Token) *sqlstmt.Analysis {
	// An unterminated string, identifier or comment would swallow what the
	// plan appends (the grammar's own tokenizer may not notice it).
	if end := sqlstmt.Lex(q+"\n0", sqlstmt.StyleMySQL); end[len(end)-1].Text(q+"\n0") != "0" {
		return sqlstmt.Refused(q, "an unterminated string, quoted identifier or comment")
	}
	for i := 1; i+1 < len(toks); i++ {
		switch {
		case i == 1 && toks[i].Is(q, "HISTORY"):
			return sqlstmt.Refused(q, "DELETE HISTORY removes a system-versioned table's history rows, which the trail does not hold; run it under audit_unsupported=warn")
		case toks[i].Depth == 0 && toks[i].Is(q, "FOR") && toks[i+1].Is(q, "PORTION"):
			return sqlstmt.Refused(q, "FOR PORTION OF splits the rows of an application-time period table, inserting the parts outside the portion, which the wrapper does not see; write the rows without it")
		}
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
	parseText = mysqlPlainAssignments(parseText)
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
	_, values := s.Rows.(my.Values)
	myClauses(a).fromSelect = !values
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
		c.volatile, c.subquery = mysqlPredicate(q, toks[where+1:tail])
	}
	if tail < len(toks) {
		c.order = q[toks[tail].Start:toks[len(toks)-1].End]
		c.orderArgs = countParams(toks[tail:])
	}
	from := tail // the predicate and the ORDER BY / LIMIT tail
	if where >= 0 {
		from = where + 1
	}
	if mysqlUnrepeatable(q, toks[from:]) {
		return sqlstmt.Refused(q, "its predicate or ORDER BY assigns a user variable (:=) or steps a sequence (NEXTVAL, NEXT VALUE FOR), which the audited form's copy (an INSERT … SELECT) evaluates otherwise than MariaDB's UPDATE and DELETE do; compute the value first and pass it as an argument (:= in SET is fine)", a.Table)
	}
	if c.volatile && c.subquery {
		// The server re-reads such a subquery for every row of an UPDATE,
		// but the copy's SELECT reads it once to look the row up (and again
		// to check it): it would select other rows.
		return sqlstmt.Refused(q, "its predicate reads a subquery that calls RAND(), NOW() or a function that is not deterministic, which MariaDB evaluates otherwise in the audited form's copy (a SELECT) than in an UPDATE or DELETE; compute the value first and pass it as an argument", a.Table)
	}
	if c.joined && c.volatile {
		// A joined statement's predicate also picks the rows of the other
		// tables its SET reads, so the restricted statement must keep it.
		return sqlstmt.Refused(q, "the predicate of a multi-table statement is not a deterministic function of the rows (it calls RAND(), NOW(), a sequence or a stored function, or assigns a variable), and the audited form would evaluate it twice; compute the value first and pass it as an argument", a.Table)
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
	myClauses(a).joined = true
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
	myClauses(a).joined = true
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
