package web

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"

	"github.com/sqlaudit/sqlaudit/trail"
)

// Permission is what a request asks to do.
type Permission int

const (
	// View is reading any page or API call.
	View Permission = iota + 1
	// Revert is reverting a transaction.
	Revert
)

func (p Permission) String() string {
	switch p {
	case View:
		return "view"
	case Revert:
		return "revert"
	}
	return fmt.Sprintf("Permission(%d)", int(p))
}

// Options configure the viewer. The zero value lets every request that
// reaches the handler view the trail and none revert.
type Options struct {
	// Authorize says whether the request may do p; the application's own
	// authentication has run before (it mounts the handler behind it).
	// nil: View for everyone, Revert for no one.
	Authorize func(r *http.Request, p Permission) bool
	// User names the person behind the request. A revert is recorded with
	// it as the actor (sqlaudit.WithActor) and is refused when it is "".
	// nil: no one, so no reverts.
	User func(r *http.Request) string
	// AuditTable names the audit table (default "audit_log").
	AuditTable string
	// PageSize is the number of transactions on a timeline page (default
	// 50, at most MaxPageSize).
	PageSize int
	// Title heads every page (default "Audit trail").
	Title string
	// Logger receives the failures answered with status 500 (default
	// slog.Default()).
	Logger *slog.Logger
}

// MaxPageSize bounds the page sizes a request may ask for.
const MaxPageSize = 500

//go:embed assets
var assets embed.FS

// server is one mounted viewer.
type server struct {
	db    *sql.DB
	opts  Options
	trail []trail.Option
	log   *slog.Logger
}

// Handler returns the viewer of the trail in db, which must be opened
// through an audit driver (reverts are written, and recorded, through it).
// It serves every page and the JSON API under /api/ at the root of its own
// path space with relative links, so mount it under any prefix with
// http.StripPrefix:
//
//	mux.Handle("/admin/audit/", http.StripPrefix("/admin/audit", web.Handler(db, opts)))
//
// Writes (POST) are refused unless they come from the viewer's own origin
// (http.CrossOriginProtection), so another site cannot make a signed-in
// user's browser revert a transaction.
func Handler(db *sql.DB, opts Options) http.Handler {
	if opts.PageSize <= 0 {
		opts.PageSize = trail.DefaultTxLimit
	}
	opts.PageSize = min(opts.PageSize, MaxPageSize)
	if opts.Title == "" {
		opts.Title = "Audit trail"
	}
	s := &server{db: db, opts: opts, log: opts.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	if opts.AuditTable != "" {
		s.trail = append(s.trail, trail.WithTable(opts.AuditTable))
	}
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets/static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	s.routes(mux)
	mux.HandleFunc("/", s.page(func(w http.ResponseWriter, r *http.Request) error {
		return errorf(http.StatusNotFound, "no page %s here", r.URL.Path)
	}))
	return headers(http.NewCrossOriginProtection().Handler(s.authorize(View, mux)))
}

func (s *server) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", s.page(s.timelinePage))
	mux.HandleFunc("GET /tx/{id}", s.page(s.txPage))
	mux.HandleFunc("POST /tx/{id}/revert", s.page(s.authorized(Revert, s.revertForm)))
	mux.HandleFunc("GET /row", s.page(s.rowPage))
	mux.HandleFunc("GET /verify", s.page(s.verifyPage))
	mux.HandleFunc("GET /api/transactions", s.api(s.apiTransactions))
	mux.HandleFunc("GET /api/records", s.api(s.apiRecords))
	mux.HandleFunc("GET /api/count", s.api(s.apiCount))
	mux.HandleFunc("GET /api/tx/{id}", s.api(s.apiTx))
	mux.HandleFunc("GET /api/tx/{id}/plan", s.api(s.apiPlan))
	mux.HandleFunc("POST /api/tx/{id}/revert", s.api(s.authorized(Revert, s.apiRevert)))
	mux.HandleFunc("GET /api/row", s.api(s.apiRow))
	mux.HandleFunc("GET /api/row/asof", s.api(s.apiAsOf))
	mux.HandleFunc("GET /api/seal", s.api(s.apiSeal))
	mux.HandleFunc("GET /api/verify", s.api(s.apiVerify))
	mux.HandleFunc("/api/", s.api(func(w http.ResponseWriter, r *http.Request) error {
		return errorf(http.StatusNotFound, "no API call %s %s", r.Method, r.URL.Path)
	}))
}

