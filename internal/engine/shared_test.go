package engine

import (
	"context"
	"database/sql/driver"
	"strconv"
	"sync"
	"testing"

	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// pgText is a dialect that only analyses PostgreSQL text: enough for the
// caches, which never run a statement.
type pgText struct{ analysed int }

func (*pgText) Name() string          { return "test" }
func (*pgText) Features() Features    { return 0 }
func (*pgText) Ident(s string) string { return sqlstmt.QuoteIdent(s) }
func (d *pgText) Analyse(q string) *sqlstmt.Analysis {
	d.analysed++
	return sqlstmt.Analyse(q, sqlstmt.PostgreSQL)
}
func (*pgText) AuditDDL(string) []string                           { return nil }
func (*pgText) Sealing(sqlstmt.TableRef, sqlstmt.TableRef) SealSQL { return SealSQL{} }
func (*pgText) Open(context.Context, *Session) (Conn, error)       { return nil, nil }
func (*pgText) CommitAmbiguous(error) bool                         { return false }
func (*pgText) Run(*Execution) (driver.Result, driver.Rows, error) { return nil, nil, nil }
func (*pgText) LoadTable(context.Context, *Session, sqlstmt.TableRef) (*TableInfo, error) {
	return nil, nil
}

func newTestShared() (*Shared, *pgText) {
	d := &pgText{}
	return NewShared(d, NewFilter(nil, nil, nil), "audit_log"), d
}

func TestAnalysisCacheHitDoesNotAllocate(t *testing.T) {
	sh, _ := newTestShared()
	q := `UPDATE accounts SET balance = balance - $1 WHERE region = $2`
	first := sh.Analysis(q)
	if n := testing.AllocsPerRun(100, func() {
		if sh.Analysis(q) != first {
			t.Fatal("cache miss on the same text")
		}
	}); n != 0 {
		t.Fatalf("a cache hit allocates %.0f times", n)
	}
}

func TestAnalysisCacheIsBoundedAndKeepsWhatIsInUse(t *testing.T) {
	sh, d := newTestShared()
	hot := `UPDATE accounts SET balance = 0 WHERE id = $1`
	sh.Analysis(hot)
	for i := 0; i < 2*MaxAnalyses; i++ {
		sh.Analysis("UPDATE t SET v = " + strconv.Itoa(i) + " WHERE id = 1") // texts built with literals
		sh.Analysis(hot)
	}
	if n := sh.Analyses(); n > MaxAnalyses {
		t.Fatalf("cache holds %d analyses, bound is %d", n, MaxAnalyses)
	}
	before := d.analysed
	sh.Analysis(hot)
	if d.analysed != before {
		t.Fatal("the statement used between every other one was evicted: the cache dropped it with the rest")
	}
	sh.Analysis("UPDATE t SET v = 0 WHERE id = 1") // the oldest literal text: evicted
	if d.analysed != before+1 {
		t.Fatal("the least recently used text was not the one evicted")
	}
}

func TestOneAnalysisPerTextUnderConcurrency(t *testing.T) {
	sh, _ := newTestShared()
	q := `DELETE FROM accounts WHERE id = $1`
	got := make([]*sqlstmt.Analysis, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() { got[i] = sh.Analysis(q) })
	}
	wg.Wait()
	for _, a := range got[1:] {
		if a != got[0] {
			t.Fatal("connections analysing one text at once got different analyses (their plans would not be shared)")
		}
	}
}

func TestPlanCacheBuildsEachPlanOnceAndEvictsTheLeastRecentlyUsed(t *testing.T) {
	sh, _ := newTestShared()
	built := 0
	key := func(i int) PlanKey { return PlanKey{Stmt: sh.Analysis("DELETE FROM t WHERE id = " + strconv.Itoa(i))} }
	build := func() any { built++; return "plan" }
	hot := key(-1)
	sh.Plan(hot, build)
	for i := 0; i < MaxPlans+10; i++ {
		sh.Plan(key(i), build)
		sh.Plan(hot, build)
	}
	if built != MaxPlans+11 {
		t.Fatalf("built %d plans for %d keys", built, MaxPlans+11)
	}
	if sh.Plans() > MaxPlans {
		t.Fatalf("cache holds %d plans, bound is %d", sh.Plans(), MaxPlans)
	}
	sh.Plan(hot, build)
	if built != MaxPlans+11 {
		t.Fatal("the plan in use was evicted")
	}
}

func TestEqualCatalogEntriesAreInterned(t *testing.T) {
	sh, _ := newTestShared()
	entry := func(cols ...string) *TableInfo {
		return &TableInfo{Schema: "public", Name: "t", Display: "t", Columns: cols, Key: []string{"id"}, Ext: struct{ OID int64 }{42}}
	}
	a, b := sh.intern(entry("id", "v")), sh.intern(entry("id", "v"))
	if a != b {
		t.Fatal("two connections' equal entries for one table stay apart: their plans are built twice")
	}
	if c := sh.intern(entry("id", "v", "w")); c == a {
		t.Fatal("an entry with another column was taken for the old one")
	}
}

// BenchmarkAnalysis measures a cache hit (the steady state of every
// statement) and a miss (parse and slice one new text).
func BenchmarkAnalysis(b *testing.B) {
	q := `UPDATE accounts SET balance = balance - $1 WHERE region = $2 RETURNING id`
	b.Run("hit", func(b *testing.B) {
		sh, _ := newTestShared()
		sh.Analysis(q)
		b.ReportAllocs()
		for b.Loop() {
			sh.Analysis(q)
		}
	})
	b.Run("miss", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sqlstmt.Analyse(q, sqlstmt.PostgreSQL)
		}
	})
}
