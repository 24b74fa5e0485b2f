package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sqlaudit/sqlaudit/integration/internal/oracle"
)

// The service, driven over HTTP on each audit driver: every write is
// recorded exactly (the oracle), with the authenticated user as the actor
// and the request id in the metadata, and the history endpoint shows it.
func TestShopRecordsWhoChangedWhatOverHTTP(t *testing.T) {
	oracle.ForEachDriver(t, func(t *testing.T, e *oracle.Env) {
		dsn := e.DSN
		if e.MySQL() {
			dsn = "mysql://" + dsn
		}
		app, err := Open(dsn)
		if err != nil {
			t.Fatal(err)
		}
		if e.Postgres() { // MariaDB names tables of the connection's database plainly
			app.Table = e.Schema + ".products"
		}
		srv := httptest.NewServer(app.Handler())
		defer srv.Close()
		call := func(user, method, path, body string, want int) []byte {
			t.Helper()
			req, _ := http.NewRequest(method, srv.URL+path, bytes.NewBufferString(body))
			req.Header.Set("X-Request-Id", "req-"+method+path)
			if user != "" {
				req.SetBasicAuth(user, "")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			out, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != want {
				t.Fatalf("%s %s as %q: %d %s, want %d", method, path, user, resp.StatusCode, out, want)
			}
			return out
		}
		products := []string{"products"}
		e.Check(t, "alice", products, func() {
			call("alice", "POST", "/products", `{"name":"tea","price":4.5,"stock":10}`, http.StatusCreated)
			call("alice", "POST", "/products", `{"name":"coffee","price":7,"stock":5}`, http.StatusCreated)
		})
		e.Check(t, "bob", products, func() { call("bob", "PATCH", "/products/1", `{"price":5}`, http.StatusOK) })
		e.Check(t, "carol", products, func() { call("carol", "POST", "/products/discount", `{"Percent":10}`, http.StatusOK) })
		e.Check(t, "alice", products, func() { call("alice", "DELETE", "/products/2", "", http.StatusNoContent) })
		call("", "PATCH", "/products/1", `{"price":1}`, http.StatusUnauthorized)
		call("bob", "PATCH", "/products/99", `{"price":1}`, http.StatusNotFound)

		var hist []struct {
			Actor    string
			Action   string
			Metadata map[string]any
		}
		if err := json.Unmarshal(call("", "GET", "/products/1/history", "", http.StatusOK), &hist); err != nil {
			t.Fatal(err)
		}
		want := []string{"alice INSERT req-POST/products", "bob UPDATE req-PATCH/products/1", "carol UPDATE req-POST/products/discount"}
		if len(hist) != len(want) {
			t.Fatalf("history has %d records, want %d: %+v", len(hist), len(want), hist)
		}
		for i, h := range hist {
			if got := h.Actor + " " + h.Action + " " + h.Metadata["request_id"].(string); got != want[i] {
				t.Errorf("history[%d] = %q, want %q", i, got, want[i])
			}
		}
	})
}
