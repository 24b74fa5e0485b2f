package sqlitedialect

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// Staged capture (the bulk path, see staged.go): in staged mode the
// triggers copy each changed row's values into the connection's TEMP
// staging table, and one INSERT … SELECT after the caller's statement
// writes all its records, in the order the rows changed (the staging
// table's rowid), building the JSON there. A record inserted by a trigger
// costs a trigger-program INSERT per row (measured ~2.4 µs, sqlite_sequence
// kept per invocation); a staged one a raw copy and a share of one
// set-based INSERT.
//
// One staging table serves every audited table of the connection, so the
// order holds across tables (foreign-key actions, the database's own
// triggers): row s is of table s.t, an INSERT, UPDATE or DELETE (s.op 1, 2,
// 3), its old value of staged column i in v(2i+1) and its new one in
// v(2i+2) — interleaved, so a wider table added later only adds columns —
// and an UPDATE's changed columns as bits in m1, m2, … (maskBits each).

const (
	sideOld = 0
	sideNew = 1
)

// maxStageColumns keeps the staging table inside SQLite's default column
// limit (SQLITE_MAX_COLUMN, 2000); wider tables leave the connection on
// direct capture.
const maxStageColumns = 1990

// stagedTable is an audited table's part of the staging table.
type stagedTable struct {
	code int // s.t
	t    *engine.TableInfo
	cols []string // staged columns: t.Columns, then key names that are no column (the rowid)
}

// slot is the staging column (alias s) of col's value on side.
func (st *stagedTable) slot(side int, col string) string {
	for i, c := range st.cols {
		if c == col {
			return fmt.Sprintf("s.v%d", 2*i+side+1)
		}
	}
	panic("sqlitedialect: no staging slot for " + col)
}

// column is slot without the alias, for INSERT column lists.
func (st *stagedTable) column(side int, col string) string {
	return strings.TrimPrefix(st.slot(side, col), "s.")
}

func newStagedTable(code int, t *engine.TableInfo) *stagedTable {
	st := &stagedTable{code: code, t: t, cols: append([]string(nil), t.Columns...)}
	for _, k := range t.Key {
		found := false
		for _, c := range t.Columns {
			found = found || c == k
		}
		if !found {
			st.cols = append(st.cols, k)
		}
	}
	return st
}

// liteStage is a connection's staging layout.
type liteStage struct {
	width, masks int // of the staging table as created; 0: not created
	tables       map[string]*stagedTable
	codes        map[string]int // table → code, never reused for another table
	next         int
	tooWide      bool              // some audited table does not fit: direct capture only
	flush        map[int]string    // flush text by the code whose CASE arm comes first
	audit        *engine.TableInfo // the audit table the flush writes
	nextID       string            // the expression of its next record's id
	after        string            // stageAfter for that audit table
}

func stageKey(t *engine.TableInfo) string { return t.Schema + "\x00" + t.Name }

// add gives t its place; it reports whether the table fits.
func (ls *liteStage) add(t *engine.TableInfo) *stagedTable {
	if ls.tables == nil {
		ls.tables, ls.codes = map[string]*stagedTable{}, map[string]int{}
	}
	k := stageKey(t)
	code, ok := ls.codes[k]
	if !ok {
		ls.next++
		code = ls.next
		ls.codes[k] = code
	}
	st := newStagedTable(code, t)
	ls.tables[k] = st
	ls.flush = nil
	if 2+(len(t.Columns)+maskBits-1)/maskBits+2*len(st.cols) > maxStageColumns {
		ls.tooWide = true
	}
	return st
}

// forgetSchema drops the tables of schema (installed again).
func (ls *liteStage) forgetSchema(schema string) {
	for k, st := range ls.tables {
		if st.t.Schema == schema {
			delete(ls.tables, k)
		}
	}
	ls.flush = nil
}

// need is the staging table's shape for the current tables.
func (ls *liteStage) need() (width, masks int) {
	for _, st := range ls.tables {
		width = max(width, len(st.cols))
		masks = max(masks, (len(st.t.Columns)+maskBits-1)/maskBits)
	}
	return max(width, 1), max(masks, 1)
}

