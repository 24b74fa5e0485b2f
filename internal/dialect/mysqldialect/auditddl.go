package mysqldialect

import "strings"

// keyHeadColumn is the audit table's virtual column holding the text of the
// first member of row_key (its first 190 characters), which the reading
// side's row index covers: MariaDB cannot index a JSON document, and the
// records' keys are written two ways (JSON_OBJECT in key order, and the
// upserts' compact Go rendering in name order), so no rendering of a key can
// be compared as text. A reader looks a row up by table_name and
// row_key_first IN (the text of each of its key values) — a superset — and
// checks the whole key with JSON_VALUE.
const keyHeadColumn = "row_key_first"

// readingIndexes adds the row index (on keyHeadColumn) and (actor(100),
// id) for the readers in package trail; tx_id has its KEY in the table
// itself. There is no index on occurred_at: MariaDB's planner takes it for
// time-bounded pages and sorts (BENCHMARKS.md, the web viewer). Each
// statement is idempotent, and InnoDB builds the indexes online when sqlaudit
// migrate adds them to a table with records.
func readingIndexes(table string) []string {
	name := lastIdent(table)
	idx := func(suffix, cols string) string {
		return `CREATE INDEX IF NOT EXISTS ` + suffixed(name, suffix) + ` ON ` + table + ` ` + cols
	}
	return []string{
		`ALTER TABLE ` + table + ` ADD COLUMN IF NOT EXISTS ` + keyHeadColumn + ` VARCHAR(190) AS (LEFT(JSON_VALUE(row_key, ` +
			`CONCAT('$.', JSON_EXTRACT(JSON_KEYS(row_key), '$[0]'))), 190)) VIRTUAL`,
		idx("row_idx", "(table_name, "+keyHeadColumn+")"),
		idx("actor_idx", "(actor(100), id)"),
	}
}

// lastIdent is the last dot-separated identifier of a name as written,
// backticks kept.
func lastIdent(s string) string {
	quoted, start := false, 0
	for i, r := range s {
		switch {
		case r == '`':
			quoted = !quoted
		case r == '.' && !quoted:
			start = i + 1
		}
	}
	return s[start:]
}

// suffixed is name + "_" + suffix, quoted as name is.
func suffixed(name, suffix string) string {
	if len(name) >= 2 && strings.HasPrefix(name, "`") {
		bare := strings.ReplaceAll(name[1:len(name)-1], "``", "`")
		return "`" + strings.ReplaceAll(bare+"_"+suffix, "`", "``") + "`"
	}
	return name + "_" + suffix
}
