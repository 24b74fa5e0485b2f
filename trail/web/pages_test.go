package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/sqlaudit/sqlaudit/trail/web"
)

var txLink = regexp.MustCompile(`class="tx-link" href="\./tx/(\d+)"`)

// timelineTxs lists the transactions a timeline page links, in order.
func timelineTxs(body string) []string {
	var out []string
	for _, m := range txLink.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

func ids(txs ...int64) []string {
	out := make([]string, len(txs))
	for i, t := range txs {
		out[i] = fmt.Sprint(t)
	}
	return out
}

func TestTimelineShowsTransactionsNewestFirstFilteredAndPaged(t *testing.T) {
	forEach(t, func(t *testing.T, s *shop) {
		srv := viewer(s, web.Options{PageSize: 3})
		defer srv.Close()
		body := mustGet(t, srv, "/")
		if got, want := timelineTxs(body), ids(s.txs[3], s.txs[2], s.txs[1]); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("first page %v, want %v", got, want)
		}
		contains(t, "timeline", body, "request_id=req-2", s.tbl("orders"), "1 UPDATE", `rel="next"`, "api/count?",
			`href="./?trace=`+bobTrace+`"`, `name="trace"`)
		older := regexp.MustCompile(`href="(\./\?before=\d+)" rel="next"`).FindStringSubmatch(body)
		if older == nil {
			t.Fatalf("no Older link:\n%s", body)
		}
		page2 := mustGet(t, srv, "/"+strings.TrimPrefix(strings.ReplaceAll(older[1], "&amp;", "&"), "./"))
		if got := timelineTxs(page2); fmt.Sprint(got) != fmt.Sprint(ids(s.txs[0])) {
			t.Errorf("second page %v, want %v", got, s.txs[0])
		}
		contains(t, "second page", page2, `rel="prev"`)
		for _, c := range []struct {
			query string
			want  []int64
		}{
			{"actor=bob", []int64{s.txs[1]}},
			{"table=" + url.QueryEscape(s.tbl("codes")), []int64{s.txs[3], s.txs[0]}},
			{"action=delete", []int64{s.txs[2]}},
			{"meta=request_id%3Dreq-1", []int64{s.txs[0]}},
			{"trace=" + bobTrace, []int64{s.txs[1]}},
			{"trace=" + strings.ToUpper(bobTrace), []int64{s.txs[1]}},
			{"trace=0af7651916cd43dd8448eb211c80319c", nil},
			{"column=total&action=UPDATE", []int64{s.txs[1]}},
			{"q=" + url.QueryEscape("update CODES"), []int64{s.txs[3]}},
			{"since=1h", []int64{s.txs[3], s.txs[2], s.txs[1]}},
			{"until=1h", nil},
			{"actor=nobody", nil},
		} {
			got := timelineTxs(mustGet(t, srv, "/?"+c.query))
			if fmt.Sprint(got) != fmt.Sprint(ids(c.want...)) {
				t.Errorf("?%s: %v, want %v", c.query, got, c.want)
			}
		}
	})
}

func TestTransactionPageGroupsCascadesUnderTheirStatement(t *testing.T) {
	forEach(t, func(t *testing.T, s *shop) {
		srv := viewer(s, web.Options{})
		defer srv.Close()
		body := mustGet(t, srv, fmt.Sprintf("/tx/%d", s.txs[2]))
		contains(t, "transaction page", body, "DELETE FROM customers WHERE id = 2", "carol", "request_id=req-3",
			`href="../row?key=%7B%22id%22%3A2%7D&amp;table=`, "Plan a revert")
		if s.cascades() {
			contains(t, "cascade", body, "Caused by this statement: 1 row", "1 more changed by its foreign-key actions or triggers")
			if strings.Count(body, `class="stmt"`) != 1 {
				t.Errorf("want one statement, the cascade under it:\n%s", body)
			}
		} else if strings.Count(body, `class="stmt"`) != 2 {
			t.Errorf("want two statements:\n%s", body)
		}
		contains(t, "update", mustGet(t, srv, fmt.Sprintf("/tx/%d", s.txs[1])), `<tr class="changed">`, "9.5", "12")
	})
}

