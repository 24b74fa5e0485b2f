package audithttp_test

import (
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqlaudit/sqlaudit/audithttp"
	_ "github.com/sqlaudit/sqlaudit/auditsqlite3"
	"github.com/sqlaudit/sqlaudit/trail"
)

// A handler's audited writes are recorded with the request's user and
// request id; the id is the client's when sensible, else a new one, and the
// response says which.
func TestWritesAreRecordedWithTheUserAndTheRequestID(t *testing.T) {
	db, err := sql.Open("audit-sqlite3", "file:"+filepath.Join(t.TempDir(), "app.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)`); err != nil {
		t.Fatal(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := db.ExecContext(r.Context(), `INSERT INTO notes (body) VALUES (?)`, audithttp.RequestID(r.Context())); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	h := audithttp.Middleware(audithttp.Options{
		User: func(r *http.Request) string { u, _, _ := r.BasicAuth(); return u },
		Metadata: func(r *http.Request) map[string]any {
			return map[string]any{"path": r.URL.Path, "request_id": "overridden"}
		},
	})(app)
	for _, c := range []struct {
		user, sentID string
		keepsID      bool
	}{
		{"alice", "req-123", true},
		{"", "", false},
		{"bob", "bad id\nwith a newline", false},
		{"carol", strings.Repeat("x", 129), false},
	} {
		req := httptest.NewRequest(http.MethodPost, "/notes", nil)
		if c.user != "" {
			req.SetBasicAuth(c.user, "pw")
		}
		if c.sentID != "" {
			req.Header.Set("X-Request-Id", c.sentID)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		id := rec.Header().Get("X-Request-Id")
		if rec.Code != 200 || id == "" || (id == c.sentID) != c.keepsID {
			t.Errorf("%+v: status %d, response id %q", c, rec.Code, id)
			continue
		}
		recs, err := trail.Log(context.Background(), db, trail.Filter{Metadata: map[string]string{"request_id": id}})
		if err != nil || len(recs) != 1 {
			t.Fatalf("%+v: %d records with request_id %q, %v", c, len(recs), id, err)
		}
		if r := recs[0]; r.Actor != c.user || r.Metadata["path"] != "/notes" || r.New["body"] != id {
			t.Errorf("%+v: record %+v", c, r)
		}
	}
}
