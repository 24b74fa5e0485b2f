package benchmark

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// auditTable is the audit table of variant v ("" for P).
func auditTable(v Variant) string {
	switch v {
	case Trigger, SetTrig:
		return triggerTable
	case Naive, Library:
		return "audit_log"
	}
	return ""
}

// recordMarks is the highest audit record id of every target before a cell.
func (e *env) recordMarks(ctx context.Context) ([]int64, error) {
	marks := make([]int64, len(e.targets))
	for i, t := range e.targets {
		if table := auditTable(t.v); table != "" {
			err := t.plain.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM `+table).Scan(&marks[i])
			if err != nil {
				return nil, err
			}
		}
	}
	return marks, nil
}

// recordCounts counts, per target and action, the records written since
// marks.
func (e *env) recordCounts(ctx context.Context, marks []int64) ([]map[string]int, error) {
	out := make([]map[string]int, len(e.targets))
	for i, t := range e.targets {
		out[i] = map[string]int{}
		table := auditTable(t.v)
		if table == "" {
			continue
		}
		rows, err := t.plain.QueryContext(ctx, `SELECT action, count(*) FROM `+table+` WHERE id > `+e.spec.d.ph(1)+` GROUP BY action`, marks[i])
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var action string
			var n int
			if err := rows.Scan(&action, &n); err != nil {
				rows.Close()
				return nil, err
			}
			out[i][action] = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// checkRecords compares what T, S and L recorded with N, whose records are
// computed in Go from the rows themselves: the same number of records per
// action N wrote. The triggers also record the untimed undo work (actions N
// never writes in that workload), which is left out; L must write nothing
// else. It returns "" when they agree, else what differs.
func checkRecords(ss []*series, counts []map[string]int) string {
	var naive map[string]int
	for i, s := range ss {
		if s.v == Naive {
			naive = counts[i]
		}
	}
	var diffs []string
	for i, s := range ss {
		v := s.v
		if !v.isTrigger() && v != Library || s.refused != "" {
			continue
		}
		got := counts[i]
		if v.isTrigger() {
			got = maps.Clone(got)
			maps.DeleteFunc(got, func(action string, _ int) bool { _, ok := naive[action]; return !ok })
		}
		if !maps.Equal(got, naive) {
			diffs = append(diffs, fmt.Sprintf("%s wrote %s", v, fmtCounts(got)))
		}
	}
	if len(diffs) == 0 {
		return ""
	}
	return "N wrote " + fmtCounts(naive) + ", " + strings.Join(diffs, ", ")
}

func fmtCounts(c map[string]int) string {
	parts := []string{}
	for _, action := range slices.Sorted(maps.Keys(c)) {
		parts = append(parts, fmt.Sprintf("%d %s", c[action], action))
	}
	if len(parts) == 0 {
		return "no records"
	}
	return strings.Join(parts, " + ")
}

// MissingResults lists the workload/driver/variant combinations that cfg
// selects and that report (as Run wrote it) has neither a benchstat line
// nor a refusal by sqlaudit for, as Workload/driver/V.
func MissingResults(report string, cfg Config) ([]string, error) {
	ds, err := cfg.selectDrivers()
	if err != nil {
		return nil, err
	}
	ws, err := cfg.selectWorkloads()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(report, "\n") {
		if m := benchLine.FindStringSubmatch(line); m != nil {
			seen[m[1]+"/"+m[2]+"/"+m[3]] = true
		}
	}
	var missing []string
	for _, w := range ws {
		for _, d := range ds {
			for _, v := range variantsOf(d.d) {
				name := w.name + "/" + d.name + "/" + string(v)
				if !seen[name] && !strings.Contains(report, name+" refused") {
					missing = append(missing, name)
				}
			}
		}
	}
	return missing, nil
}

// benchLine is a benchstat line of the report.
var benchLine = regexp.MustCompile(`(?m)^Benchmark(\w+)/(\w+)/([PTSNL]) \t +\d+ \t +\d+ ns/op`)
