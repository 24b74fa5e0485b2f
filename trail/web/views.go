package web

import (
	"bytes"
	"encoding/json"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sqlaudit/sqlaudit/trail"
)

// base is what every page's layout shows.
type base struct {
	Title     string // the viewer's
	PageTitle string
	Root      string // the relative path to the viewer's root: "./" or "../"
	Nav       string // the page's entry in the navigation
}

func (s *server) base(r *http.Request, title string) base {
	depth := strings.Count(strings.TrimPrefix(r.URL.Path, "/"), "/")
	root := "./"
	if depth > 0 {
		root = strings.Repeat("../", depth)
	}
	return base{Title: s.opts.Title, PageTitle: title, Root: root}
}

type errorView struct {
	base
	Status     int
	StatusText string
	Message    string
}

var funcs = template.FuncMap{
	"val":     jsonText,
	"utc":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000Z") },
	"iso":     func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
	"keyjson": func(k trail.Key) string { return jsonText(k) },
	"actions": actionList,
	"meta":    metaPairs,
	"lower":   strings.ToLower,
	"or": func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	},
}

// pages are the parsed templates, one set per page over the layout.
var pages = func() map[string]*template.Template {
	layout := template.Must(template.New("layout").Funcs(funcs).ParseFS(assets, "assets/templates/layout.html"))
	out := map[string]*template.Template{}
	names, _ := fs.Glob(assets, "assets/templates/*.html")
	for _, n := range names {
		name := strings.TrimSuffix(n[strings.LastIndex(n, "/")+1:], ".html")
		if name == "layout" {
			continue
		}
		out[name] = template.Must(template.Must(layout.Clone()).ParseFS(assets, n))
	}
	return out
}()

// render writes a page; a template failure is logged (the status line is
// gone by then).
func (s *server) render(w http.ResponseWriter, r *http.Request, code int, name string, v any) {
	var buf bytes.Buffer
	if err := pages[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		s.log.ErrorContext(r.Context(), "sqlaudit viewer: template", "page", name, "err", err)
		http.Error(w, "sqlaudit viewer: the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

// jsonText renders a value as JSON text, as the CLI shows values.
func jsonText(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // the template escapes
	if err := enc.Encode(v); err != nil {
		return "?"
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// actionList is "2 INSERT · 1 UPDATE", in the order INSERT, UPDATE, DELETE.
func actionList(m map[string]int) string {
	var parts []string
	for _, a := range []string{"INSERT", "UPDATE", "DELETE"} {
		if m[a] > 0 {
			parts = append(parts, itoa(m[a])+" "+a)
		}
	}
	return strings.Join(parts, " · ")
}

type pair struct{ K, V string }

// metaPairs lists metadata as key and value text, sorted by key; string
// values without their quotes (as the metadata filter takes them).
func metaPairs(m map[string]any) []pair {
	var out []pair
	for _, k := range sortedKeys(m) {
		v, ok := m[k].(string)
		if !ok {
			v = jsonText(m[k])
		}
		out = append(out, pair{k, v})
	}
	return out
}

// colDiff is one column of a record: old → new.
type colDiff struct {
	Name           string
	Old, New       string
	HasOld, HasNew bool
	Changed        bool
}

// recView is a record as a page shows it.
type recView struct {
	R      trail.Record
	RowURL string
	TxURL  string
	Cols   []colDiff
}

// viewRecord lays out a record's columns; state is the row before it when
// known (a row's history), so that unchanged columns show too.
func viewRecord(root string, r trail.Record, state map[string]any) recView {
	v := recView{R: r, RowURL: rowURL(root, r.Table, r.Key), TxURL: root + "tx/" + itoa64(r.TxID) + "#r" + itoa64(r.ID)}
	cols := map[string]bool{}
	for _, m := range []map[string]any{state, r.Old, r.New} {
		for c := range m {
			cols[c] = true
		}
	}
	if r.Action == "DELETE" {
		clear(cols)
		for c := range r.Old {
			cols[c] = true
		}
	}
	for _, c := range orderColumns(cols, r.Key) {
		d := colDiff{Name: c}
		old, inOld := r.Old[c]
		nw, inNew := r.New[c]
		switch {
		case r.Action == "UPDATE" && !inNew: // unchanged: the row's value before
			prev, known := state[c]
			d.Old, d.HasOld, d.New, d.HasNew = jsonText(prev), known, jsonText(prev), known
		default:
			d.Old, d.HasOld, d.New, d.HasNew, d.Changed = jsonText(old), inOld, jsonText(nw), inNew, true
		}
		v.Cols = append(v.Cols, d)
	}
	return v
}

// orderColumns puts the key columns first, then the rest by name.
func orderColumns(cols map[string]bool, key trail.Key) []string {
	var keys, rest []string
	for c := range cols {
		if _, ok := key[c]; ok {
			keys = append(keys, c)
		} else {
			rest = append(rest, c)
		}
	}
	slices.Sort(keys)
	slices.Sort(rest)
	return append(keys, rest...)
}

// rowURL links a row's page.
func rowURL(root, table string, key trail.Key) string {
	return root + "row?" + url.Values{"table": {table}, "key": {jsonText(key)}}.Encode()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func sortStrings(s []string) { slices.Sort(s) }

func itoa(n int) string     { return strconv.Itoa(n) }
func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
