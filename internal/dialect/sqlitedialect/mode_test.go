package sqlitedialect

import (
	"strings"
	"testing"

	"github.com/sqlaudit/sqlaudit/internal/engine"
)

// The capture mode is chosen by the rows a statement text changed last
// time, by its shape the first time, and never staged for writes that
// return rows.

func TestInsertsOfSeveralRowsAreRecognisedFromTheirText(t *testing.T) {
	tests := []struct {
		q    string
		want bool
	}{
		{"INSERT INTO t (a, b) VALUES (?, ?)", false},
		{"INSERT INTO t VALUES (1, 'a,b')", false},
		{"INSERT INTO t (a) VALUES (1), (2)", true},
		{"INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET a = 1, b = 2", false},
		{"INSERT INTO t (a) VALUES ((1)), ((2)) ON CONFLICT DO NOTHING", true},
		{"INSERT INTO t SELECT * FROM u", true},
		{"INSERT INTO t (a) WITH x AS (SELECT 1) SELECT * FROM x", true},
		{"INSERT INTO t DEFAULT VALUES", false},
		{"INSERT INTO t (a) VALUES (1) RETURNING a, b", false},
		{"REPLACE INTO t VALUES (1), (2)", true},
	}
	for _, tt := range tests {
		a := Dialect{}.Analyse(tt.q)
		if got := insertsSeveral(a.InsertBody); got != tt.want {
			t.Errorf("%s (body %q): several %v, want %v", tt.q, a.InsertBody, got, tt.want)
		}
	}
}

func TestTheModeFollowsTheRowsTheLastRunChanged(t *testing.T) {
	lc := &liteConn{}
	run := func(q string, wantRows bool) *engine.Execution {
		return &engine.Execution{Stmt: Dialect{}.Analyse(q), WantRows: wantRows}
	}
	one := run("UPDATE t SET a = 1 WHERE id = ?", false)
	if lc.stagedMode(one) {
		t.Fatal("a first UPDATE runs staged; want direct")
	}
	learn(one.Stmt, stageRows+1)
	if !lc.stagedMode(one) {
		t.Fatalf("after a run that changed %d rows the UPDATE runs direct; want staged", stageRows+1)
	}
	learn(one.Stmt, 1)
	if lc.stagedMode(one) {
		t.Fatal("after a run that changed 1 row the UPDATE runs staged; want direct")
	}
	if bulk := run("INSERT INTO t VALUES (1), (2)", false); !lc.stagedMode(bulk) {
		t.Error("a first INSERT of several rows runs direct; want staged")
	}
	for _, ex := range []*engine.Execution{run("INSERT INTO t SELECT * FROM u RETURNING id", false), run("INSERT INTO t SELECT * FROM u", true)} {
		learn(ex.Stmt, 1000)
		if lc.stagedMode(ex) {
			t.Errorf("%s (rows wanted %v) runs staged; want direct: its statement stays open while rows are read", ex.Stmt.Text, ex.WantRows)
		}
	}
	lc.stage.tooWide = true
	if lc.stagedMode(run("INSERT INTO t VALUES (1), (2)", false)) {
		t.Error("a connection whose staging table cannot hold a table stages; want direct")
	}
}

func TestColumnsWithoutAffinityAreComparedByStorageClass(t *testing.T) {
	tests := []struct {
		declared string
		strict   bool
		loose    bool
	}{
		{"INTEGER", false, false}, {"int", false, false}, {"BIGINT", false, false},
		{"TEXT", false, false}, {"VARCHAR(20)", false, false}, {"CLOB", false, false},
		{"REAL", false, false}, {"DOUBLE PRECISION", false, false}, {"FLOAT", false, false},
		{"NUMERIC", false, false}, {"DECIMAL(10,2)", false, false}, {"BOOLEAN", false, false}, {"DATE", false, false},
		{"ANY", false, false}, // NUMERIC affinity outside STRICT tables
		{"", false, true}, {"BLOB", false, true}, {"blob", false, true},
		{"ANY", true, true}, {"INT", true, false}, {"TEXT", true, false}, {"BLOB", true, true},
	}
	for _, tt := range tests {
		if got := storesAsGiven(tt.declared, tt.strict); got != tt.loose {
			t.Errorf("storesAsGiven(%q, strict %v) = %v, want %v", tt.declared, tt.strict, got, tt.loose)
		}
	}
	t1 := &engine.TableInfo{Columns: []string{"n", "v"}, Ext: liteTable{Loose: map[string]bool{"v": true}}}
	if c := liteChanged(t1, "n"); strings.Contains(c, "typeof") {
		t.Errorf("an INTEGER column compared by storage class too: %s", c)
	}
	if c := liteChanged(t1, "v"); !strings.Contains(c, "typeof") {
		t.Errorf("a column without affinity compared without its storage class: %s", c)
	}
}

func TestLongChainsAreBalanced(t *testing.T) {
	terms := make([]string, 300)
	for i := range terms {
		terms[i] = "x"
	}
	got := balanced(" OR ", terms)
	depth, deepest := 0, 0
	for _, r := range got {
		switch r {
		case '(':
			depth++
			deepest = max(deepest, depth)
		case ')':
			depth--
		}
	}
	if strings.Count(got, "x") != 300 || deepest > 10 {
		t.Errorf("300 terms: %d kept, nested %d deep; want 300, at most 10", strings.Count(got, "x"), deepest)
	}
}