func TestRowPageShowsHistoryAndAsOf(t *testing.T) {
	forEach(t, func(t *testing.T, s *shop) {
		srv := viewer(s, web.Options{})
		defer srv.Close()
		orders := url.QueryEscape(s.tbl("orders"))
		for _, key := range []string{`%7B%22id%22%3A10%7D`, "10", "id%3D10"} { // {"id":10}, 10, id=10
			body := mustGet(t, srv, "/row?table="+orders+"&key="+key)
			contains(t, "row page "+key, body, "INSERT", "UPDATE", `&#34;first&#34;`, fmt.Sprintf("transaction #%d", s.txs[1]), `name="record"`)
		}
		// the text key '42' stays text, so it finds its history
		body := mustGet(t, srv, "/row?table="+url.QueryEscape(s.tbl("codes"))+"&key=42")
		contains(t, "text key", body, `{&#34;code&#34;:&#34;42&#34;}`, "UPDATE")
		hist := regexp.MustCompile(`<option value="(\d+)"`).FindAllStringSubmatch(mustGet(t, srv, "/row?table="+orders+"&key=10"), -1)
		if len(hist) != 2 {
			t.Fatalf("want 2 records to pick: %v", hist)
		}
		first := mustGet(t, srv, "/row?table="+orders+"&key=10&record="+hist[0][1])
		contains(t, "as of the insert", first, "the row was", "9.5")
		contains(t, "as of an hour ago", mustGet(t, srv, "/row?table="+orders+"&key=10&at=1h"), "the row did not exist")
		deleted := mustGet(t, srv, "/row?table="+orders+"&key=11")
		contains(t, "deleted row", deleted, "DELETE")
	})
}

func TestHostileValuesRenderAsText(t *testing.T) {
	forEach(t, func(t *testing.T, s *shop) {
		srv := viewer(s, web.Options{})
		defer srv.Close()
		pages := []string{"/", fmt.Sprintf("/tx/%d", s.txs[0]), fmt.Sprintf("/tx/%d", s.txs[3]),
			"/row?table=" + url.QueryEscape(s.tbl("orders")) + "&key=11", "/row?table=" + url.QueryEscape(s.tbl("orders")) + "&key=12",
			"/?actor=" + url.QueryEscape(hostileImg), "/row?table=" + url.QueryEscape(hostileScript) + "&key=1"}
		for _, p := range pages {
			_, body := get(t, srv, p)
			lacks(t, p, body, hostileScript, hostileImg, "<script>alert", "<img src=x")
		}
		contains(t, "insert", mustGet(t, srv, fmt.Sprintf("/tx/%d", s.txs[0])),
			"&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;img src=x onerror=alert(1)&gt;")
		contains(t, "hostile actor and metadata", mustGet(t, srv, "/"), "&lt;img src=x onerror=alert(1)&gt;", "note=&lt;script&gt;")
	})
}

func TestVerifyPageShowsSealsAndTampering(t *testing.T) {
	forEach(t, func(t *testing.T, s *shop) {
		srv := viewer(s, web.Options{})
		defer srv.Close()
		contains(t, "unsealed", mustGet(t, srv, "/verify"), "never been sealed", "Not sealed yet")
		head := sealAll(t, s)
		body := mustGet(t, srv, "/verify")
		contains(t, "sealed", body, fmt.Sprintf("#%d", head.Seq), head.Hash, fmt.Sprintf("transaction #%d", s.txs[3]))
		contains(t, "verified", mustGet(t, srv, "/verify?run=1"), fmt.Sprintf("OK: %d sealed records verified, 0 not sealed yet", head.Seq))
		contains(t, "with head", mustGet(t, srv, fmt.Sprintf("/verify?run=1&head=%d:%s", head.Seq, head.Hash)), "OK:")
		var first int64
		s.plain.QueryRow(`SELECT min(id) FROM audit_log`).Scan(&first)
		mustExec(t, s.plain, fmt.Sprintf(`UPDATE audit_log SET actor = 'mallory' WHERE id = %d`, first))
		body = mustGet(t, srv, "/verify?run=1")
		contains(t, "tampered", body, "was tampered with", "the record was edited", fmt.Sprintf("First bad record: %d in", first),
			fmt.Sprintf("transaction #%d", s.txs[0]))
	})
}