// ddl creates the staging table with at least the needed shape.
func (ls *liteStage) ddl() []string {
	w, m := ls.need()
	if w <= ls.width && m <= ls.masks {
		return nil
	}
	w, m = max(w, ls.width), max(m, ls.masks)
	cols := []string{"t INTEGER NOT NULL", "op INTEGER NOT NULL"}
	for i := 1; i <= m; i++ {
		cols = append(cols, fmt.Sprintf("m%d INTEGER", i))
	}
	for i := 1; i <= 2*w; i++ {
		cols = append(cols, fmt.Sprintf("v%d", i))
	}
	ls.width, ls.masks = w, m
	return []string{`DROP TABLE IF EXISTS temp._sqa_stage`, `CREATE TEMP TABLE _sqa_stage (` + strings.Join(cols, ", ") + `)`}
}

// stageInsert is the trigger statement that stages a row of st (op 1
// INSERT, 2 UPDATE, 3 DELETE) while the context is in staged mode.
func stageInsert(st *stagedTable, op int) string {
	cols := []string{"t", "op"}
	vals := []string{fmt.Sprint(st.code), fmt.Sprint(op)}
	if op == 2 {
		for i, m := range liteMasks(st.t) {
			cols, vals = append(cols, fmt.Sprintf("m%d", i+1)), append(vals, m)
		}
	}
	for _, side := range []int{sideOld, sideNew} {
		img := "OLD."
		if side == sideNew || op == 1 {
			img = "NEW."
		}
		for _, c := range st.cols {
			switch {
			case op == 3 && side == sideNew:
				continue
			case op == 1 && side == sideOld && !isKey(st.t, c):
				continue // an INSERT's key goes to the old side too: stagedKey reads it there
			case redacted(st.t, c) && !isKey(st.t, c):
				continue // never copied; the record shows RedactedValue
			}
			cols, vals = append(cols, st.column(side, c)), append(vals, img+sqlstmt.QuoteIdent(c))
		}
	}
	return `INSERT INTO temp._sqa_stage (` + strings.Join(cols, ", ") + `) SELECT ` + strings.Join(vals, ", ") +
		` FROM temp._sqa_ctx AS c WHERE c.k = 0 AND c.mode = 2`
}

func isKey(t *engine.TableInfo, col string) bool {
	for _, k := range t.Key {
		if k == col {
			return true
		}
	}
	return false
}

// flushSQL is the INSERT that writes every staged row's record, st's CASE
// arms first (the statement's own table: one comparison per row). ?1
// actor, ?2 metadata, ?3 the statement text, ?4 the transaction id.
func (ls *liteStage) flushSQL(first int) string {
	if s, ok := ls.flush[first]; ok {
		return s
	}
	tables := make([]*stagedTable, 0, len(ls.tables))
	for _, st := range ls.tables {
		tables = append(tables, st)
	}
	sort.Slice(tables, func(i, j int) bool {
		if (tables[i].code == first) != (tables[j].code == first) {
			return tables[i].code == first
		}
		return tables[i].code < tables[j].code
	})
	arms := func(f func(st *stagedTable) string) string {
		var b strings.Builder
		b.WriteString("CASE s.t")
		for _, st := range tables {
			fmt.Fprintf(&b, " WHEN %d THEN %s", st.code, f(st))
		}
		return b.String() + " END"
	}
	changed := []string{"s.op <> 2"}
	for i := 1; i <= ls.masks; i++ {
		changed = append(changed, fmt.Sprintf("s.m%d <> 0", i))
	}
	q := `INSERT INTO ` + ls.audit.Quoted + ` (` + engine.RecordColumns + `) SELECT ?4, ?1, ` +
		`CASE s.op WHEN 1 THEN 'INSERT' WHEN 2 THEN 'UPDATE' ELSE 'DELETE' END, ` +
		arms(func(st *stagedTable) string { return sqlstmt.QuoteLiteral(st.t.Display, false) }) + `, ` +
		arms(stagedKey) + `, ` +
		arms(func(st *stagedTable) string {
			return "CASE s.op WHEN 1 THEN NULL WHEN 2 THEN " + stagedDiff(st, sideOld) + " ELSE " + stagedImage(st, sideOld, st.t.Columns, true) + " END"
		}) + `, ` +
		arms(func(st *stagedTable) string {
			return "CASE s.op WHEN 3 THEN NULL WHEN 2 THEN " + stagedDiff(st, sideNew) + " ELSE " + stagedImage(st, sideNew, st.t.Columns, true) + " END"
		}) + `, ?2, ?3 FROM temp._sqa_stage AS s WHERE ` + balanced(" OR ", changed) + ` ORDER BY s.rowid`
	if ls.flush == nil {
		ls.flush = map[int]string{}
	}
	ls.flush[first] = q
	return q
}
