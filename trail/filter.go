package trail

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sqlaudit/sqlaudit"
)

// Filter selects records; zero fields match everything, set fields must all
// match. Records come oldest first (by id), or newest first with
// NewestFirst.
type Filter struct {
	Table  string    // table_name as recorded
	Actor  string    // actor
	Action string    // INSERT, UPDATE or DELETE
	Since  time.Time // occurred_at >= Since
	Until  time.Time // occurred_at < Until
	Key    Key       // row_key equal to Key
	TxID   int64     // tx_id
	// Metadata matches records whose metadata holds every key with that
	// value as text: a JSON string's contents, or the JSON text of a
	// number or boolean (request_id=abc, user_id=42, replayed=true); a
	// JSON null matches no value.
	Metadata map[string]string
	// TraceID matches records written under that OpenTelemetry trace: their
	// metadata's trace_id (32 lower-case hex digits, as the wrapper records
	// it; upper case is accepted). It is Metadata["trace_id"] by another
	// name, and ValidTraceID checks one.
	TraceID string
	// Column matches records that changed the column: an UPDATE of it, or
	// an INSERT or DELETE of a row that has it (the record's old or new
	// values hold it).
	Column string
	// Text matches records whose statement (query) contains Text, ignoring
	// case (ASCII letters on SQLite).
	Text string
	// Source matches the records a central store gathered from one service
	// (needs WithSources).
	Source string

	AfterID     int64 // paging cursor: id > AfterID (oldest first: the last ID of the previous page)
	BeforeID    int64 // paging cursor: id < BeforeID (newest first: the last ID of the previous page)
	NewestFirst bool  // order by id descending
	Limit       int   // at most Limit records (0: all)

	after     time.Time // occurred_at > after (AsOf)
	notTx     int64     // tx_id <> notTx (Revert)
	newestOne bool      // only the newest match
	shape     *keyShape // how the trail records Table's keys (see prepare)
	keyHead   bool      // MariaDB: the row index's column exists
}

// build renders the SELECT of f.
func (c *config) build(f Filter) (string, []any) {
	a := &argList{d: c.d}
	conds := c.conds(f, a)
	conds = append(conds, idBounds(f, a)...)
	q := "SELECT " + c.columns() + " FROM " + c.d.table(c.table) + where(conds)
	switch {
	case f.newestOne:
		q += " ORDER BY id DESC LIMIT 1"
	default:
		q += orderBy(f.NewestFirst)
		if f.Limit > 0 {
			q += fmt.Sprintf(" LIMIT %d", f.Limit)
		}
	}
	return q, a.vals
}

func orderBy(newestFirst bool) string {
	if newestFirst {
		return " ORDER BY id DESC"
	}
	return " ORDER BY id"
}

func where(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// idBounds are the paging conditions of f.
func idBounds(f Filter, a *argList) []string {
	var conds []string
	if f.AfterID != 0 {
		conds = append(conds, "id > "+a.add(f.AfterID))
	}
	if f.BeforeID != 0 {
		conds = append(conds, "id < "+a.add(f.BeforeID))
	}
	return conds
}

// conds are the conditions of f's content, without the paging bounds.
func (c *config) conds(f Filter, a *argList) []string {
	var conds []string
	eq := func(col string, v any) { conds = append(conds, col+" = "+a.add(v)) }
	if f.Table != "" {
		eq("table_name", f.Table)
	}
	if f.Actor != "" {
		eq("actor", f.Actor)
	}
	if f.Source != "" {
		eq("source", f.Source)
	}
	if f.Action != "" {
		eq("action", strings.ToUpper(f.Action))
	}
	if f.TxID != 0 {
		eq("tx_id", f.TxID)
		if c.d.seqScale() { // its records start at its tx_id: the primary key bounds the scan without the tx_id index
			conds = append(conds, "id >= "+a.add(f.TxID))
		}
	}
	if f.notTx != 0 {
		conds = append(conds, "tx_id <> "+a.add(f.notTx))
	}
	if !f.Since.IsZero() {
		conds = append(conds, c.d.timeCond(">=", f.Since, a))
	}
	if !f.Until.IsZero() {
		conds = append(conds, c.d.timeCond("<", f.Until, a))
	}
	if !f.after.IsZero() {
		conds = append(conds, c.d.timeCond(">", f.after, a))
	}
	if len(f.Key) > 0 {
		conds = append(conds, c.d.keyCond(keyLookup{f.Key, f.shape, f.keyHead}, a))
	}
	for _, k := range sortedKeys(f.Metadata) {
		conds = append(conds, c.d.metaCond(k, f.Metadata[k], a))
	}
	if f.TraceID != "" {
		conds = append(conds, c.d.metaCond(sqlaudit.TraceIDKey, strings.ToLower(f.TraceID), a))
	}
	if f.Column != "" {
		conds = append(conds, c.d.columnCond(f.Column, a))
	}
	if f.Text != "" {
		conds = append(conds, c.d.textCond(likePattern(f.Text), a))
	}
	return conds
}

// likeEscape is the escape character of likePattern: not a backslash, whose
// meaning in string literals differs between the databases.
const likeEscape = "!"

// likePattern is a LIKE pattern matching text anywhere, its wildcards
// escaped with likeEscape.
func likePattern(text string) string {
	r := strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")
	return "%" + r.Replace(text) + "%"
}

// jsonMember is a JSON path naming the member col: $."col" with quotes and
// backslashes escaped.
func jsonMember(col string) string {
	return `$."` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(col) + `"`
}

// ValidTraceID checks a trace id given to filter by: 32 hex digits, not all
// zero (OpenTelemetry's invalid id, which no record carries).
func ValidTraceID(id string) error {
	if len(id) != 32 || strings.Trim(strings.ToLower(id), "0123456789abcdef") != "" {
		return fmt.Errorf("bad trace id %q: want 32 hex digits (e.g. 4bf92f3577b34da6a3ce929d0e0e4736)", id)
	}
	if strings.Trim(id, "0") == "" {
		return errors.New("bad trace id: all zeros is no trace")
	}
	return nil
}
