package sqlitedialect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// How a row becomes record JSON, in the triggers (from OLD and NEW) and in
// the staged flush (from the staging table's copies of the same values).
// Both render with the same SQL functions in the same shapes, so a record
// reads the same whichever way it was written.

// liteChanged is true when column c's stored value changed between OLD and
// NEW: compared byte for byte (COLLATE BINARY, whatever the column's
// collation: NOCASE and RTRIM columns would call 'a' and 'A ' equal), and,
// in a column without affinity, by storage class (IS calls integer 1 and
// real 1.0 equal, which only such a column stores apart; see storesAsGiven).
func liteChanged(t *engine.TableInfo, c string) string {
	o, n := "OLD."+sqlstmt.QuoteIdent(c), "NEW."+sqlstmt.QuoteIdent(c)
	if e, _ := t.Ext.(liteTable); e.Loose != nil && !e.Loose[c] {
		return "(" + o + " IS NOT " + n + " COLLATE BINARY)"
	}
	return "(" + o + " IS NOT " + n + " COLLATE BINARY OR typeof(" + o + ") <> typeof(" + n + "))"
}

// liteDiff renders the changed columns of side (OLD or NEW) as a JSON
// object, the members concatenated (concat_ws skips the unchanged ones'
// NULLs): cheaper per row than json_remove of a whole image.
func liteDiff(t *engine.TableInfo, side string) string {
	parts := make([]string, 0, len(t.Columns))
	for _, c := range t.Columns {
		parts = append(parts, "CASE WHEN "+liteChanged(t, c)+" THEN "+
			sqlstmt.QuoteLiteral(jsonKey(c)+":", false)+" || json_quote("+jsonValue(t, side, c, true)+") END")
	}
	return "'{' || concat_ws(',', " + strings.Join(parts, ", ") + ") || '}'"
}

// jsonKey is a column name as a JSON string, as json_object writes it.
func jsonKey(col string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(col) //nolint:errcheck // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// redacted reports a column whose values the records mask.
func redacted(t *engine.TableInfo, col string) bool {
	for _, r := range t.Redact {
		if r == col {
			return true
		}
	}
	return false
}

// jsonValue renders a column for json_object, which refuses BLOBs: those are
// recorded as hex text. A redacted column renders as RedactedValue, except
// in a row key, which identifies the row.
func jsonValue(t *engine.TableInfo, alias, col string, redact bool) string {
	if redact && redacted(t, col) {
		return sqlstmt.QuoteLiteral(engine.RedactedValue, false)
	}
	v := sqlstmt.QuoteIdent(col)
	if alias != "" {
		v = alias + "." + v
	}
	// A text value made by json() or json_set() keeps its JSON subtype in
	// NEW and OLD, and json_object would embed it as JSON: || '' leaves the
	// stored text, which is what the record shows.
	return "CASE typeof(" + v + ") WHEN 'blob' THEN hex(" + v + ") WHEN 'text' THEN " + v + " || '' ELSE " + v + " END"
}

// jsonObject renders the columns cols of a row; a row key (redact false)
// is never masked.
func jsonObject(t *engine.TableInfo, alias string, cols []string, redact bool) string {
	parts := make([]string, 0, 2*len(cols))
	for _, c := range cols {
		parts = append(parts, sqlstmt.QuoteLiteral(c, false), jsonValue(t, alias, c, redact))
	}
	return "json_object(" + strings.Join(parts, ", ") + ")"
}

// The staged forms read a staging row s (stage.go): slot v<n> holds a
// value as stored (a table keeps no JSON subtype, so text needs no || ''),
// m<n> the changed-column bits of an UPDATE.

// stagedValue renders the value in slot for json_object.
func stagedValue(slot string) string {
	return "CASE typeof(" + slot + ") WHEN 'blob' THEN hex(" + slot + ") ELSE " + slot + " END"
}

// stagedImage renders columns cols of a staged side as json_object does.
func stagedImage(st *stagedTable, side int, cols []string, redact bool) string {
	parts := make([]string, 0, 2*len(cols))
	for _, c := range cols {
		v := sqlstmt.QuoteLiteral(engine.RedactedValue, false)
		if !redact || !redacted(st.t, c) {
			v = stagedValue(st.slot(side, c))
		}
		parts = append(parts, sqlstmt.QuoteLiteral(c, false), v)
	}
	return "json_object(" + strings.Join(parts, ", ") + ")"
}

// stagedKey renders the row key: of NEW for an INSERT, else of OLD; both
// are staged on the old side (stageInsert).
func stagedKey(st *stagedTable) string {
	parts := make([]string, 0, 2*len(st.t.Key))
	for _, c := range st.t.Key {
		parts = append(parts, sqlstmt.QuoteLiteral(c, false), stagedValue(st.slot(sideOld, c)))
	}
	return "json_object(" + strings.Join(parts, ", ") + ")"
}

// stagedDiff renders the changed columns of a staged UPDATE's side, as
// liteDiff does from OLD and NEW.
func stagedDiff(st *stagedTable, side int) string {
	parts := make([]string, 0, len(st.t.Columns))
	for i, c := range st.t.Columns {
		v := sqlstmt.QuoteLiteral(engine.RedactedValue, false)
		if !redacted(st.t, c) {
			v = stagedValue(st.slot(side, c))
		}
		parts = append(parts, fmt.Sprintf("CASE WHEN s.m%d & %d THEN %s || json_quote(%s) END",
			i/maskBits+1, int64(1)<<(i%maskBits), sqlstmt.QuoteLiteral(jsonKey(c)+":", false), v))
	}
	return "'{' || concat_ws(',', " + strings.Join(parts, ", ") + ") || '}'"
}

// maskBits is how many columns one mask value holds (an int64, its sign
// bit left alone).
const maskBits = 62

// liteMasks are the expressions of an UPDATE's changed-column bits, one per
// maskBits columns.
func liteMasks(t *engine.TableInfo) []string {
	var out []string
	for from := 0; from < len(t.Columns); from += maskBits {
		var terms []string
		for i := from; i < min(from+maskBits, len(t.Columns)); i++ {
			terms = append(terms, fmt.Sprintf("%d * %s", int64(1)<<(i%maskBits), liteChanged(t, t.Columns[i])))
		}
		out = append(out, balanced(" + ", terms))
	}
	return out
}

// balanced joins terms with a binary operator as a balanced tree: SQLite
// parses and codes expressions recursively, and a chain of a few hundred
// terms overflows the stack of ncruces's Wasm build (its heap is then
// corrupt); a tree is as deep as the logarithm.
func balanced(op string, terms []string) string {
	switch len(terms) {
	case 0:
		return ""
	case 1:
		return terms[0]
	}
	mid := len(terms) / 2
	return "(" + balanced(op, terms[:mid]) + op + balanced(op, terms[mid:]) + ")"
}
