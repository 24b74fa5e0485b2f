package web

import (
	"context"
	"maps"
	"net/http"
	"net/url"
	"time"

	"github.com/sqlaudit/sqlaudit/trail"
)

// rowView is the row page: a form, and for a row its history and as-of.
type rowView struct {
	base
	Table    string
	KeyText  string // as typed
	Key      trail.Key
	History  []recView // oldest first, each with the row's state before it
	AsOf     *asOf
	AsOfAt   string // the time asked for, as typed
	RecordID int64  // the record asked for
}

// asOf is a row as it was at a time or after a record.
type asOf struct {
	Table    string         `json:"table"`
	Key      trail.Key      `json:"key"`
	At       *time.Time     `json:"at,omitempty"`
	RecordID int64          `json:"record,omitempty"`
	Exists   bool           `json:"exists"`
	Row      map[string]any `json:"row"`
	Columns  []colValue     `json:"columns"` // the row's values as JSON text, key columns first
}

type colValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func (s *server) rowPage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	v := &rowView{base: s.base(r, "Row"), Table: q.Get("table"), KeyText: q.Get("key"), AsOfAt: q.Get("at")}
	v.Nav = "row"
	if v.Table == "" && v.KeyText == "" {
		s.render(w, r, http.StatusOK, "row", v)
		return nil
	}
	recs, key, err := s.history(r.Context(), v.Table, v.KeyText)
	if err != nil {
		return err
	}
	v.Key, v.KeyText, v.PageTitle = key, jsonText(key), v.Table+" "+jsonText(key)
	state := map[string]any(nil)
	for _, rec := range recs {
		v.History = append(v.History, viewRecord(v.Root, rec, state))
		state = after(state, rec)
	}
	if v.AsOf, err = s.asOfQuery(r.Context(), q, v.Table, key); err != nil {
		return err
	}
	if v.AsOf != nil {
		v.RecordID = v.AsOf.RecordID
	}
	s.render(w, r, http.StatusOK, "row", v)
	return nil
}

// history reads a row's records; a row without any is a 404.
func (s *server) history(ctx context.Context, table, keyText string) ([]trail.Record, trail.Key, error) {
	key, err := s.parseKey(ctx, table, keyText)
	if err != nil {
		return nil, nil, err
	}
	recs, err := trail.History(ctx, s.db, table, key, s.trail...)
	if err != nil {
		return nil, nil, err
	}
	if len(recs) == 0 {
		some, err := trail.Log(ctx, s.db, trail.Filter{Table: table, NewestFirst: true, Limit: 1}, s.trail...)
		switch {
		case err != nil:
			return nil, nil, err
		case len(some) == 0:
			return nil, nil, errorf(http.StatusNotFound, "the trail has no records of table %q (tables are named as recorded: schema-qualified outside the default schema)", table)
		}
		return nil, nil, errorf(http.StatusNotFound, "the trail has no records of %s %s", table, jsonText(key))
	}
	return recs, key, nil
}

// after is the row's state after rec, from its state before (nil: unknown).
func after(state map[string]any, rec trail.Record) map[string]any {
	switch rec.Action {
	case "INSERT":
		return maps.Clone(rec.New)
	case "DELETE":
		return nil
	}
	out := maps.Clone(state)
	if out == nil {
		out = map[string]any{}
	}
	maps.Copy(out, rec.New)
	return out
}

// asOfQuery answers the as-of parameters: at (a time) or record (an id);
// nil when neither is given.
func (s *server) asOfQuery(ctx context.Context, q url.Values, table string, key trail.Key) (*asOf, error) {
	at, rec := q.Get("at"), q.Get("record")
	if at == "" && rec == "" {
		return nil, nil
	}
	out := &asOf{Table: table, Key: key}
	var err error
	if rec != "" {
		if out.RecordID, err = parseID("record", rec); err != nil {
			return nil, err
		}
		out.Row, out.Exists, err = trail.AsOfRecord(ctx, s.db, table, key, out.RecordID, s.trail...)
	} else {
		t, perr := parseWhen("at", at, time.Now())
		if perr != nil {
			return nil, perr
		}
		out.At = &t
		out.Row, out.Exists, err = trail.AsOf(ctx, s.db, table, key, t, s.trail...)
	}
	if err != nil {
		return nil, err
	}
	if !out.Exists {
		out.Row = nil
	}
	for _, c := range orderColumns(setOf(out.Row), key) {
		out.Columns = append(out.Columns, colValue{c, jsonText(out.Row[c])})
	}
	return out, nil
}

func setOf(m map[string]any) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

// rowJSON is the answer of /api/row.
type rowJSON struct {
	Table   string         `json:"table"`
	Key     trail.Key      `json:"key"`
	Records []trail.Record `json:"records"`
}

// apiRow is a row's history: GET /api/row?table=…&key=….
func (s *server) apiRow(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	recs, key, err := s.history(r.Context(), q.Get("table"), q.Get("key"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rowJSON{Table: q.Get("table"), Key: key, Records: recs})
	return nil
}

// apiAsOf is a row as of a time or record: GET
// /api/row/asof?table=…&key=…&at=… (or &record=…).
func (s *server) apiAsOf(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	_, key, err := s.history(r.Context(), q.Get("table"), q.Get("key"))
	if err != nil {
		return err
	}
	a, err := s.asOfQuery(r.Context(), q, q.Get("table"), key)
	if err != nil {
		return err
	}
	if a == nil {
		return errorf(http.StatusBadRequest, "as of what? give at (a time) or record (an id)")
	}
	writeJSON(w, http.StatusOK, a)
	return nil
}
