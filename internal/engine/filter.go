package engine

import "strings"

// Filter decides per table whether it is audited and which of its columns
// are redacted; it is built once per database from the options.
type Filter struct {
	include, exclude map[string]bool
	redactAll        map[string]bool
	redactTable      map[string]map[string]bool
}

// NewFilter makes the filter of the Include, Exclude and Redact options:
// table names as recorded (display) or bare; columns as "column" (every
// table) or "table.column".
func NewFilter(include, exclude, redact []string) Filter {
	f := Filter{include: set(include), exclude: set(exclude), redactAll: map[string]bool{}, redactTable: map[string]map[string]bool{}}
	for _, r := range redact {
		i := strings.LastIndexByte(r, '.')
		if i < 0 {
			f.redactAll[r] = true
			continue
		}
		if f.redactTable[r[:i]] == nil {
			f.redactTable[r[:i]] = map[string]bool{}
		}
		f.redactTable[r[:i]][r[i+1:]] = true
	}
	return f
}

func set(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// Audited reports whether a table is audited; names in the options match
// the recorded table_name (display) or the bare table name in any schema.
func (f Filter) Audited(display, name string) bool {
	return !f.exclude[display] && !f.exclude[name] && (len(f.include) == 0 || f.include[display] || f.include[name])
}

// Redacted reports whether a column's values are masked in records.
func (f Filter) Redacted(display, name, column string) bool {
	return f.redactAll[column] || f.redactTable[display][column] || f.redactTable[name][column]
}
