package mysqldialect

import (
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	// Each step reads a variable, so that none is a constant the optimizer
	// may fold away (INSERT … SELECT skipped "(@_sqa_n := ?) IS NULL").
	capture := ` ` + k0 + ` = IF((@_sqa_o := JSON_OBJECT(` + strings.Join(old, ", ") + `)) IS NULL OR ` +
		`(@_sqa_c := IF(@_sqa_n <=> ?, @_sqa_c, 0) + 1) IS NULL OR (@_sqa_n := ? + 0 * @_sqa_c) IS NULL OR NOT ` + mySentinel(t) + `, ` + k0 + `, ` + k0 + `),`
	ret := ` RETURNING `
	if a.Returning != "" {
		ret = `, `
	}
	ret += `IF(@_sqa_n <=> ?, @_sqa_c, 0), IF(@_sqa_n <=> ?, @_sqa_o, NULL), ` + myObject(t, "", t.Columns)
	q := a.Text
	p := &myPlan{hidden: 3, autoAt: -1, autoListed: myAutoListed(a, t)}
	p.stmt = q[:myClauses(a).dupAt] + capture + q[myClauses(a).dupAt:] + ret
	if n := a.NumParams + 4; n > myMaxParams {
		p.refused = fmt.Sprintf("its audited form needs %d placeholders, more than MariaDB's %d; send fewer rows per statement", n, myMaxParams)
	}
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
		return nil, nil, m.staleOr(ex, err) // the capture names the columns too
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
	sum, err := upsertRecords(ex.Table, m.jsonEquals, outcome)
	if errors.Is(err, errUpsertMovedKey) {
		return nil, nil, errKeyMoved(ex, ex.Table)
	}
	if err != nil {
		return nil, nil, engine.Fail(ex.Query, ex.Table.Display, err.Error(), engine.Record)
	}
	generated, err := m.generatedID(ex, p, sum.inserted)
	if err != nil {
		return nil, nil, err
	}
	c := myClauses(ex.Stmt)
	affected, lastID := sum.affected, upsertLastID(sum, generated, c.setsLastInsertID, c.fromSelect)
	if err := m.writeRecordRows(ex, p, sum.recs); err != nil {
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

// generatedID is the first of the inserted rows' AUTO_INCREMENT values that
// the statement generated, or 0. When the statement names the column, its
// values may be explicit; LAST_INSERT_ID() then tells which was generated.
func (m *myConn) generatedID(ex *engine.Execution, p *myPlan, inserted []int64) (int64, error) {
	if len(inserted) == 0 || myt(ex.Table).AutoInc == "" {
		return 0, nil
	}
	if !p.autoListed {
		return inserted[0], nil
	}
	rows, err := ex.Session.QueryAll(ex.Ctx, `SELECT LAST_INSERT_ID()`)
	if err != nil {
		return 0, err
	}
	lii := engine.AsInt(rows[0][0])
	for _, id := range inserted {
		if id == lii {
			return lii, nil
		}
	}
	return 0, nil
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
