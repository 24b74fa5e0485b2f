package sqlaudit

import (
	"database/sql/driver"
	"errors"
	"io"
	"strconv"
	"strings"
)

// litePlan is the SQL one audited SQLite statement runs as, built once per
// statement text and catalog entry.
type litePlan struct {
	tempDDL string // the per-connection TEMP table of old rows (UPDATE, DELETE)
	copyOld string // copy the rows the predicate selects into it
	write   string // the caller's statement (INSERT: with RETURNING images)
	records string // insert the records into the _sqa_sink view
	clear   string // empty the TEMP table
}

func litePlanFor(ex *execution) *litePlan {
	a, t := ex.a, ex.t
	p := &litePlan{write: a.text}
	table := quoteLiteral(t.display, false)
	if a.kind == kindInsert {
		images := jsonObject(t, "", t.key) + " AS _sqa_k, " + jsonObject(t, "", t.columns) + " AS _sqa_n"
		if a.returningText != "" {
			p.write += ", " + images
		} else {
			p.write += " RETURNING " + images
		}
		p.records = `INSERT INTO temp._sqa_sink (` + recordColumns + `) VALUES (?1, ?2, 'INSERT', ` + table + `, ?3, NULL, ?4, ?5, ?6)`
		return p
	}
	tmp := "temp." + quoteIdent("_sqa_old_"+t.schema+"_"+t.name+"_"+strconv.FormatInt(t.version, 10))
	rowid, alias, ref := "", "", quoteIdent(t.name)
	if t.key[0] == "rowid" {
		rowid = "rowid AS \"rowid\", "
	}
	if a.table.alias != "" {
		ref = quoteIdent(a.table.alias)
		alias = " AS " + ref
	}
	p.tempDDL = `CREATE TEMP TABLE IF NOT EXISTS ` + tmp[len("temp."):] + ` AS SELECT ` + rowid + `* FROM ` + t.quoted + ` WHERE 0`
	p.copyOld = `INSERT INTO ` + tmp + ` SELECT ` + strings.Replace(rowid, "rowid", ref+".rowid", 1) + ref + `.* FROM ` + t.quoted + alias
	switch {
	case a.fromText != "":
		// UPDATE … FROM: the rows the join selects, each once.
		p.copyOld += " WHERE EXISTS (SELECT 1 FROM " + a.fromText
		if a.whereText != "" {
			p.copyOld += " WHERE " + a.whereText
		}
		p.copyOld += ")"
	case a.whereText != "":
		p.copyOld += " WHERE " + a.whereText
	}
	if a.withText != "" {
		p.copyOld = "WITH " + a.withText + " " + p.copyOld
	}
	p.clear = `DELETE FROM ` + tmp
	join := keyJoin(t)
	head := `INSERT INTO temp._sqa_sink (` + recordColumns + `) SELECT ?1, ?2, '`
	if a.kind == kindDelete {
		p.records = head + `DELETE', ` + table + `, ` + jsonObject(t, "o", t.key) + `, ` + jsonObject(t, "o", t.columns) +
			`, NULL, ?3, ?4 FROM ` + tmp + ` o WHERE NOT EXISTS (SELECT 1 FROM ` + t.quoted + ` n WHERE ` + join + `)`
		return p
	}
	var same, paths []string
	for _, c := range t.columns {
		cmp := "o." + quoteIdent(c) + " IS n." + quoteIdent(c)
		same = append(same, cmp)
		paths = append(paths, "CASE WHEN "+cmp+" THEN "+jsonPath(c)+" ELSE '$._sqa_absent' END")
	}
	removeSame := ", " + strings.Join(paths, ", ") + ")"
	p.records = head + `UPDATE', ` + table + `, ` + jsonObject(t, "o", t.key) +
		`, json_remove(` + jsonObject(t, "o", t.columns) + removeSame +
		`, json_remove(` + jsonObject(t, "n", t.columns) + removeSame +
		`, ?3, ?4 FROM ` + tmp + ` o JOIN ` + t.quoted + ` n ON ` + join + ` WHERE NOT (` + strings.Join(same, " AND ") + `)`
	return p
}

// keyJoin matches a row of the TEMP copy (o) with the table's row (n).
func keyJoin(t *tableInfo) string {
	var parts []string
	for _, k := range t.key {
		n := "n." + quoteIdent(k)
		if k == "rowid" {
			n = "n.rowid"
		}
		parts = append(parts, n+" = o."+quoteIdent(k))
	}
	return strings.Join(parts, " AND ")
}

func (p *litePlan) run(ex *execution, lc *liteConn) (driver.Result, driver.Rows, error) {
	txID, err := lc.transactionID(ex)
	if err != nil {
		return nil, nil, err
	}
	if ex.a.kind == kindInsert {
		return p.runInsert(ex, txID)
	}
	return p.runChange(ex, txID)
}

