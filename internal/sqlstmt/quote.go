package sqlstmt

import "strings"

// spelled is the table as the statement named it, quoted: the rewritten
// statement names it the same way, so it resolves to the same table.
func (r TableRef) Spelled() string {
	if r.Schema != "" {
		return QuoteIdent(r.Schema) + "." + QuoteIdent(r.Name)
	}
	return QuoteIdent(r.Name)
}

// quoteIdent quotes an identifier for PostgreSQL and SQLite alike.
func QuoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// quoteLiteral quotes a string literal; the doubled-quote form reads the same
// in SQLite and in PostgreSQL with standard_conforming_strings (the default
// since 9.1), and PostgreSQL's E” form is used where backslashes occur.
func QuoteLiteral(s string, backslashE bool) string {
	q := "'" + strings.ReplaceAll(s, "'", "''") + "'"
	if backslashE && strings.Contains(s, `\`) {
		q = "E" + strings.ReplaceAll(q, `\`, `\\`)
	}
	return q
}
