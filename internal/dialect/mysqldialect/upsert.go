package mysqldialect

import (
	"bytes"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// INSERT … ON DUPLICATE KEY UPDATE runs as the caller wrote it, with one
// assignment put first in its UPDATE list. That assignment sets the first
// key column to itself and, on the way, keeps the row's old image in the
// session variable @_sqa_o and counts it in @_sqa_c: MySQL evaluates it
// only for rows that take the UPDATE path, before any of the caller's
// assignments, with the row locked. RETURNING, evaluated right after each
// row is written, gives the count, the image kept and the row's image
// afterwards — so each row is known to have been inserted (the count did
// not move) or updated (from the image just kept). @_sqa_n holds the
// statement's number: values of earlier statements are never read.

func myUpsertPlan(a *sqlstmt.Analysis, t *engine.TableInfo, audit string) *myPlan {
	k0 := t.Quoted + "." + mysqlIdent(t.Key[0])
	var old []string
	for _, c := range t.Columns {
		old = append(old, mysqlString(c), myValue(t, t.Quoted, c))
	}
	capture := ` ` + k0 + ` = IF((@_sqa_o := JSON_OBJECT(` + strings.Join(old, ", ") + `)) IS NULL OR ` +
		`(@_sqa_c := IF(@_sqa_n <=> ?, @_sqa_c, 0) + 1) IS NULL OR (@_sqa_n := ?) IS NULL, ` + k0 + `, ` + k0 + `),`
	ret := ` RETURNING `
	if a.Returning != "" {
		ret = `, `
	}
	ret += `IF(@_sqa_n <=> ?, @_sqa_c, 0), IF(@_sqa_n <=> ?, @_sqa_o, NULL), ` + myObject(t, "", t.Columns)
	q := a.Text
	p := &myPlan{hidden: 3, autoAt: -1}
	p.stmt = q[:myClauses(a).dupAt] + capture + q[myClauses(a).dupAt:] + ret
	p.insert = func(n int) string {
		row := `(NEXT VALUE FOR ` + mySeq(audit) + `, ` + myTxID(audit) + `, ?, ?, ` + mysqlString(t.Display) + `, ?, ?, ?, ?, ?)`
		rows := make([]string, n)
		for i := range rows {
			rows[i] = row
		}
		return `INSERT INTO ` + audit + ` (id, ` + engine.RecordColumns + `) VALUES ` + strings.Join(rows, ", ")
	}
	return p
}

// upsertRow is one input row's outcome: the old images kept so far in the
// statement, the last one kept, and the row as written.
type upsertRow struct {
	captured   int
	old, image map[string]json.RawMessage
}

func (m *myConn) runUpsert(ex *engine.Execution, p *myPlan) (driver.Result, driver.Rows, error) {
	m.seq++
	s := m.seq
	vals := engine.Values(ex.Args)
	cut := myClauses(ex.Stmt).setArgs
	args := append(append(append([]driver.Value{}, vals[:cut]...), s, s), vals[cut:]...)
	rows, err := ex.Session.PreparedQuery(ex.Ctx, p.stmt, engine.Named(append(args, s, s)...))
	if err != nil {
		return nil, nil, err
	}
	cols := rows.Columns()
	user := len(cols) - p.hidden
	var kept [][]driver.Value
	var outcome []upsertRow
	dest := make([]driver.Value, len(cols))
	for err = rows.Next(dest); err == nil; err = rows.Next(dest) {
		if ex.WantRows {
			kept = append(kept, engine.Keep(dest, user))
		}
		r := upsertRow{captured: int(engine.AsInt(dest[user]))}
		if dest[user+1] != nil {
			if err = json.Unmarshal([]byte(engine.AsString(dest[user+1])), &r.old); err != nil {
				break
			}
		}
		if err = json.Unmarshal([]byte(engine.AsString(dest[user+2])), &r.image); err != nil {
			break
		}
		outcome = append(outcome, r)
	}
	rows.Close()
	if err != io.EOF {
		return nil, nil, err
	}
	recs, affected, lastID, err := upsertRecords(ex.Table, myClauses(ex.Stmt).setsLastInsertID, m.jsonEquals, outcome)
	if err != nil {
		return nil, nil, engine.Fail(ex.Query, ex.Table.Display, err.Error(), engine.Record)
	}
	if err := m.writeRecordRows(ex, p, recs); err != nil {
		return nil, nil, engine.RecordsFailed(ex.Query, ex.Table.Display, err)
	}
	if ex.WantRows {
		if ex.Stmt.Returning == "" {
			return nil, &engine.BufferedRows{}, nil
		}
		return nil, &engine.BufferedRows{Cols: cols[:user], Data: kept}, nil
	}
	if ex.Stmt.Returning != "" { // Exec of a statement with a result set: go-sql-driver reports 0, 0
		affected, lastID = 0, 0
	}
	return engine.Result{Rows: affected, LastID: lastID, HasLast: true}, nil, nil
}

// upsertRecords turns the outcomes into records (action, key, old, new),
// counts the affected rows as MySQL does (1 per insert, 2 per changed row)
// and finds the id go-sql-driver reports: the first AUTO_INCREMENT value
// inserted, else the last row's given to LAST_INSERT_ID(c) by the UPDATE
// list (lii), else that of the first row an update changed, else 0.
// A row the statement inserted and then updated (two input rows with one
// key) gets one INSERT record of its final image: the statement's change.
func upsertRecords(t *engine.TableInfo, lii, jsonEquals bool, outcome []upsertRow) (recs [][4]string, affected, lastID int64, err error) {
	var firstInsert, firstChange, lastUpdate int64
	auto := func(img map[string]json.RawMessage) int64 {
		if myt(t).AutoInc == "" {
			return 0
		}
		return engine.AsInt([]byte(img[myt(t).AutoInc]))
	}
	inserted := map[string]int{} // key → its INSERT record
	prev := 0
	for _, r := range outcome {
		switch {
		case r.captured == prev:
			key := jsonPick(r.image, t.Key)
			inserted[key] = len(recs)
			recs = append(recs, [4]string{"INSERT", key, "", jsonRedacted(t, r.image)})
			affected++
			if firstInsert == 0 {
				firstInsert = auto(r.image)
			}
		case r.captured == prev+1 && r.old != nil:
			old := r.old
			lastUpdate = auto(r.image)
			if i, ok := inserted[jsonPick(old, t.Key)]; ok {
				recs[i][3] = jsonRedacted(t, r.image)
				affected += 2
				break
			}
			if firstChange == 0 && !bytes.Equal([]byte(jsonPick(old, t.Columns)), []byte(jsonPick(r.image, t.Columns))) {
				firstChange = auto(r.image)
			}
			o, n := map[string]json.RawMessage{}, map[string]json.RawMessage{}
			for c, v := range old {
				if !sameRendering(t, c, v, r.image[c], jsonEquals) {
					o[c], n[c] = v, r.image[c]
				}
			}
			if len(o) > 0 {
				recs = append(recs, [4]string{"UPDATE", jsonPick(old, t.Key), jsonRedacted(t, o), jsonRedacted(t, n)})
				affected += 2
			}
		default:
			return nil, 0, 0, fmt.Errorf("the upsert captured %d old images after %d, expected at most one more", r.captured, prev)
		}
		prev = r.captured
	}
	switch {
	case firstInsert != 0:
		lastID = firstInsert
	case lii: // c = LAST_INSERT_ID(c): the value of its last call
		lastID = lastUpdate
	default:
		lastID = firstChange
	}
	return recs, affected, lastID, nil
}

// writeRecordRows inserts records given as values, in statements of
// power-of-two sizes (so that they stay prepared).
func (m *myConn) writeRecordRows(ex *engine.Execution, p *myPlan, recs [][4]string) error {
	for len(recs) > 0 {
		n := 1
		for n*2 <= len(recs) && n < 256 {
			n *= 2
		}
		var args []driver.Value
		for _, r := range recs[:n] {
			var old, nw any
			if r[2] != "" {
				old = r[2]
			}
			if r[3] != "" {
				nw = r[3]
			}
			args = append(args, m.tx, m.tx, ex.Actor, r[0], r[1], old, nw, ex.Metadata, ex.Query)
		}
		if _, err := ex.Session.PreparedExec(ex.Ctx, p.insert(n), engine.Named(args...)); err != nil {
			return err
		}
		recs = recs[n:]
	}
	return nil
}

// sameRendering reports whether two renderings of column c are the same
// value, as mySame compares them in SQL: byte for byte, and a JSON column
// (with jsonEquals) as the same JSON value — key order, whitespace and the
// spelling of numbers aside, as JSON_EQUALS compares.
func sameRendering(t *engine.TableInfo, c string, a, b json.RawMessage, jsonEquals bool) bool {
	if bytes.Equal(a, b) {
		return true
	}
	if !jsonEquals || myType(t, c) != "json" {
		return false
	}
	var x, y any
	return decodeJSON(a, &x) == nil && decodeJSON(b, &y) == nil && jsonValueEqual(x, y)
}

func decodeJSON(b []byte, v *any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// jsonValueEqual compares decoded JSON values: objects by their members,
// arrays in order, numbers by value (1 = 1.0 = 1e0).
func jsonValueEqual(x, y any) bool {
	switch a := x.(type) {
	case map[string]any:
		b, ok := y.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, v := range a {
			if w, ok := b[k]; !ok || !jsonValueEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		b, ok := y.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !jsonValueEqual(a[i], b[i]) {
				return false
			}
		}
		return true
	case json.Number:
		b, ok := y.(json.Number)
		ra, oka := new(big.Rat).SetString(a.String())
		rb, okb := new(big.Rat).SetString(b.String())
		return ok && oka && okb && ra.Cmp(rb) == 0
	}
	return x == y
}

func jsonPick(img map[string]json.RawMessage, cols []string) string {
	out := make(map[string]json.RawMessage, len(cols))
	for _, c := range cols {
		out[c] = img[c]
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// jsonRedacted renders an image with the redacted columns masked.
func jsonRedacted(t *engine.TableInfo, img map[string]json.RawMessage) string {
	out := make(map[string]json.RawMessage, len(img))
	for c, v := range img {
		out[c] = v
	}
	for _, r := range t.Redact {
		if _, ok := out[r]; ok {
			out[r], _ = json.Marshal(engine.RedactedValue)
		}
	}
	b, _ := json.Marshal(out)
	return string(b)
}
