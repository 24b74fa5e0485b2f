package web

import (
	"regexp"
	"strings"

	"github.com/sqlaudit/sqlaudit/trail"
)

// stmtGroup is one statement of a transaction and the records it wrote:
// its own table's rows, and the rows its foreign-key actions and triggers
// changed in other tables (the audit drivers record those with the
// statement that fired them).
type stmtGroup struct {
	Query    string         `json:"query"`
	Table    string         `json:"table"` // the table the statement names, "" when its text does not say
	Records  []trail.Record `json:"-"`
	Cascades []trail.Record `json:"-"`
	// RecordIDs and CascadeIDs are the records, for the JSON API.
	RecordIDs  []int64 `json:"records"`
	CascadeIDs []int64 `json:"cascades"`
}

// groupStatements cuts a transaction's records, in write order, into runs
// of the same statement text; within a run, records of a table other than
// the one the statement names are its cascades. (Two executions of one
// statement in a row fall into one group: the trail cannot tell them apart.)
func groupStatements(recs []trail.Record) []stmtGroup {
	var out []stmtGroup
	for _, r := range recs {
		if len(out) == 0 || out[len(out)-1].Query != r.Query {
			out = append(out, stmtGroup{Query: r.Query, Table: targetTable(r.Query), RecordIDs: []int64{}, CascadeIDs: []int64{}})
		}
		g := &out[len(out)-1]
		if g.Table == "" && len(g.Records) == 0 {
			g.Table = r.Table // the text does not say: the first record's table is the statement's
		}
		if sameTable(g.Table, r.Table) {
			g.Records, g.RecordIDs = append(g.Records, r), append(g.RecordIDs, r.ID)
		} else {
			g.Cascades, g.CascadeIDs = append(g.Cascades, r), append(g.CascadeIDs, r.ID)
		}
	}
	return out
}

// ident is one identifier as the three dialects quote it, or bare.
const ident = `(?:"(?:[^"]|"")+"|` + "`(?:[^`]|``)+`" + `|\[[^\]]+\]|[\p{L}_][\p{L}\p{N}_$]*)`

// target finds the table an INSERT, UPDATE, DELETE, REPLACE, MERGE, COPY or
// TRUNCATE names, after leading comments and a WITH clause's name list.
var target = regexp.MustCompile(`(?is)^(?:insert\s+(?:(?:or\s+\w+|low_priority|delayed|high_priority|ignore)\s+)*into|replace\s+(?:(?:low_priority|delayed)\s+)*into|` +
	`update\s+(?:(?:or\s+\w+|only|low_priority|ignore)\s+)*|delete\s+(?:(?:low_priority|quick|ignore)\s+)*from\s+(?:only\s+)?|` +
	`merge\s+into|copy|truncate\s+(?:table\s+)?(?:only\s+)?)\s*(` + ident + `(?:\s*\.\s*` + ident + `)?)`)

var comments = regexp.MustCompile(`(?s)^\s*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*`)

// targetTable is the table a write statement names, "" when not plain.
func targetTable(query string) string {
	q := comments.ReplaceAllString(query, "")
	if strings.HasPrefix(strings.ToLower(q), "with") {
		return "" // the target follows the CTEs: leave it to the records
	}
	m := target.FindStringSubmatch(q)
	if m == nil {
		return ""
	}
	return m[1]
}

// sameTable compares a table as a statement names it with one as the trail
// records it: unquoted, ignoring case, a bare name matching any schema.
func sameTable(named, recorded string) bool {
	n, r := splitName(named), splitName(recorded)
	if len(n) == 2 && len(r) == 2 {
		return strings.EqualFold(n[0], r[0]) && strings.EqualFold(n[1], r[1])
	}
	return strings.EqualFold(n[len(n)-1], r[len(r)-1])
}

var dot = regexp.MustCompile(`^(` + ident + `)\s*\.\s*(` + ident + `)$`)

func splitName(s string) []string {
	s = strings.TrimSpace(s)
	parts := []string{s}
	if m := dot.FindStringSubmatch(s); m != nil {
		parts = []string{m[1], m[2]}
	}
	for i, p := range parts {
		parts[i] = unquote(p)
	}
	return parts
}

func unquote(p string) string {
	if len(p) >= 2 {
		switch {
		case p[0] == '"' && p[len(p)-1] == '"':
			return strings.ReplaceAll(p[1:len(p)-1], `""`, `"`)
		case p[0] == '`' && p[len(p)-1] == '`':
			return strings.ReplaceAll(p[1:len(p)-1], "``", "`")
		case p[0] == '[' && p[len(p)-1] == ']':
			return p[1 : len(p)-1]
		}
	}
	return p
}
