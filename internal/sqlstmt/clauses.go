package sqlstmt

// sliceClauses cuts the SET, WHERE, RETURNING and INSERT body texts out of
// a.text at their top-level keywords. The lexer guarantees that keywords
// inside strings, comments and parentheses are never taken for clauses; the
// parse tree is the cross-check: when the slices disagree with it, the
// statement is refused rather than risk a mis-read predicate. It returns the
// reason for refusing, or "".
func sliceClauses(a *Analysis, toks []Token) string {
	q := a.Text
	find := func(from int, words ...string) int {
		for i := from; i < len(toks); i++ {
			for _, w := range words {
				if toks[i].Depth == 0 && toks[i].Is(q, w) {
					return i
				}
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
		return q[toks[from].Start:toks[to-1].End]
	}
	start := 0 // the UPDATE, DELETE or INSERT keyword
	if toks[0].Is(q, "WITH") {
		if start = find(1, "UPDATE", "DELETE", "INSERT", "MERGE"); start < 0 {
			return "cannot find the statement after its WITH clause"
		}
		a.With = between(1, start)
	}
	end := len(toks)
	if ret := find(start+1, "RETURNING"); ret >= 0 {
		a.Returning = between(ret+1, len(toks))
		end = ret
	}
	where := -1
	switch a.Kind {
	case Update:
		set := updateSetIndex(a, toks, start)
		if set < 0 || set > end {
			return "cannot locate the SET clause"
		}
		setEnd := end
		if where = find(set+1, "WHERE"); where >= 0 && where < end {
			setEnd = where
		}
		if from := topLevelFrom(q, toks, set+1, setEnd); from >= 0 {
			a.From = between(from+1, setEnd)
			setEnd = from
		}
		a.Set = between(set+1, setEnd)
	case Delete:
		where = find(start+1, "WHERE")
		if using := find(start+1, "USING"); using >= 0 && using < end {
			a.From = between(using+1, FirstOf(where, end))
		}
	case Merge:
		a.MergeBody = between(start, end)
	case Insert:
		body := insertBodyStart(q, toks, start)
		if body < 0 || body >= end {
			return "cannot locate the inserted rows"
		}
		a.InsertBody = between(body, end)
		if reason := sliceConflict(a, toks, body, end); reason != "" {
			return reason
		}
	}
	if where >= 0 && where < end {
		a.Where = between(where+1, end)
	}
	if (a.Where != "") != a.treeWhere || (a.Returning != "") != a.treeReturning ||
		(a.With != "") != a.treeWith || (a.From != "") != a.treeFrom {
		return "the clauses found by the lexer disagree with the parse tree"
	}
	return ""
}

// sliceConflict cuts an upsert's body at its DO UPDATE's WHERE: the
// rewrite adds a condition of its own there.
func sliceConflict(a *Analysis, toks []Token, body, end int) string {
	if !a.Upsert {
		return ""
	}
	q := a.Text
	do := -1
	for i := body; i+1 < end; i++ {
		if toks[i].Depth == 0 && toks[i].Is(q, "DO") && toks[i+1].Is(q, "UPDATE") {
			do = i
			break
		}
	}
	if do < 0 {
		return "cannot locate ON CONFLICT … DO UPDATE"
	}
	setEnd := end
	for i := do + 2; i+1 < end; i++ {
		if toks[i].Depth == 0 && toks[i].Is(q, "WHERE") {
			setEnd = i
			a.ConflictWhere = q[toks[i+1].Start:toks[end-1].End]
			break
		}
	}
	a.ConflictSet = q[toks[body].Start:toks[setEnd-1].End]
	if (a.ConflictWhere != "") != a.treeConflictWhere {
		return "the clauses found by the lexer disagree with the parse tree"
	}
	return ""
}

// firstOf returns i when it is a found index (>= 0) before end, else end.
func FirstOf(i, end int) int {
	if i >= 0 && i < end {
		return i
	}
	return end
}

// topLevelFrom returns the index of the first FROM keyword at depth 0 in
// toks[from:to] that is not part of IS [NOT] DISTINCT FROM, or -1.
func topLevelFrom(q string, toks []Token, from, to int) int {
	for i := from; i < to; i++ {
		if toks[i].Depth == 0 && toks[i].Is(q, "FROM") && !toks[i-1].Is(q, "DISTINCT") {
			return i
		}
	}
	return -1
}

// updateSetIndex returns the index of the SET keyword of
// UPDATE [OR x] [ONLY] name[.name…] [*] [[AS] alias] SET, or -1. The tree
// says whether ONLY and an alias are there, so a table, schema or alias
// named "set" is never taken for the keyword.
func updateSetIndex(a *Analysis, toks []Token, start int) int {
	q := a.Text
	i := start + 1
	if a.orClause && i+1 < len(toks) && toks[i].Is(q, "OR") { // SQLite's UPDATE OR IGNORE, OR REPLACE …
		i += 2
	}
	if a.Table.Only && i < len(toks) && toks[i].Is(q, "ONLY") {
		i++
	}
	i = skipQualifiedName(q, toks, i)
	if i < len(toks) && toks[i].Text(q) == "*" {
		i++
	}
	if a.Table.Alias != "" {
		if i < len(toks) && toks[i].Is(q, "AS") {
			i++
		}
		i++
	}
	if i < len(toks) && toks[i].Is(q, "SET") {
		return i
	}
	return -1
}

// skipQualifiedName returns the index after name[.name…] starting at i.
func skipQualifiedName(q string, toks []Token, i int) int {
	for i < len(toks) && (toks[i].Kind == TokWord || toks[i].Kind == TokIdent) {
		i++
		if i < len(toks) && toks[i].Kind == TokPunct && toks[i].Text(q) == "." {
			i++
			continue
		}
		break
	}
	return i
}

// insertBodyStart returns the index of the first token after
// INSERT INTO name[.name…] [AS alias], starting at the INSERT keyword.
func insertBodyStart(q string, toks []Token, start int) int {
	i := start
	for i < len(toks) && !toks[i].Is(q, "INTO") {
		i++
	}
	i = skipQualifiedName(q, toks, i+1)
	if i+1 < len(toks) && toks[i].Is(q, "AS") {
		i += 2
	}
	if i >= len(toks) {
		return -1
	}
	return i
}
