package pgdialect

import "strings"

// readingIndexes are the audit table's indexes beyond its primary key, for
// the readers in package trail (measured in BENCHMARKS.md, "Reading the
// trail at scale"): a transaction's records (tx_id), a row's history
// (table_name, row_key: jsonb equality, which also types the key), an
// actor's records newest first (actor, id), and time ranges — a BRIN index,
// nearly free to keep up because occurred_at grows with the table's
// physical order. sqlaudit migrate builds them CONCURRENTLY on a table that
// already has records.
func readingIndexes(table string) []string {
	idx := func(suffix, def string) string {
		return `CREATE INDEX IF NOT EXISTS ` + indexName(table, suffix) + ` ON ` + table + ` ` + def
	}
	return []string{
		idx("tx_idx", "(tx_id)"),
		idx("row_idx", "(table_name, row_key)"),
		idx("actor_idx", "(actor, id)"),
		idx("time_idx", "USING brin (occurred_at)"),
	}
}

// indexName names an index of table (as written: bare or "quoted", maybe
// schema-qualified) by its name and suffix, unqualified (PostgreSQL puts an
// index in its table's schema) and quoted as the table's name is.
func indexName(table, suffix string) string {
	name := lastIdent(table)
	if len(name) >= 2 && strings.HasPrefix(name, `"`) {
		bare := strings.ReplaceAll(name[1:len(name)-1], `""`, `"`)
		return `"` + strings.ReplaceAll(bare+"_"+suffix, `"`, `""`) + `"`
	}
	return name + "_" + suffix
}

// lastIdent is the last dot-separated identifier of a name, quotes kept.
func lastIdent(s string) string {
	quoted, start := false, 0
	for i, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
		case r == '.' && !quoted:
			start = i + 1
		}
	}
	return s[start:]
}
