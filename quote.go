package sqlaudit

import "strings"

// spelled is the table as the statement named it, quoted: the rewritten
// statement names it the same way, so it resolves to the same table.
func (r tableRef) spelled() string {
	if r.schema != "" {
		return quoteIdent(r.schema) + "." + quoteIdent(r.name)
	}
	return quoteIdent(r.name)
}

// quoteIdent quotes an identifier for PostgreSQL and SQLite alike.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// quoteLiteral quotes a string literal; the doubled-quote form reads the same
// in SQLite and in PostgreSQL with standard_conforming_strings (the default
// since 9.1), and PostgreSQL's E” form is used where backslashes occur.
func quoteLiteral(s string, backslashE bool) string {
	q := "'" + strings.ReplaceAll(s, "'", "''") + "'"
	if backslashE && strings.Contains(s, `\`) {
		q = "E" + strings.ReplaceAll(q, `\`, `\\`)
	}
	return q
}
