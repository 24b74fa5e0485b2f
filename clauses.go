package sqlaudit

// sliceClauses cuts the SET, WHERE, RETURNING and INSERT body texts out of
// a.text at their top-level keywords. The lexer guarantees that keywords
// inside strings, comments and parentheses are never taken for clauses; the
// parse tree is the cross-check: when the slices disagree with it, the
// statement is refused rather than risk a mis-read predicate. It returns the
// reason for refusing, or "".
func sliceClauses(a *analysis, toks []token) string {
	q := a.text
	find := func(from int, word string) int {
		for i := from; i < len(toks); i++ {
			if toks[i].depth == 0 && toks[i].is(q, word) {
				return i
			}
		}
		return -1
	}
	// between is the text of toks[from:to], without the comments around it:
	// a trailing "-- comment" would swallow whatever the rewrite appends.
	between := func(from, to int) string {
		if from >= to {
			return ""
		}
		return q[toks[from].start:toks[to-1].end]
	}
	end := len(toks)
	if ret := find(1, "RETURNING"); ret >= 0 {
		a.returningText = between(ret+1, len(toks))
		end = ret
	}
	where := -1
	switch a.kind {
	case kindUpdate:
		set := updateSetIndex(a, toks)
		if set < 0 || set > end {
			return "cannot locate the SET clause"
		}
		setEnd := end
		if where = find(set+1, "WHERE"); where >= 0 && where < end {
			setEnd = where
		}
		if hasTopLevelFrom(q, toks[set+1:setEnd]) {
			return "cannot separate the SET clause from a FROM clause"
		}
		a.setText = between(set+1, setEnd)
	case kindDelete:
		where = find(1, "WHERE")
	case kindInsert:
		body := insertBodyStart(q, toks)
		if body < 0 || body >= end {
			return "cannot locate the inserted rows"
		}
		a.insertBody = between(body, end)
	}
	if where >= 0 && where < end {
		a.whereText = between(where+1, end)
	}
	if (a.whereText != "") != a.treeWhere || (a.returningText != "") != a.treeReturning {
		return "the clauses found by the lexer disagree with the parse tree"
	}
	return ""
}

// hasTopLevelFrom reports a FROM keyword at depth 0 that is not part of
// IS [NOT] DISTINCT FROM.
func hasTopLevelFrom(q string, toks []token) bool {
	for i, t := range toks {
		if t.depth == 0 && t.is(q, "FROM") && (i == 0 || !toks[i-1].is(q, "DISTINCT")) {
			return true
		}
	}
	return false
}

// updateSetIndex returns the index of the SET keyword of
// UPDATE [OR x] [ONLY] name[.name…] [*] [[AS] alias] SET, or -1. The tree
// says whether ONLY and an alias are there, so a table, schema or alias
// named "set" is never taken for the keyword.
func updateSetIndex(a *analysis, toks []token) int {
	q := a.text
	i := 1
	if a.orIgnore && i+1 < len(toks) && toks[i].is(q, "OR") { // SQLite's UPDATE OR IGNORE
		i += 2
	}
	if a.table.only && i < len(toks) && toks[i].is(q, "ONLY") {
		i++
	}
	i = skipQualifiedName(q, toks, i)
	if i < len(toks) && toks[i].text(q) == "*" {
		i++
	}
	if a.table.alias != "" {
		if i < len(toks) && toks[i].is(q, "AS") {
			i++
		}
		i++
	}
	if i < len(toks) && toks[i].is(q, "SET") {
		return i
	}
	return -1
}

// skipQualifiedName returns the index after name[.name…] starting at i.
func skipQualifiedName(q string, toks []token, i int) int {
	for i < len(toks) && (toks[i].kind == tokWord || toks[i].kind == tokIdent) {
		i++
		if i < len(toks) && toks[i].kind == tokPunct && toks[i].text(q) == "." {
			i++
			continue
		}
		break
	}
	return i
}

// insertBodyStart returns the index of the first token after
// INSERT INTO name[.name…] [AS alias].
func insertBodyStart(q string, toks []token) int {
	i := 0
	for i < len(toks) && !toks[i].is(q, "INTO") {
		i++
	}
	i = skipQualifiedName(q, toks, i+1)
	if i+1 < len(toks) && toks[i].is(q, "AS") {
		i += 2
	}
	if i >= len(toks) {
		return -1
	}
	return i
}
