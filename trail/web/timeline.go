package web

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/sqlaudit/sqlaudit/trail"
)

// timelineView is the timeline page.
type timelineView struct {
	base
	Form     filterForm
	Filtered bool
	Page     trail.TxPage
	CountURL string // the API call counting what the filter selects
	OlderURL string
	NewerURL string
	values   url.Values
}

// With links the timeline filtered by the current filter and key=value.
func (v *timelineView) With(key, value string) string {
	q := url.Values{}
	for k, vs := range v.values {
		q[k] = vs
	}
	if key == "meta" {
		q.Add(key, value)
	} else {
		q.Set(key, value)
	}
	return v.Root + "?" + q.Encode()
}

// MetaInputs are the metadata filters shown as inputs, and an empty one.
func (v *timelineView) MetaInputs() []string { return append(append([]string{}, v.Form.Meta...), "") }

// txQuery reads a transaction page request: the filter, a cursor, a size.
func (s *server) txQuery(r *http.Request) (filterForm, trail.Filter, error) {
	q := r.URL.Query()
	form := readForm(q)
	f, err := form.filter(time.Now())
	if err != nil {
		return form, f, err
	}
	if f.BeforeID, err = optionalID(q, "before"); err != nil {
		return form, f, err
	}
	if f.AfterID, err = optionalID(q, "after"); err != nil {
		return form, f, err
	}
	if f.BeforeID != 0 && f.AfterID != 0 {
		return form, f, errorf(http.StatusBadRequest, "give before or after, not both")
	}
	f.Limit, err = limit(q, s.opts.PageSize)
	return form, f, err
}

func (s *server) timelinePage(w http.ResponseWriter, r *http.Request) error {
	form, f, err := s.txQuery(r)
	if err != nil {
		return err
	}
	page, err := trail.Transactions(r.Context(), s.db, f, s.trail...)
	if err != nil {
		return err
	}
	v := &timelineView{base: s.base(r, "Timeline"), Form: form, Page: page, values: form.values()}
	v.Nav = "timeline"
	v.Filtered = len(v.values) > 0
	v.CountURL = v.Root + "api/count?" + v.values.Encode()
	cursor := func(name string, id int64) string {
		q := form.values()
		q.Set(name, strconv.FormatInt(id, 10))
		if f.Limit != s.opts.PageSize {
			q.Set("limit", strconv.Itoa(f.Limit))
		}
		return v.Root + "?" + q.Encode()
	}
	if page.Older != 0 {
		v.OlderURL = cursor("before", page.Older)
	}
	if page.Newer != 0 {
		v.NewerURL = cursor("after", page.Newer)
	}
	s.render(w, r, http.StatusOK, "timeline", v)
	return nil
}

// apiTransactions is a page of the timeline: GET /api/transactions with
// the timeline's filter parameters, before or after (cursors) and limit.
func (s *server) apiTransactions(w http.ResponseWriter, r *http.Request) error {
	_, f, err := s.txQuery(r)
	if err != nil {
		return err
	}
	page, err := trail.Transactions(r.Context(), s.db, f, s.trail...)
	if err != nil {
		return err
	}
	if page.Transactions == nil {
		page.Transactions = []trail.TxSummary{}
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// recordsPage is the answer of /api/records.
type recordsPage struct {
	Records []trail.Record `json:"records"`
	// Next is the cursor of the next page in the same order (pass it as
	// before, newest first, or after, oldest first); 0 at the end.
	Next int64 `json:"next,omitempty"`
}

// apiRecords lists records, each as the CLI's -o json shapes it: GET
// /api/records with the timeline's filters and table, key, tx; order
// newest (default) with before, or oldest with after; limit (default 100).
func (s *server) apiRecords(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f, err := readForm(q).filter(time.Now())
	if err != nil {
		return err
	}
	if f.TxID, err = optionalID(q, "tx"); err != nil {
		return err
	}
	if k := q.Get("key"); k != "" {
		if f.Key, err = s.parseKey(r.Context(), f.Table, k); err != nil {
			return err
		}
	}
	switch q.Get("order") {
	case "", "newest":
		f.NewestFirst = true
		f.BeforeID, err = optionalID(q, "before")
	case "oldest":
		f.AfterID, err = optionalID(q, "after")
	default:
		return errorf(http.StatusBadRequest, "bad order %q: want newest or oldest", q.Get("order"))
	}
	if err != nil {
		return err
	}
	if f.Limit, err = limit(q, 100); err != nil {
		return err
	}
	want := f.Limit
	f.Limit++ // one more tells whether there is a next page
	recs, err := trail.Log(r.Context(), s.db, f, s.trail...)
	if err != nil {
		return err
	}
	page := recordsPage{Records: recs}
	if len(recs) > want {
		page.Records = recs[:want]
		page.Next = recs[want-1].ID
	}
	if page.Records == nil {
		page.Records = []trail.Record{}
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// apiCount counts what the timeline's filter selects: GET /api/count.
func (s *server) apiCount(w http.ResponseWriter, r *http.Request) error {
	f, err := readForm(r.URL.Query()).filter(time.Now())
	if err != nil {
		return err
	}
	n, err := trail.Count(r.Context(), s.db, f, s.trail...)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, n)
	return nil
}
