package sqlaudit

import (
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
	"strconv"
	"testing"
)

func TestPlainReadsAreRecognisedWithoutAllocating(t *testing.T) {
	q := `SELECT id, balance FROM accounts WHERE id = $1`
	if n := testing.AllocsPerRun(100, func() { sqlstmt.IsPlainRead(q) }); n != 0 {
		t.Fatalf("isPlainRead allocates %.0f times per call", n)
	}
}

func TestAnalysisCacheHitDoesNotAllocate(t *testing.T) {
	c, _ := newConnector(nil, &Driver{}, PostgreSQL, Options{})
	q := `UPDATE accounts SET balance = balance - $1 WHERE region = $2`
	first := c.analysis(q)
	if n := testing.AllocsPerRun(100, func() {
		if c.analysis(q) != first {
			t.Fatal("cache miss on the same text")
		}
	}); n != 0 {
		t.Fatalf("a cache hit allocates %.0f times", n)
	}
}

func TestAnalysisCacheIsBounded(t *testing.T) {
	c, _ := newConnector(nil, &Driver{}, PostgreSQL, Options{})
	for i := 0; i < maxAnalyses+10; i++ {
		c.analysis("UPDATE t SET v = " + string(rune('a'+i%26)) + " WHERE id = " + strconv.Itoa(i))
	}
	if len(c.analyses) > maxAnalyses {
		t.Fatalf("cache holds %d analyses, bound is %d", len(c.analyses), maxAnalyses)
	}
}

// BenchmarkAnalysis measures a cache hit (the steady state of every
// statement) and a miss (parse and slice one new text).
func BenchmarkAnalysis(b *testing.B) {
	q := `UPDATE accounts SET balance = balance - $1 WHERE region = $2 RETURNING id`
	b.Run("hit", func(b *testing.B) {
		c, _ := newConnector(nil, &Driver{}, PostgreSQL, Options{})
		c.analysis(q)
		b.ReportAllocs()
		for b.Loop() {
			c.analysis(q)
		}
	})
	b.Run("miss", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sqlstmt.Analyse(q, sqlstmt.StylePostgres)
		}
	})
}
