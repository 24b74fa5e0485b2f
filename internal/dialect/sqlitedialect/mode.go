package sqlitedialect

import (
	"sync/atomic"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// Every audited write runs in one of two capture modes, both exact; they
// differ only in cost:
//   - direct (run.go): the triggers write each record inside the caller's
//     statement. Nothing runs after the statement, so a write of a row or
//     two pays only the context row and its records (measured on 1-row
//     writes: about 1.5–2 × the plain statement, 15–25 µs a record);
//   - staged (staged.go): the triggers copy the rows, and one set-based
//     INSERT writes the records after the statement, in a transaction of
//     the wrapper's own outside one. About 1.5 µs a row cheaper, for some
//     25–35 µs of statements around it.
// A write runs staged when the last run of the same text (the analysis is
// shared by the connector's connections) changed more than stageRows rows,
// or, run for the first time, when it is an INSERT of several rows or of a
// SELECT. Writes that return rows (RETURNING, Query) always run direct: their
// statement stays open while the caller reads.

// stageRows is the row count above which a write is staged: about where
// the statements around a staged write cost what its cheaper rows save.
const stageRows = 24

// liteHint is what the connector learnt of one statement text
// (sqlstmt.Analysis.Ext).
type liteHint struct {
	rows atomic.Int64 // rows the last run changed; -1 before any
	runs atomic.Int64 // runs so far (the alternating test policy)
}

// alternate makes eligible writes alternate between the modes, starting
// staged, so that one test run checks both on every statement shape.
var alternate atomic.Bool

// SetAlternateForTests makes every eligible write alternate between direct
// and staged capture (tests: both modes must give the same results).
func SetAlternateForTests(on bool) { alternate.Store(on) }

// newHint guesses a statement's first mode from its shape.
func newHint(a *sqlstmt.Analysis) *liteHint {
	h := &liteHint{}
	h.rows.Store(-1)
	if a.Kind == sqlstmt.Insert && insertsSeveral(a.InsertBody) {
		h.rows.Store(stageRows + 1)
	}
	return h
}

// insertsSeveral reports an INSERT body (after the table, before
// RETURNING) that may insert more than one row: a SELECT or several VALUES
// rows.
func insertsSeveral(body string) bool {
	toks := sqlstmt.Lex(body, sqlstmt.StyleSQLite)
	i := 0
	if i < len(toks) && toks[i].Text(body) == "(" { // the column list
		for depth := 0; i < len(toks); i++ {
			switch toks[i].Text(body) {
			case "(":
				depth++
			case ")":
				depth--
			}
			if depth == 0 {
				i++
				break
			}
		}
	}
	if i >= len(toks) || !toks[i].Is(body, "VALUES") {
		return i < len(toks) && !toks[i].Is(body, "DEFAULT") // SELECT, WITH …
	}
	depth := 0
	for _, t := range toks[i+1:] {
		switch t.Text(body) {
		case "(":
			depth++
		case ")":
			depth--
		case ",":
			if depth == 0 {
				return true
			}
		}
		if depth == 0 && (t.Is(body, "ON") || t.Is(body, "RETURNING")) {
			return false
		}
	}
	return false
}

// hintOf is the statement's hint (nil for a statement the dialect did not
// analyse itself).
func hintOf(a *sqlstmt.Analysis) *liteHint {
	h, _ := a.Ext.(*liteHint)
	return h
}

// stagedMode decides the mode of ex.
func (lc *liteConn) stagedMode(ex *engine.Execution) bool {
	h := hintOf(ex.Stmt)
	if h == nil || ex.WantRows || ex.Stmt.Returning != "" || lc.stage.tooWide {
		return false
	}
	if alternate.Load() {
		return h.runs.Add(1)%2 == 1
	}
	return h.rows.Load() > stageRows
}

// learn notes how many rows a run of the statement changed.
func learn(a *sqlstmt.Analysis, rows int64) {
	if h := hintOf(a); h != nil {
		h.rows.Store(rows)
	}
}
