package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sqlaudit/sqlaudit/trail"
)

// filterForm is a timeline filter as typed into the form (and the URL).
type filterForm struct {
	Table, Actor, Action, Since, Until, Column, Text string
	Trace                                            string   // an OpenTelemetry trace id
	Meta                                             []string // KEY=VALUE each
}

// readForm reads the filter parameters of a URL query.
func readForm(q url.Values) filterForm {
	f := filterForm{
		Table: strings.TrimSpace(q.Get("table")), Actor: q.Get("actor"), Action: strings.ToUpper(strings.TrimSpace(q.Get("action"))),
		Since: strings.TrimSpace(q.Get("since")), Until: strings.TrimSpace(q.Get("until")),
		Column: strings.TrimSpace(q.Get("column")), Text: q.Get("q"), Trace: strings.TrimSpace(q.Get("trace")),
	}
	for _, m := range q["meta"] {
		if m = strings.TrimSpace(m); m != "" {
			f.Meta = append(f.Meta, m)
		}
	}
	return f
}

// values is the form as URL parameters, for links that keep the filter.
func (f filterForm) values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("table", f.Table)
	set("actor", f.Actor)
	set("action", f.Action)
	set("since", f.Since)
	set("until", f.Until)
	set("column", f.Column)
	set("q", f.Text)
	set("trace", f.Trace)
	for _, m := range f.Meta {
		v.Add("meta", m)
	}
	return v
}

// filter turns the form into a trail filter; bad values are 400s.
func (f filterForm) filter(now time.Time) (trail.Filter, error) {
	out := trail.Filter{Table: f.Table, Actor: f.Actor, Column: f.Column, Text: f.Text}
	switch f.Action {
	case "", "INSERT", "UPDATE", "DELETE":
		out.Action = f.Action
	default:
		return out, errorf(http.StatusBadRequest, "bad action %q: want INSERT, UPDATE or DELETE", f.Action)
	}
	if f.Trace != "" {
		if err := trail.ValidTraceID(f.Trace); err != nil {
			return out, errorf(http.StatusBadRequest, "%v", err)
		}
		out.TraceID = f.Trace
	}
	var err error
	if out.Since, err = parseWhen("since", f.Since, now); err != nil {
		return out, err
	}
	if out.Until, err = parseWhen("until", f.Until, now); err != nil {
		return out, err
	}
	for _, m := range f.Meta {
		k, v, ok := strings.Cut(m, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return out, errorf(http.StatusBadRequest, "bad metadata filter %q: want KEY=VALUE, e.g. request_id=abc", m)
		}
		if out.Metadata == nil {
			out.Metadata = map[string]string{}
		}
		out.Metadata[strings.TrimSpace(k)] = v
	}
	return out, nil
}

// parseWhen reads a time parameter as the sqlaudit command reads one
// (trail.ParseTime: absolute, UTC unless it names a zone, or a time ago);
// a bad one is a 400 naming the parameter.
func parseWhen(name, s string, now time.Time) (time.Time, error) {
	t, err := trail.ParseTime(s, now)
	if err != nil {
		return time.Time{}, errorf(http.StatusBadRequest, "bad %s %q: use 2025-05-01T12:00:00Z, 2025-05-01 12:00 (UTC), 2025-05-01, or a time ago: 15m, 2h, 7d, 2w, today, yesterday", name, s)
	}
	return t, nil
}

// parseID reads a positive id parameter.
func parseID(name, s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return 0, errorf(http.StatusBadRequest, "bad %s %q: want a positive number", name, s)
	}
	return n, nil
}

// optionalID reads an id parameter that may be absent.
func optionalID(q url.Values, name string) (int64, error) {
	if s := q.Get(name); s != "" {
		return parseID(name, s)
	}
	return 0, nil
}

// limit reads the limit parameter, def when absent.
func limit(q url.Values, def int) (int, error) {
	s := q.Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || n > MaxPageSize {
		return 0, errorf(http.StatusBadRequest, "bad limit %q: want 1 to %d", s, MaxPageSize)
	}
	return n, nil
}

// parseKey reads a row's key: a JSON object ({"id":42}), col=value pairs
// (id=42, order_id=7,line=2) or a bare value for a single-column key. The
// values of the last two forms are typed as the trail records the table's
// keys (a text key "42" stays text), so the table must have records.
func (s *server) parseKey(ctx context.Context, table, text string) (trail.Key, error) {
	text = strings.TrimSpace(text)
	if table == "" {
		return nil, errorf(http.StatusBadRequest, "a row needs a table (the table parameter)")
	}
	if text == "" {
		return nil, errorf(http.StatusBadRequest, "a row needs a key (the key parameter): {\"id\":42}, id=42 or 42")
	}
	if strings.HasPrefix(text, "{") {
		dec := json.NewDecoder(strings.NewReader(text))
		dec.UseNumber()
		var k trail.Key
		if err := dec.Decode(&k); err != nil || len(k) == 0 || dec.More() {
			return nil, errorf(http.StatusBadRequest, "bad key %q: want a JSON object of the key columns, e.g. {\"id\":42}", text)
		}
		return k, nil
	}
	recs, err := trail.Log(ctx, s.db, trail.Filter{Table: table, NewestFirst: true, Limit: 1}, s.trail...)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, errorf(http.StatusNotFound, "the trail has no records of table %q (tables are named as recorded: schema-qualified outside the default schema)", table)
	}
	sample := recs[0].Key
	if !strings.Contains(text, "=") {
		if len(sample) != 1 {
			return nil, errorf(http.StatusBadRequest, "table %s has a composite key: give the key as col=value,col=value", table)
		}
		for col := range sample {
			text = col + "=" + text
		}
	}
	key := trail.Key{}
	for _, kv := range strings.Split(text, ",") {
		col, v, ok := strings.Cut(kv, "=")
		col = strings.TrimSpace(col)
		rec, known := sample[col]
		if !ok || !known {
			return nil, errorf(http.StatusBadRequest, "bad key %q: want col=value pairs of the key columns of %s (%s)", text, table, strings.Join(keyCols(sample), ", "))
		}
		typed, err := typedLike(rec, strings.TrimSpace(v))
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "bad key %q: column %s %v", text, col, err)
		}
		key[col] = typed
	}
	if len(key) != len(sample) {
		return nil, errorf(http.StatusBadRequest, "bad key %q: table %s is keyed by %s", text, table, strings.Join(keyCols(sample), ", "))
	}
	return key, nil
}

// typedLike types s as the recorded key value rec is typed.
func typedLike(rec any, s string) (any, error) {
	switch rec.(type) {
	case json.Number:
		var n json.Number
		if json.Unmarshal([]byte(s), &n) != nil {
			return nil, errorf(http.StatusBadRequest, "is a number in the trail, not %q", s)
		}
		return n, nil
	case bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "is a boolean in the trail, not %q", s)
		}
		return b, nil
	}
	if uq, err := strconv.Unquote(s); err == nil && strings.HasPrefix(s, `"`) {
		return uq, nil
	}
	return s, nil
}

func keyCols(k trail.Key) []string {
	cols := make([]string, 0, len(k))
	for c := range k {
		cols = append(cols, c)
	}
	sortStrings(cols)
	return cols
}
