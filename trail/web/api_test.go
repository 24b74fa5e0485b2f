package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/sqlaudit/sqlaudit/trail"
	"github.com/sqlaudit/sqlaudit/trail/web"
)

// getJSON fetches an API call and decodes its answer into v.
func getJSON(t *testing.T, srv *httptest.Server, path string, v any) int {
	t.Helper()
	code, body := get(t, srv, path)
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %d, not JSON: %v\n%s", path, code, err, body)
	}
	return code
}

// post sends a request body to a path under the viewer's prefix.
func post(t *testing.T, srv *httptest.Server, path, ctype, body string, hdr map[string]string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/admin/audit"+path, strings.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	client := *srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

// encoded is v as encoding/json writes it, the shape of `sqlaudit log -o json`.
func encoded(t *testing.T, v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestAPIRecordsAreShapedAsTheTrailEncodesThem(t *testing.T) {
	forEach(t, func(t *testing.T, s *shop) {
		srv := viewer(s, web.Options{})
		defer srv.Close()
		want, err := trail.Log(context.Background(), s.db, trail.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		var got []trail.Record
		for after := ""; ; {
			var page struct {
				Records []json.RawMessage `json:"records"`
				Next    int64             `json:"next"`
			}
			getJSON(t, srv, "/api/records?order=oldest&limit=4"+after, &page)
			for _, raw := range page.Records {
				var r trail.Record
				dec := json.NewDecoder(bytes.NewReader(raw))
				dec.UseNumber()
				if err := dec.Decode(&r); err != nil {
					t.Fatal(err)
				}
				got = append(got, r)
			}
			if page.Next == 0 {
				break
			}
			after = fmt.Sprintf("&after=%d", page.Next)
		}
		if encoded(t, got) != encoded(t, want) {
			t.Errorf("records through the API:\n%s\nwant:\n%s", encoded(t, got), encoded(t, want))
		}
		var newest struct{ Records []trail.Record }
		getJSON(t, srv, "/api/records?actor=alice&limit=2", &newest)
		if len(newest.Records) != 2 || newest.Records[0].ID < newest.Records[1].ID || newest.Records[0].Actor != "alice" {
			t.Errorf("newest first for alice: %+v", newest.Records)
		}
		var row struct{ Records []trail.Record }
		getJSON(t, srv, "/api/records?table="+url.QueryEscape(s.tbl("orders"))+"&key=10", &row)
		if len(row.Records) != 2 {
			t.Errorf("records of orders 10: %d", len(row.Records))
		}
	})
}

func TestAPITimelineCountTransactionRowAndSeal(t *testing.T) {
	forEach(t, func(t *testing.T, s *shop) {
		srv := viewer(s, web.Options{})
		defer srv.Close()
		var page trail.TxPage
		getJSON(t, srv, "/api/transactions?limit=2", &page)
		if len(page.Transactions) != 2 || page.Transactions[0].TxID != s.txs[3] || page.Older == 0 || page.Newer != 0 {
			t.Fatalf("first page: %+v", page)
		}
		var page2 trail.TxPage
		getJSON(t, srv, fmt.Sprintf("/api/transactions?limit=2&before=%d", page.Older), &page2)
		if len(page2.Transactions) != 2 || page2.Transactions[1].TxID != s.txs[0] || page2.Older != 0 || page2.Newer == 0 {
			t.Fatalf("second page: %+v", page2)
		}
		var n trail.Counts
		getJSON(t, srv, "/api/count?actor=alice", &n)
		if n.Transactions != 1 || n.Records != 6 {
			t.Errorf("count of alice: %+v", n)
		}
		var tx struct {
			TxID       int64
			Records    []trail.Record
			Statements []struct {
				Query    string
				Records  []int64
				Cascades []int64
			}
		}
		getJSON(t, srv, fmt.Sprintf("/api/tx/%d", s.txs[2]), &tx)
		if s.cascades() && (len(tx.Statements) != 1 || len(tx.Statements[0].Records) != 1 || len(tx.Statements[0].Cascades) != 1) {
			t.Errorf("cascade: %+v", tx.Statements)
		}
		if len(tx.Records) != 2 {
			t.Errorf("records of the delete: %+v", tx.Records)
		}
		var asof struct {
			Exists  bool
			Row     map[string]any
			Columns []struct{ Name, Value string }
		}
		getJSON(t, srv, "/api/row/asof?table="+url.QueryEscape(s.tbl("codes"))+"&key=42&at=1h", &asof)
		if asof.Exists {
			t.Errorf("codes 42 an hour ago: %+v", asof)
		}
		var hist struct{ Records []trail.Record }
		getJSON(t, srv, "/api/row?table="+url.QueryEscape(s.tbl("codes"))+"&key=42", &hist)
		if len(hist.Records) != 2 {
			t.Fatalf("history of codes 42: %+v", hist)
		}
		getJSON(t, srv, fmt.Sprintf("/api/row/asof?table=%s&key=42&record=%d", url.QueryEscape(s.tbl("codes")), hist.Records[0].ID), &asof)
		if !asof.Exists || len(asof.Columns) != 2 || asof.Columns[0].Name != "code" || asof.Columns[1].Value != "1" {
			t.Errorf("codes 42 after its insert: %+v", asof)
		}
		var seal trail.SealStatus
		getJSON(t, srv, "/api/seal", &seal)
		if seal.Sealed || seal.Newer != int64(len(tx.Records)+7+2) {
			t.Errorf("seal status: %+v", seal)
		}
		var ver struct{ OK bool }
		getJSON(t, srv, "/api/verify", &ver)
		if !ver.OK {
			t.Errorf("verify of an unsealed trail: %+v", ver)
		}
	})
}

func TestAPIAnswersBadInputWithJSONErrors(t *testing.T) {
	forEach(t, func(t *testing.T, s *shop) {
		srv := viewer(s, web.Options{})
		defer srv.Close()
		for _, c := range []struct {
			path string
			code int
			msg  string
		}{
			{"/api/tx/987654321", 404, "no records for transaction"},
			{"/api/tx/0", 400, "bad transaction id"},
			{"/api/tx/987654321/plan", 404, "no records for transaction"},
			{"/api/transactions?since=tomorrowish", 400, "bad since"},
			{"/api/records?order=sideways", 400, "bad order"},
			{"/api/records?tx=x", 400, "bad tx"},
			{"/api/records?table=nope&key=3", 404, "no records of table"},
			{"/api/count?meta==x", 400, "bad metadata filter"},
			{"/api/count?trace=xyz", 400, "bad trace id"},
			{"/api/records?trace=00000000000000000000000000000000", 400, "bad trace id"},
			{"/api/row?table=nope&key=1", 404, "no records of table"},
			{"/api/row?table=" + url.QueryEscape(s.tbl("orders")) + "&key=%5B1%5D", 400, "bad key"},
			{"/api/row/asof?table=" + url.QueryEscape(s.tbl("orders")) + "&key=10", 400, "as of what"},
			{"/api/row/asof?table=" + url.QueryEscape(s.tbl("orders")) + "&key=10&at=x", 400, "bad at"},
			{"/api/verify?head=1:abc", 400, "bad head"},
			{"/api/nothing", 404, "no API call"},
		} {
			var e struct {
				Error  string
				Status int
			}
			code := getJSON(t, srv, c.path, &e)
			if code != c.code || e.Status != c.code || !strings.Contains(e.Error, c.msg) {
				t.Errorf("GET %s: %d %+v, want %d with %q", c.path, code, e, c.code, c.msg)
			}
		}
	})
}

// reverter may view and revert, as the user "ops".
var reverter = web.Options{
	Authorize: func(*http.Request, web.Permission) bool { return true },
	User:      func(*http.Request) string { return "ops" },
}

func TestRevertNeedsPermissionTheDryRunsConfirmAndTheSameOrigin(t *testing.T) {
	forEach(t, func(t *testing.T, s *shop) {
		ctx := context.Background()
		srv := viewer(s, reverter)
		defer srv.Close()
		var plan struct {
			Statements []struct{ SQL string }
			Conflicts  []struct{ Reason string }
			Confirm    string
			CanRevert  bool `json:"can_revert"`
		}
		getJSON(t, srv, fmt.Sprintf("/api/tx/%d/plan", s.txs[1]), &plan)
		if len(plan.Statements) != 1 || len(plan.Conflicts) != 0 || plan.Confirm == "" || !plan.CanRevert {
			t.Fatalf("plan: %+v", plan)
		}
		path := fmt.Sprintf("/api/tx/%d/revert", s.txs[1])
		code, _, body := post(t, srv, path, "application/json", `{"confirm":"`+plan.Confirm+`"}`, map[string]string{"Sec-Fetch-Site": "cross-site"})
		if code != http.StatusForbidden {
			t.Errorf("a cross-site revert: %d %s", code, body)
		}
		if code, _, body := post(t, srv, path, "application/json", `{"confirm":"stale"}`, nil); code != http.StatusConflict || !strings.Contains(body, "changed since") {
			t.Errorf("a stale confirm: %d %s", code, body)
		}
		if code, _, body := post(t, srv, path, "application/json", `{}`, nil); code != http.StatusBadRequest || !strings.Contains(body, "confirm value") {
			t.Errorf("no confirm: %d %s", code, body)
		}
		if code, _, body := post(t, srv, path, "application/json", `{"confirm":`, nil); code != http.StatusBadRequest || !strings.Contains(body, "bad JSON") {
			t.Errorf("bad JSON: %d %s", code, body)
		}
		code, _, body = post(t, srv, path, "application/json", `{"confirm":"`+plan.Confirm+`"}`, map[string]string{"Sec-Fetch-Site": "same-origin"})
		var done struct {
			Reverted int64
			RevertTx int64 `json:"revert_tx"`
			Rows     int64
		}
		json.Unmarshal([]byte(body), &done)
		if code != http.StatusOK || done.Rows != 1 || done.RevertTx == 0 {
			t.Fatalf("revert: %d %s", code, body)
		}
		recs, err := trail.Transaction(ctx, s.db, done.RevertTx)
		if err != nil || len(recs) != 1 || recs[0].Actor != "ops" || recs[0].Old["total"] == nil {
			t.Errorf("the revert's records: %+v %v", recs, err)
		}
		// reverting it again now conflicts with the revert: force is needed
		plan.Conflicts = nil
		getJSON(t, srv, fmt.Sprintf("/api/tx/%d/plan", s.txs[1]), &plan)
		if len(plan.Conflicts) != 1 {
			t.Fatalf("plan after the revert: %+v", plan)
		}
		if code, _, body := post(t, srv, path, "application/json", `{"confirm":"`+plan.Confirm+`"}`, nil); code != http.StatusConflict || !strings.Contains(body, "force") {
			t.Errorf("conflict without force: %d %s", code, body)
		}
		// the page's form: a confirmation box, then to the revert's transaction
		form := url.Values{"confirm": {plan.Confirm}, "force": {"yes"}}
		fpath := fmt.Sprintf("/tx/%d/revert", s.txs[1])
		if code, _, body := post(t, srv, fpath, "application/x-www-form-urlencoded", form.Encode(), nil); code != http.StatusBadRequest || !strings.Contains(body, "tick the box") {
			t.Errorf("unconfirmed form: %d", code)
		}
		form.Set("sure", "yes")
		code, hdr, _ := post(t, srv, fpath, "application/x-www-form-urlencoded", form.Encode(), nil)
		if code != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), "../") {
			t.Fatalf("form revert: %d %v", code, hdr)
		}
		next, _ := url.Parse(srv.URL + "/admin/audit" + fpath)
		loc, _ := next.Parse(hdr.Get("Location"))
		contains(t, "the revert's page", mustGet(t, srv, strings.TrimPrefix(loc.Path, "/admin/audit")), "Reverts", fmt.Sprintf("transaction #%d", s.txs[1]), "ops")
	})
}

func TestAuthorizeDecidesWhoViewsAndWhoReverts(t *testing.T) {
	s := openShop(t, "audit-sqlite3")
	viewOnly := viewer(s, web.Options{User: func(*http.Request) string { return "ops" }})
	defer viewOnly.Close()
	contains(t, "the plan for a viewer", mustGet(t, viewOnly, fmt.Sprintf("/tx/%d?plan=1", s.txs[1])), "You may not revert")
	code, _, body := post(t, viewOnly, fmt.Sprintf("/api/tx/%d/revert", s.txs[1]), "application/json", `{"confirm":"x"}`, nil)
	if code != http.StatusForbidden || !strings.Contains(body, "may not revert") {
		t.Errorf("revert without permission: %d %s", code, body)
	}
	anonymous := viewer(s, web.Options{Authorize: func(*http.Request, web.Permission) bool { return true }})
	defer anonymous.Close()
	if code, _, body := post(t, anonymous, fmt.Sprintf("/api/tx/%d/revert", s.txs[1]), "application/json", `{"confirm":"x"}`, nil); code != http.StatusForbidden || !strings.Contains(body, "needs a user") {
		t.Errorf("revert without a user: %d %s", code, body)
	}
	nobody := viewer(s, web.Options{Authorize: func(r *http.Request, p web.Permission) bool { return r.Header.Get("X-User") == "admin" }})
	defer nobody.Close()
	for _, p := range []string{"/", "/api/transactions", "/static/app.css"} {
		if code, _ := get(t, nobody, p); code != http.StatusForbidden {
			t.Errorf("GET %s without permission: %d", p, code)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, nobody.URL+"/admin/audit/", nil)
	req.Header.Set("X-User", "admin")
	res, err := nobody.Client().Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Errorf("GET / as admin: %v %v", res, err)
	}
	res.Body.Close()
}

func TestAssetsAreEmbeddedAndPagesSetSecurityHeaders(t *testing.T) {
	s := openShop(t, "audit-sqlite3")
	srv := viewer(s, web.Options{})
	defer srv.Close()
	for _, p := range []string{"/static/app.css", "/static/app.js"} {
		if body := mustGet(t, srv, p); len(body) < 500 {
			t.Errorf("%s: %d bytes", p, len(body))
		}
	}
	res, err := srv.Client().Get(srv.URL + "/admin/audit/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers: %v", res.Header)
	}
}
