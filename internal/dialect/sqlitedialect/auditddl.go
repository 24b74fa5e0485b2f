package sqlitedialect

import "strings"

// readingIndexes are the audit table's indexes beyond its primary key, for
// the readers in package trail (measured in BENCHMARKS.md, "Reading the
// trail at scale"): a transaction's records (tx_id), a row's history
// (table_name, row_key: the triggers render every key with json_object in
// key order, and the readers render the key they look for the same way),
// an actor's records and time ranges. Every SQLite index ends with the
// rowid, which is id here, so (actor) serves "actor = ? ORDER BY id".
func readingIndexes(table string) []string {
	schema, name := splitName(table)
	idx := func(suffix, cols string) string {
		return `CREATE INDEX IF NOT EXISTS ` + schema + suffixed(name, suffix) + ` ON ` + name + ` ` + cols
	}
	return []string{
		idx("tx_idx", "(tx_id)"),
		idx("row_idx", "(table_name, row_key)"),
		idx("actor_idx", "(actor)"),
		idx("time_idx", "(occurred_at)"),
	}
}

// splitName splits a table name as written (bare or "quoted", maybe
// schema-qualified) into its schema with the dot ("" when none) and its
// name: SQLite qualifies an index's name, not its table.
func splitName(s string) (schema, name string) {
	quoted, start := false, 0
	for i, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
		case r == '.' && !quoted:
			start = i + 1
		}
	}
	return s[:start], s[start:]
}

// suffixed is name + "_" + suffix, quoted as name is.
func suffixed(name, suffix string) string {
	if len(name) >= 2 && strings.HasPrefix(name, `"`) {
		bare := strings.ReplaceAll(name[1:len(name)-1], `""`, `"`)
		return `"` + strings.ReplaceAll(bare+"_"+suffix, `"`, `""`) + `"`
	}
	return name + "_" + suffix
}