// transactionID is the tx_id of the records of the current transaction:
// the id its first record will get, so ids and transaction ids grow together.
func (lc *liteConn) transactionID(ex *execution) (int64, error) {
	if lc.txID == 0 {
		rows, err := lc.c.queryAll(ex.ctx, `SELECT coalesce(max(id), 0) + 1 FROM `+lc.c.c.audit)
		if err != nil {
			return 0, recordError(ex, err)
		}
		lc.txID, _ = rows[0][0].(int64)
	}
	return lc.txID, nil
}

func recordError(ex *execution, err error) error {
	return stmtError(ex.query, ex.t.display, "writing the audit records failed; the statement was rolled back", ErrRecord, err)
}

// runChange audits an UPDATE or DELETE: copy the rows the predicate selects,
// run the statement, then record the rows that really changed or vanished.
func (p *litePlan) runChange(ex *execution, txID int64) (driver.Result, driver.Rows, error) {
	c := ex.c
	if _, err := c.rawExec(ex.ctx, p.tempDDL, nil); err != nil {
		return nil, nil, recordError(ex, err)
	}
	res, err := c.rawExec(ex.ctx, p.copyOld, ex.args)
	if err != nil {
		// Usually the caller's predicate is at fault: the error is SQLite's own.
		return nil, nil, stmtError(ex.query, ex.t.display, "reading the rows the statement selects failed; nothing was changed", ErrRecord, err)
	}
	nOld, _ := res.RowsAffected()
	var rows driver.Rows
	var nChanged int64
	if ex.wantRows && ex.a.returningText != "" {
		var buf *bufferedRows
		if buf, err = readAll(c, ex, p.write, 0); err == nil {
			rows, nChanged = buf, int64(len(buf.data))
		}
	} else if res, err = c.rawExec(ex.ctx, p.write, ex.args); err == nil {
		nChanged, _ = res.RowsAffected()
		if ex.wantRows {
			rows = &bufferedRows{}
		}
	}
	if err != nil {
		return nil, nil, err // the statement's own error, as the driver reported it
	}
	if nChanged > nOld || nChanged < nOld && !ex.a.orIgnore {
		return nil, nil, stmtError(ex.query, ex.t.display, "the statement changed other rows than its predicate selected a moment before (a non-deterministic WHERE clause?); rolled back", ErrUnsupported)
	}
	if _, err := c.rawExec(ex.ctx, p.records, named(txID, ex.actor, ex.metadata, ex.query)); err != nil {
		return nil, nil, recordError(ex, err)
	}
	if _, err := c.rawExec(ex.ctx, p.clear, nil); err != nil {
		return nil, nil, recordError(ex, err)
	}
	return res, rows, nil
}

// runInsert audits an INSERT: its RETURNING images are recorded row by row
// while SQLite hands them over (it finished the insert at the first step).
func (p *litePlan) runInsert(ex *execution, txID int64) (driver.Result, driver.Rows, error) {
	c := ex.c
	rows, err := c.rawQuery(ex.ctx, p.write, ex.args)
	if err != nil {
		return nil, nil, err // the statement's own error, as the driver reported it
	}
	cols := rows.Columns()
	user := len(cols) - 2
	buf := &bufferedRows{cols: cols[:user]}
	row := make([]driver.Value, len(cols))
	var n int64
	for {
		if err = rows.Next(row); err != nil {
			break
		}
		n++
		if ex.wantRows {
			buf.data = append(buf.data, keep(row, user))
		}
		_, err = c.rawExec(ex.ctx, p.records, named(txID, ex.actor, asString(row[user]), asString(row[user+1]), ex.metadata, ex.query))
		if err != nil {
			rows.Close()
			return nil, nil, recordError(ex, err)
		}
	}
	rows.Close()
	if !errors.Is(err, io.EOF) {
		return nil, nil, err
	}
	if ex.wantRows {
		return nil, buf, nil
	}
	last, err := c.queryAll(ex.ctx, `SELECT last_insert_rowid()`)
	if err != nil {
		return nil, nil, recordError(ex, err)
	}
	id, _ := last[0][0].(int64)
	return result{rows: n, lastID: id, hasLast: true}, nil, nil
}

// readAll runs q and reads every row, dropping the last internal columns.
func readAll(c *conn, ex *execution, q string, internal int) (*bufferedRows, error) {
	rows, err := c.rawQuery(ex.ctx, q, ex.args)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols := rows.Columns()
	buf := &bufferedRows{cols: cols[:len(cols)-internal]}
	row := make([]driver.Value, len(cols))
	for {
		if err := rows.Next(row); err == io.EOF {
			return buf, nil
		} else if err != nil {
			return nil, err
		}
		buf.data = append(buf.data, keep(row, len(buf.cols)))
	}
}