// headers sets the security headers of every answer: the pages load only
// their own script and styles, are never framed, and no value is sniffed.
func headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
			"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Frame-Options", "DENY")
		h.ServeHTTP(w, r)
	})
}

// allowed applies Options.Authorize and its defaults.
func (s *server) allowed(r *http.Request, p Permission) bool {
	if s.opts.Authorize != nil {
		return s.opts.Authorize(r, p)
	}
	return p == View
}

// user is the request's user for a revert's actor.
func (s *server) user(r *http.Request) string {
	if s.opts.User == nil {
		return ""
	}
	return s.opts.User(r)
}

// canRevert reports that the request may revert: permitted, and a user.
func (s *server) canRevert(r *http.Request) bool {
	return s.allowed(r, Revert) && s.user(r) != ""
}

// authorize refuses every request without permission p.
func (s *server) authorize(p Permission, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.allowed(r, p) {
			msg := "you may not " + p.String() + " this audit trail"
			if strings.HasPrefix(r.URL.Path, "/api/") {
				writeJSON(w, http.StatusForbidden, map[string]any{"error": msg, "status": http.StatusForbidden})
			} else {
				http.Error(w, "sqlaudit viewer: "+msg, http.StatusForbidden)
			}
			return
		}
		h.ServeHTTP(w, r)
	})
}

// handlerFunc is a page or API call; its error decides the answer.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// authorized wraps h with a permission check beyond View.
func (s *server) authorized(p Permission, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		switch {
		case !s.allowed(r, p):
			return errorf(http.StatusForbidden, "you may not %s transactions of this trail", p)
		case p == Revert && s.user(r) == "":
			return errorf(http.StatusForbidden, "a revert needs a user to record as its actor, and this request has none")
		}
		return h(w, r)
	}
}

// httpError is an answer other than 200 with a message for people.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func errorf(status int, format string, a ...any) error {
	return &httpError{status: status, msg: fmt.Sprintf(format, a...)}
}

// status maps an error to its status and message; 500s are logged.
func (s *server) status(r *http.Request, err error) (int, string) {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.status, he.msg
	case errors.Is(err, trail.ErrNoRecords):
		return http.StatusNotFound, strings.TrimPrefix(err.Error(), "trail: ")
	case errors.Is(err, trail.ErrNoAuditTable):
		return http.StatusServiceUnavailable, "the audit table does not exist in this database (create it with 'sqlaudit migrate'): " + err.Error()
	case errors.Is(err, trail.ErrConflict), errors.Is(err, trail.ErrRedacted):
		return http.StatusConflict, strings.TrimPrefix(err.Error(), "trail: ")
	case errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable, "the request was cancelled"
	}
	s.log.ErrorContext(r.Context(), "sqlaudit viewer", "method", r.Method, "path", r.URL.Path, "err", err)
	return http.StatusInternalServerError, "the trail could not be read: " + err.Error()
}

// api adapts an API call: errors become {"error": …} with their status.
func (s *server) api(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			code, msg := s.status(r, err)
			writeJSON(w, code, map[string]any{"error": msg, "status": code})
		}
	}
}

// page adapts a page: errors become an error page with their status.
func (s *server) page(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			code, msg := s.status(r, err)
			s.render(w, r, code, "error", &errorView{base: s.base(r, "Error"), Status: code, StatusText: http.StatusText(code), Message: msg})
		}
	}
}

// writeJSON answers with v as JSON; records keep the shape of the CLI's
// -o json output (trail.Record's own encoding).
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	enc.Encode(v)
}
