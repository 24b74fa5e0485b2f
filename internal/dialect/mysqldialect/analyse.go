package mysqldialect

import (
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// mysqlModifiers are the words MariaDB allows between a verb and its table;
// the grammar reads few of them, so they are cut before parsing.
var mysqlModifiers = map[string]bool{"LOW_PRIORITY": true, "QUICK": true, "IGNORE": true, "DELAYED": true, "HIGH_PRIORITY": true}

// analyseMySQL reads a statement for the MySQL dialect.
func analyseMySQL(q string) *sqlstmt.Analysis {
	toks := sqlstmt.Lex(q, sqlstmt.StyleMySQL)
	stmts := sqlstmt.SplitStatements(toks)
	for _, st := range stmts {
		if mysqlCompound(q, st) {
			return sqlstmt.Refused(q, "a compound statement (BEGIN NOT ATOMIC … END, IF, CASE, LOOP, WHILE, REPEAT, FOR) runs its statements inside the server, unseen by the wrapper; send them one at a time")
		}
	}
	switch len(stmts) {
	case 0:
		return &sqlstmt.Analysis{Kind: sqlstmt.PassThrough, Text: q}
	case 1:
		if text := mysqlSlice(q, stmts[0]); text != "" {
			return analyseMySQLOne(text)
		}
		return sqlstmt.Refused(q, "a statement the MySQL lexer cannot cut out of its text unchanged (a trailing \"--\")")
	}
	texts := make([]string, len(stmts))
	parts := make([]*sqlstmt.Analysis, len(stmts))
	for i, st := range stmts {
		texts[i] = mysqlSlice(q, st)
		parts[i] = analyseMySQLOne(texts[i])
	}
	return sqlstmt.Combine(q, texts, parts)
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
	case "COMMIT", "ROLLBACK":
		return mysqlTxEnd(q, toks)
	case "XA":
		return mysqlXA(q, second)
	case "CALL":
		return sqlstmt.Refused(q, "CALL runs a stored procedure, whose writes the wrapper cannot see")
	case "PREPARE":
		return sqlstmt.Refused(q, "SQL-level PREPARE … FROM keeps a statement on the server that EXECUTE runs unseen; send the statement itself (go-sql-driver prepares it on the server)")
	case "SET", "USE":
		return mysqlSet(q, first, second)
	case "TRUNCATE":
		return sqlstmt.Refused(q, "TRUNCATE removes rows unseen (it is DDL in MySQL); use DELETE", mysqlDDLTable(q, toks))
	case "LOCK", "UNLOCK":
		return &sqlstmt.Analysis{Kind: sqlstmt.PassThrough, Text: q, EndsTx: true} // commits implicitly
	case "EXECUTE":
		return sqlstmt.Refused(q, "EXECUTE runs SQL text the wrapper cannot see (a PREPAREd statement, or EXECUTE IMMEDIATE); send the statement itself")
	case "LOAD", "WITH", "ANALYZE":
		if first != "ANALYZE" || second == "UPDATE" || second == "DELETE" || second == "INSERT" || second == "REPLACE" {
			return sqlstmt.Refused(q, first+" statements may change rows the wrapper cannot see")
		}
	case "CREATE", "ALTER", "DROP", "RENAME", "GRANT", "REVOKE", "OPTIMIZE", "REPAIR":
		// DDL commits the open transaction implicitly.
		return &sqlstmt.Analysis{Kind: sqlstmt.DDL, Text: q, EndsTx: true}
	}
	return &sqlstmt.Analysis{Kind: sqlstmt.PassThrough, Text: q}
}

// mysqlCompound reports a statement that starts a compound statement: BEGIN
// NOT ATOMIC, a labelled block or loop (lbl: BEGIN …), IF, CASE, LOOP,
// WHILE, REPEAT or FOR. MariaDB runs them outside stored programs too, and
// the lexer would cut them at their inner semicolons.
func mysqlCompound(q string, st []sqlstmt.Token) bool {
	word := func(i int) string {
		if i < len(st) && st[i].Kind == sqlstmt.TokWord {
			return strings.ToUpper(st[i].Text(q))
		}
		return ""
	}
	switch word(0) {
	case "IF", "CASE", "LOOP", "WHILE", "REPEAT", "FOR":
		return true
	case "BEGIN":
		return word(1) == "NOT"
	}
	if len(st) > 2 && st[1].Text(q) == ":" { // lbl: BEGIN …, lbl: LOOP …
		switch word(2) {
		case "BEGIN", "LOOP", "WHILE", "REPEAT", "FOR":
			return true
		}
	}
	return false
}

// mysqlTxEnd reads COMMIT and ROLLBACK. ROLLBACK TO SAVEPOINT leaves the
// transaction open; … AND CHAIN ends it and begins the next one at once.
func mysqlTxEnd(q string, toks []sqlstmt.Token) *sqlstmt.Analysis {
	a := &sqlstmt.Analysis{Kind: sqlstmt.TxControl, Text: q, EndsTx: true}
	for i, t := range toks[1:] {
		switch {
		case t.Is(q, "TO"):
			return &sqlstmt.Analysis{Kind: sqlstmt.PassThrough, Text: q}
		case t.Is(q, "CHAIN") && !toks[i].Is(q, "NO"): // toks[i] is the word before t
			a.BeginsTx = true
		}
	}
	return a
}

// mysqlXA reads XA transaction control: XA START (or BEGIN) opens a
// transaction the wrapper's writes run in (under a savepoint, as in any
// other), XA COMMIT and XA ROLLBACK end it; XA END, PREPARE and RECOVER
// change nothing the wrapper follows.
func mysqlXA(q, second string) *sqlstmt.Analysis {
	switch second {
	case "START", "BEGIN":
		return &sqlstmt.Analysis{Kind: sqlstmt.TxControl, Text: q, BeginsTx: true}
	case "COMMIT", "ROLLBACK":
		return &sqlstmt.Analysis{Kind: sqlstmt.TxControl, Text: q, EndsTx: true}
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
