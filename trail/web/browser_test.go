package web_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// chromium finds the browser: $SQLAUDIT_CHROMIUM (scripts/chromium.sh sets
// it), else chromium on PATH. Without one the test fails in CI and skips
// elsewhere, saying why.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SQLAUDIT_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "no Chromium for the browser tests: install Debian's chromium (scripts/test.sh does, as root with apt-get) or set SQLAUDIT_CHROMIUM"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " — the browser tests must run in CI")
	}
	t.Skip(msg)
	return ""
}

// browser starts a headless Chromium with a fresh profile for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(bctx); err != nil { // starts the browser, bound to no timeout
		t.Fatalf("starting Chromium: %v", err)
	}
	return bctx
}

// artifacts is where the screenshots go: $SQLAUDIT_ARTIFACTS/browser, else
// a temporary directory of the test.
func artifacts(t *testing.T, name string) string {
	dir := os.Getenv("SQLAUDIT_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	dir = filepath.Join(dir, "browser", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tab is one browser tab on the viewer; it counts JavaScript dialogs.
type tab struct {
	t       *testing.T
	ctx     context.Context // the tab, with a timeout for the whole walk
	base    string          // the viewer's URL
	dir     string          // screenshots
	shots   int
	dialogs atomic.Int32
}

func newTab(t *testing.T, bctx context.Context, srv *httptest.Server, dir string) *tab {
	t.Helper()
	tctx, cancel := chromedp.NewContext(bctx)
	t.Cleanup(cancel)
	if err := chromedp.Do(tctx); err != nil { // opens the tab
		t.Fatal(err)
	}
	ctx, cancelTimeout := context.WithTimeout(tctx, 2*time.Minute)
	t.Cleanup(cancelTimeout)
	tb := &tab{t: t, ctx: ctx, base: srv.URL + "/admin/audit/", dir: dir}
	dialogs := chromedp.Events(tctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			tb.dialogs.Add(1)
			chromedp.Call(tctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	return tb
}

// do runs browser actions, failing the test on an error.
func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
}

// follow runs actions that load a page (a click, a submit) and waits
// for it; the page must answer 200.
func (tb *tab) follow(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	res, err := chromedp.RunResponse(tb.ctx, actions...)
	if err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
	if res.Status != 200 {
		tb.t.Fatalf("%s: %s answered %d", what, res.URL, res.Status)
	}
}

// shot saves a full-page screenshot as the next artifact.
func (tb *tab) shot(name string) {
	tb.t.Helper()
	png, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Fatalf("screenshot %s: %v", name, err)
	}
	tb.shots++
	path := filepath.Join(tb.dir, fmt.Sprintf("%02d-%s.png", tb.shots, name))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("screenshot %s", path)
}

// eval evaluates a JavaScript expression.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// text is the text of the first element sel matches.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	s, err := chromedp.Run(tb.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		tb.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// until waits for a JavaScript condition to hold. chromedp's poll does not
// survive a navigation: when the page it polls is replaced (a click's
// navigation still committing when the response arrived), the browser
// answers that the execution context is gone, and the condition is asked
// again of the new page.
func until(expr string) chromedp.Action[chromedp.Void] {
	poll := chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(20*time.Second))
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		for {
			v, err := poll(ctx, t)
			if !navigatedAway(err) {
				return v, err
			}
			select {
			case <-ctx.Done():
				return v, fmt.Errorf("%w (last: %v)", ctx.Err(), err)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

// navigatedAway reports whether err says the page a script ran in was
// replaced by a navigation.
func navigatedAway(err error) bool {
	var ce *cdproto.Error
	return errors.As(err, &ce) && (strings.Contains(ce.Message, "Cannot find context with specified id") ||
		strings.Contains(ce.Message, "Execution context was destroyed"))
}

func TestBrowserWalksTheViewer(t *testing.T) {
	bctx := browser(t)
	for _, d := range drivers {
		t.Run(d, func(t *testing.T) {
			s := openShop(t, d)
			srv := viewer(s, reverter)
			defer srv.Close()
			tb := newTab(t, bctx, srv, artifacts(t, d))
			walk(t, tb, s)
			if n := tb.dialogs.Load(); n != 0 {
				t.Errorf("%d JavaScript dialogs opened: a value ran as script", n)
			}
		})
	}
}

// walk is a person's visit: the timeline, filtered by actor, a
// transaction, a row's history and as-of, a hostile value, verify, the
// keyboard, a phone and the dark theme.
func walk(t *testing.T, tb *tab, s *shop) {
	visible := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.WaitVisible(chromedp.CSS(sel)) }
	tb.do("open the timeline", chromedp.Navigate(tb.base), visible("table.timeline"),
		until(`document.querySelector("[data-count]").textContent.includes("transactions,")`))
	if rows := eval[int](tb, `document.querySelectorAll("tr.tx").length`); rows != len(s.txs) {
		t.Errorf("timeline: %d transactions, want %d", rows, len(s.txs))
	}
	if c := tb.text("[data-count]"); !strings.Contains(c, fmt.Sprintf("%d transactions", len(s.txs))) {
		t.Errorf("count: %q", c)
	}
	tb.shot("timeline")

	tb.do("type an actor", chromedp.SendKeys(chromedp.CSS(`input[name=actor]`), "bob"))
	tb.follow("filter by actor", chromedp.Click(chromedp.CSS(`form.filters button[type=submit]`)))
	tb.do("the filtered timeline", until(`location.search.includes("actor=bob")`), visible("a.tx-link"))
	rows := eval[int](tb, `document.querySelectorAll("tr.tx").length`)
	if link := tb.text("a.tx-link"); rows != 1 || link != fmt.Sprintf("#%d", s.txs[1]) {
		t.Errorf("filtered by bob: %d rows, first %q", rows, link)
	}
	tb.shot("timeline-actor-bob")

	tb.follow("open the transaction", chromedp.Click(chromedp.CSS(`a.tx-link`)))
	tb.do("the transaction", visible("section.stmt"))
	if h := tb.text("h1"); h != fmt.Sprintf("Transaction #%d", s.txs[1]) {
		t.Errorf("transaction heading %q", h)
	}
	if c := tb.text("tr.changed"); !strings.Contains(c, "total") || !strings.Contains(c, "12") {
		t.Errorf("changed column: %q", c)
	}
	tb.shot("transaction")

	tb.follow("open the row", chromedp.Click(chromedp.CSS(`a.row-link`)))
	tb.do("the row", visible("ol.history"))
	if recs := eval[int](tb, `document.querySelectorAll("ol.history > li").length`); recs != 2 {
		t.Errorf("row history: %d records, want 2", recs)
	}
	tb.do("as of its first record, by the script",
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector("#asof-record select"); s.selectedIndex = 0; s.dispatchEvent(new Event("change")); })()`),
		until(`document.querySelector("#asof-result").textContent.includes("the row was")`))
	if v := tb.text("#asof-result"); !strings.Contains(v, "first") || !strings.Contains(v, "9.5") {
		t.Errorf("as of the insert: %q", v)
	}
	tb.shot("row-history")

	tb.do("open the hostile insert", chromedp.Navigate(tb.base+fmt.Sprintf("tx/%d", s.txs[0])), visible("section.stmt"))
	main := tb.text("main")
	imgs := eval[int](tb, `document.querySelectorAll("main img").length`)
	scripts := eval[int](tb, `document.querySelectorAll("main script").length`)
	if !strings.Contains(main, hostileImg) || !strings.Contains(main, hostileScript) || imgs != 0 || scripts != 0 {
		t.Errorf("hostile values: shown as text %v %v, img elements %d, script elements %d",
			strings.Contains(main, hostileImg), strings.Contains(main, hostileScript), imgs, scripts)
	}
	tb.shot("hostile-values")

	tb.do("open verify", chromedp.Navigate(tb.base+"verify"))
	tb.follow("verify now", chromedp.Click(chromedp.CSS(`form.inline button`)))
	tb.do("the result", visible("p.ok"))
	if v := tb.text("p.ok"); !strings.Contains(v, "OK") {
		t.Errorf("verify: %q", v)
	}
	tb.shot("verify")

	tb.do("tab to the skip link", chromedp.Navigate(tb.base), visible("table.timeline"), chromedp.KeyEvent("\t"))
	if focused := eval[string](tb, `document.activeElement.className`); focused != "skip" {
		t.Errorf("the first Tab focuses %q, want the skip link", focused)
	}

	tb.do("a phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(tb.base), visible("table.timeline"))
	if eval[bool](tb, `document.documentElement.scrollWidth > window.innerWidth + 1`) {
		t.Errorf("the timeline is wider than a phone")
	}
	tb.shot("timeline-phone")

	tb.do("plan a revert", chromedp.Navigate(tb.base+fmt.Sprintf("tx/%d", s.txs[1])), visible("section.revert button"))
	tb.follow("the dry run", chromedp.Click(chromedp.CSS(`section.revert button`)))
	tb.do("the plan", visible("ol.plan"))
	if p := tb.text("ol.plan"); !strings.Contains(p, "UPDATE") {
		t.Errorf("revert plan: %q", p)
	}
	tb.shot("revert-plan")
	tb.do("confirm", chromedp.Click(chromedp.CSS(`form.confirm input[name=sure]`)))
	tb.follow("revert", chromedp.Click(chromedp.CSS(`form.confirm button`)))
	tb.do("the revert's transaction", visible("dl.facts"))
	if f := tb.text("dl.facts"); !strings.Contains(f, fmt.Sprintf("transaction #%d", s.txs[1])) || !strings.Contains(f, "ops") {
		t.Errorf("after the revert: %q", f)
	}
	tb.shot("reverted")

	dark := emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}
	if _, err := chromedp.Call(tb.ctx, emulation.SetEmulatedMedia, dark); err != nil {
		t.Fatal(err)
	}
	tb.do("the dark theme", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(tb.base), visible("table.timeline"))
	if bg := eval[string](tb, `getComputedStyle(document.body).backgroundColor`); bg != "rgb(17, 20, 24)" {
		t.Errorf("dark background %q", bg)
	}
	tb.shot("timeline-dark")
}
