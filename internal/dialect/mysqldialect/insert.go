package mysqldialect

import (
	"database/sql/driver"
	"io"
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// myInsertPlan returns the new rows' keys (and AUTO_INCREMENT value) after
// the caller's own RETURNING columns.
func myInsertPlan(a *sqlstmt.Analysis, t *engine.TableInfo, audit string) *myPlan {
	p := &myPlan{autoAt: -1}
	hidden := append([]string{}, t.Key...)
	for i, k := range t.Key {
		if k == myt(t).AutoInc {
			p.autoAt = i
		}
	}
	if myt(t).AutoInc != "" && p.autoAt < 0 {
		p.autoAt = len(hidden)
		hidden = append(hidden, myt(t).AutoInc)
	}
	p.autoListed = myAutoListed(a, t)
	quoted := make([]string, len(hidden))
	for i, h := range hidden {
		quoted[i] = mysqlIdent(h)
	}
	p.hidden = len(hidden)
	if a.Returning == "" {
		p.stmt = a.Text + ` RETURNING ` + strings.Join(quoted, ", ")
	} else {
		p.stmt = a.Text + `, ` + strings.Join(quoted, ", ")
	}
	keyCols := quoted[:len(t.Key)]
	head := myRecordHead(audit) + `'INSERT', ` + mysqlString(t.Display) + `, ` +
		myObject(t, "x", t.Key) + `, NULL, ` + myRedact(t, myObject(t, "x", t.Columns)) + `, ?, ? FROM ` + t.Quoted + ` x WHERE `
	one := make([]string, len(keyCols))
	for i := range one {
		one[i] = "?"
	}
	for i := range keyCols {
		keyCols[i] = "x." + keyCols[i]
	}
	p.insert = func(n int) string {
		tuples := make([]string, n)
		for i := range tuples {
			tuples[i] = myTuple(one)
		}
		return head + mySentinel(t) + ` AND ` + myTuple(keyCols) + ` IN (` + strings.Join(tuples, ", ") + `)`
	}
	return p
}

// myAutoListed: the INSERT names the AUTO_INCREMENT column (or no columns),
// so its values may be explicit.
func myAutoListed(a *sqlstmt.Analysis, t *engine.TableInfo) bool {
	listed := len(myClauses(a).insertCols) == 0
	for _, c := range myClauses(a).insertCols {
		listed = listed || strings.EqualFold(c, myt(t).AutoInc)
	}
	return listed
}

// runInsert runs the INSERT returning the new rows' keys (after the
// caller's RETURNING columns), then records the rows read back by key.
func (m *myConn) runInsert(ex *engine.Execution, p *myPlan) (driver.Result, driver.Rows, error) {
	rows, err := ex.Session.PreparedQuery(ex.Ctx, p.stmt, ex.Args)
	if err != nil {
		return nil, nil, err
	}
	cols := rows.Columns()
	user := len(cols) - p.hidden
	var kept [][]driver.Value
	var keys [][]driver.Value
	dest := make([]driver.Value, len(cols))
	for {
		if err = rows.Next(dest); err != nil {
			break
		}
		if ex.WantRows {
			kept = append(kept, engine.Keep(dest, user))
		}
		keys = append(keys, asArgs(engine.Keep(dest[user:], p.hidden)))
	}
	rows.Close()
	if err != io.EOF {
		return nil, nil, err
	}
	n := len(keys)
	lastID, err := m.lastInsertID(ex, p, keys)
	if err != nil {
		return nil, nil, err
	}
	if ex.Stmt.Returning != "" { // Exec of a statement with a result set: go-sql-driver reports 0, 0
		n, lastID = 0, 0
	}
	for len(keys) > 0 {
		batch := keys[:min(len(keys), 512)]
		keys = keys[len(batch):]
		if err := m.insertRecords(ex, p, batch); err != nil {
			return nil, nil, m.recordsFailed(ex, ex.Table, err)
		}
	}
	switch {
	case ex.WantRows && ex.Stmt.Returning == "":
		return nil, &engine.BufferedRows{}, nil
	case ex.WantRows:
		return nil, &engine.BufferedRows{Cols: cols[:user], Data: kept}, nil
	}
	return engine.Result{Rows: int64(n), LastID: lastID, HasLast: true}, nil, nil
}

// asArgs makes values read from a result arguments of the next statement:
// go-sql-driver reads a FLOAT as float32 but binds only float64 (a FLOAT
// key compares exactly with the DOUBLE of its value).
func asArgs(vals []driver.Value) []driver.Value {
	for i, v := range vals {
		if f, ok := v.(float32); ok {
			vals[i] = float64(f)
		}
	}
	return vals
}

// lastInsertID is what the server's OK packet would have said: the first
// id the statement generated, else the last row's AUTO_INCREMENT value, else
// 0. Only when the statement names the AUTO_INCREMENT column may it mix
// generated and explicit ids; LAST_INSERT_ID() then tells which.
func (m *myConn) lastInsertID(ex *engine.Execution, p *myPlan, keys [][]driver.Value) (int64, error) {
	if p.autoAt < 0 || len(keys) == 0 {
		return 0, nil
	}
	if !p.autoListed {
		return engine.AsInt(keys[0][p.autoAt]), nil
	}
	rows, err := ex.Session.QueryAll(ex.Ctx, `SELECT LAST_INSERT_ID()`)
	if err != nil {
		return 0, err
	}
	lii := engine.AsInt(rows[0][0])
	for _, k := range keys {
		if engine.AsInt(k[p.autoAt]) == lii {
			return lii, nil
		}
	}
	return engine.AsInt(keys[len(keys)-1][p.autoAt]), nil
}

// insertRecords records the inserted rows with the given keys, read back
// in one statement; the key list is padded (repeating its last key) to a
// few sizes so that the statements stay prepared.
func (m *myConn) insertRecords(ex *engine.Execution, p *myPlan, keys [][]driver.Value) error {
	size := 1
	for size < len(keys) {
		size *= 8
	}
	size = min(size, 512)
	args := []driver.Value{m.tx, m.tx, ex.Actor, ex.Metadata, ex.Query}
	nk := len(ex.Table.Key)
	for i := 0; i < size; i++ {
		args = append(args, keys[min(i, len(keys)-1)][:nk]...)
	}
	_, err := ex.Session.PreparedExec(ex.Ctx, p.insert(size), engine.Named(args...))
	return err
}