func TestPagesAnswerBadInputWithAClearStatus(t *testing.T) {
	forEach(t, func(t *testing.T, s *shop) {
		srv := viewer(s, web.Options{})
		defer srv.Close()
		orders := url.QueryEscape(s.tbl("orders"))
		for _, c := range []struct {
			path string
			code int
			msg  string
		}{
			{"/tx/987654321", 404, "no records for transaction 987654321"},
			{"/tx/abc", 400, "bad transaction id"},
			{"/tx/-4", 400, "bad transaction id"},
			{"/?since=someday", 400, "bad since"},
			{"/?until=2025-13-45", 400, "bad until"},
			{"/?action=MERGE", 400, "bad action"},
			{"/?meta=nokey", 400, "bad metadata filter"},
			{"/?before=x", 400, "bad before"},
			{"/?before=5&after=2", 400, "not both"},
			{"/?limit=100000", 400, "bad limit"},
			{"/row?table=nope&key=1", 404, "no records of table"},
			{"/row?table=" + orders + "&key=999", 404, "no records of " + s.tbl("orders")},
			{"/row?table=" + orders + "&key=%7Bbad", 400, "bad key"},
			{"/row?table=" + orders + "&key=id%3Dabc", 400, "is a number in the trail"},
			{"/row?table=" + orders + "&key=nope%3D1", 400, "key columns"},
			{"/row?table=" + orders, 400, "needs a key"},
			{"/row?key=1", 400, "needs a table"},
			{"/row?table=" + orders + "&key=10&at=later", 400, "bad at"},
			{"/row?table=" + orders + "&key=10&record=1x", 400, "bad record"},
			{"/row?table=" + orders + "&key=10&record=987654321", 404, "not a record of"},
			{"/verify?run=1&head=12", 400, "bad head"},
			{"/nowhere", 404, "no page"},
		} {
			code, body := get(t, srv, c.path)
			if code != c.code || !strings.Contains(body, c.msg) {
				t.Errorf("GET %s: %d, want %d with %q:\n%s", c.path, code, c.code, c.msg, body)
			}
		}
	})
}

func TestAMissingAuditTableIsExplained(t *testing.T) {
	s := openShop(t, "audit-sqlite3")
	srv := viewer(s, web.Options{AuditTable: "no_such_audit"})
	defer srv.Close()
	code, body := get(t, srv, "/")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "sqlaudit migrate") {
		t.Errorf("missing audit table: %d %s", code, body)
	}
}

func TestAHugeTransactionPageShowsItsFirstRecords(t *testing.T) {
	s := openShop(t, "audit-sqlite3")
	stmts := make([]string, web.MaxTxRecords+5)
	for i := range stmts {
		stmts[i] = fmt.Sprintf(`INSERT INTO codes VALUES ('c%d', %d)`, i, i)
	}
	s.step(t, "bulk", nil, stmts...)
	srv := viewer(s, web.Options{})
	defer srv.Close()
	body := mustGet(t, srv, fmt.Sprintf("/tx/%d", s.txs[len(s.txs)-1]))
	contains(t, "huge transaction", body, fmt.Sprintf("the first %d of the %d records", web.MaxTxRecords, web.MaxTxRecords+5),
		fmt.Sprintf("<dt>Rows</dt><dd>%d</dd>", web.MaxTxRecords+5))
	if n := strings.Count(body, `<article class="rec insert"`); n != web.MaxTxRecords {
		t.Errorf("%d records shown, want %d", n, web.MaxTxRecords)
	}
}
