package sqlaudit

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"
)

// litePlan is the SQL one audited SQLite statement runs as, built once per
// statement text and catalog entry.
type litePlan struct {
	tempDDL string // the per-connection TEMP table of old rows (UPDATE, DELETE)
	copyOld string // copy the rows the predicate selects into it
	write   string // the caller's statement (INSERT: with RETURNING images)
	records string // insert the records (INSERT: through the _sqa_sink view, row by row)
	clear   string // empty the TEMP table
	cascade string // true when a foreign-key action would change unseen rows; "" if none can
}

func litePlanFor(ex *execution) *litePlan {
	a, t := ex.a, ex.t
	p := &litePlan{write: a.text}
	table := quoteLiteral(t.display, false)
	if a.kind == kindInsert {
		images := jsonObject(t, "", t.key, false) + " AS _sqa_k, " + jsonObject(t, "", t.columns, true) + " AS _sqa_n"
		if a.returningText != "" {
			p.write += ", " + images
		} else {
			p.write += " RETURNING " + images
		}
		p.records = `INSERT INTO temp._sqa_sink (` + recordColumns + `) VALUES (?1, ?2, 'INSERT', ` + table + `, ?3, NULL, ?4, ?5, ?6)`
		return p
	}
	tmp := liteTempName(t)
	p.tempDDL = liteTempDDL(t, tmp)
	p.copyOld = liteCopyOld(a, t, tmp)
	p.cascade = liteCascadeCheck(a, t, tmp)
	p.write = liteWrite(a, t, tmp)
	p.clear = `DELETE FROM temp.` + tmp
	join := keyJoin(t)
	head := `INSERT INTO ` + ex.c.c.audit + ` (` + recordColumns + `) SELECT ?1, ?2, '`
	if a.kind == kindDelete {
		p.records = head + `DELETE', ` + table + `, ` + jsonObject(t, "o", t.key, false) + `, ` + jsonObject(t, "o", t.columns, true) +
			`, NULL, ?3, ?4 FROM temp.` + tmp + ` o WHERE NOT EXISTS (SELECT 1 FROM ` + a.table.spelled() + ` n WHERE ` + join + `)`
		return p
	}
	var same, paths []string
	for _, c := range t.columns {
		cmp := "o." + quoteIdent(c) + " IS n." + quoteIdent(c)
		same = append(same, cmp)
		paths = append(paths, "CASE WHEN "+cmp+" THEN "+jsonPath(c)+" ELSE '$._sqa_absent' END")
	}
	removeSame := ", " + strings.Join(paths, ", ") + ")"
	p.records = head + `UPDATE', ` + table + `, ` + jsonObject(t, "o", t.key, false) +
		`, json_remove(` + jsonObject(t, "o", t.columns, true) + removeSame +
		`, json_remove(` + jsonObject(t, "n", t.columns, true) + removeSame +
		`, ?3, ?4 FROM temp.` + tmp + ` o JOIN ` + a.table.spelled() + ` n ON ` + join + ` WHERE NOT (` + strings.Join(same, " AND ") + `)`
	return p
}

// liteTempName names the per-connection copy of a table's old rows; the
// lengths keep names of different tables apart.
func liteTempName(t *tableInfo) string {
	return quoteIdent(fmt.Sprintf("_sqa_old_%d_%s_%d_%s_%d", len(t.schema), t.schema, len(t.name), t.name, t.version))
}

// liteTempDDL creates the copy WITHOUT ROWID, with the table's declared
// types (so values keep their storage classes): inserting into it leaves
// the connection's last_insert_rowid() alone.
func liteTempDDL(t *tableInfo, tmp string) string {
	var cols []string
	if t.key[0] == "rowid" {
		cols = append(cols, `"rowid" INTEGER`)
	}
	for i, c := range t.columns {
		cols = append(cols, quoteIdent(c)+" "+t.types[i])
	}
	keys := make([]string, len(t.key))
	for i, k := range t.key {
		keys[i] = quoteIdent(k)
	}
	return `CREATE TEMP TABLE IF NOT EXISTS ` + tmp + ` (` + strings.Join(cols, ", ") + `, PRIMARY KEY (` + strings.Join(keys, ", ") + `)) WITHOUT ROWID`
}

// liteRef is how statements name the target: its alias, or its name.
func liteRef(a *analysis) (ref, alias string) {
	if a.table.alias != "" {
		return quoteIdent(a.table.alias), " AS " + quoteIdent(a.table.alias)
	}
	return quoteIdent(a.table.name), ""
}

// liteCopyOld copies the rows the statement's predicate selects (for
// UPDATE … FROM: the rows the join selects, each once).
func liteCopyOld(a *analysis, t *tableInfo, tmp string) string {
	ref, alias := liteRef(a)
	var cols, sel []string
	if t.key[0] == "rowid" {
		cols, sel = append(cols, `"rowid"`), append(sel, ref+".rowid")
	}
	for _, c := range t.columns {
		cols, sel = append(cols, quoteIdent(c)), append(sel, ref+"."+quoteIdent(c))
	}
	q := `INSERT INTO temp.` + tmp + ` (` + strings.Join(cols, ", ") + `) SELECT ` + strings.Join(sel, ", ") + ` FROM ` + a.table.spelled() + alias
	switch {
	case a.fromText != "":
		q += " WHERE EXISTS (SELECT 1 FROM " + a.fromText
		if a.whereText != "" {
			q += " WHERE " + a.whereText
		}
		q += ")"
	case a.whereText != "":
		q += " WHERE " + a.whereText
	}
	if a.withText != "" {
		q = "WITH " + a.withText + " " + q
	}
	return q
}

// liteWrite is the caller's UPDATE or DELETE restricted to the copied rows:
// whatever its predicate does (random(), last_insert_rowid() …), it changes
// no row whose old values were not copied.
func liteWrite(a *analysis, t *tableInfo, tmp string) string {
	ref, alias := liteRef(a)
	var keys, cols []string
	for _, k := range t.key {
		cols = append(cols, quoteIdent(k))
		if k == "rowid" {
			keys = append(keys, ref+".rowid")
		} else {
			keys = append(keys, ref+"."+quoteIdent(k))
		}
	}
	where := "(" + strings.Join(keys, ", ") + ") IN (SELECT " + strings.Join(cols, ", ") + " FROM temp." + tmp + ")"
	if a.whereText != "" {
		where = "(" + a.whereText + ") AND " + where
	}
	q := ""
	if a.withText != "" {
		q = "WITH " + a.withText + " "
	}
	if a.kind == kindDelete {
		q += "DELETE FROM " + a.table.spelled() + alias + " WHERE " + where
	} else {
		or := ""
		if a.orIgnore {
			or = "OR IGNORE "
		}
		q += "UPDATE " + or + a.table.spelled() + alias + " SET " + a.setText
		if a.fromText != "" {
			q += " FROM " + a.fromText
		}
		q += " WHERE " + where
	}
	if a.returningText != "" {
		q += " RETURNING " + a.returningText
	}
	return q
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
// run the statement restricted to them, then record the rows that really
// changed or vanished.
func (p *litePlan) runChange(ex *execution, txID int64) (driver.Result, driver.Rows, error) {
	c := ex.c
	if _, err := c.preparedExec(ex.ctx, p.tempDDL, nil); err != nil {
		return nil, nil, recordError(ex, err)
	}
	if _, err := c.preparedExec(ex.ctx, p.copyOld, ex.args); err != nil {
		// Usually the caller's predicate is at fault: the error is SQLite's own.
		return nil, nil, stmtError(ex.query, ex.t.display, "reading the rows the statement selects failed; nothing was changed", ErrRecord, err)
	}
	if p.cascade != "" {
		found, err := c.queryAll(ex.ctx, p.cascade)
		if err != nil {
			return nil, nil, recordError(ex, err)
		}
		if found[0][0] == int64(1) {
			return nil, nil, stmtError(ex.query, ex.t.display, "a foreign-key action (ON DELETE/UPDATE CASCADE, SET NULL, SET DEFAULT) would change rows of an audited table, which the wrapper cannot record yet; nothing changed", ErrUnsupported)
		}
	}
	res, rows, err := p.runWrite(ex)
	if err != nil {
		return nil, nil, err // the statement's own error, as the driver reported it
	}
	if err := p.writeRecords(ex, txID); err != nil {
		return nil, nil, recordError(ex, err)
	}
	return res, rows, nil
}

// writeRecords inserts the records set-based, then sets last_insert_rowid()
// back to the caller's value and empties the copy (which leaves changes() at
// the number of rows the statement matched).
func (p *litePlan) writeRecords(ex *execution, txID int64) error {
	c := ex.c
	last, err := c.queryAll(ex.ctx, `SELECT last_insert_rowid()`)
	if err != nil {
		return err
	}
	steps := []struct {
		q    string
		args []driver.NamedValue
	}{
		{p.records, named(txID, ex.actor, ex.metadata, ex.query)},
		{`DELETE FROM temp._sqa_rowid`, nil},
		{`INSERT INTO temp._sqa_rowid (rowid) VALUES (?1)`, named(last[0][0])},
		{p.clear, nil},
	}
	for _, s := range steps {
		if _, err := c.preparedExec(ex.ctx, s.q, s.args); err != nil {
			return err
		}
	}
	return nil
}

// setChanges leaves the connection's changes() at n: deleting n rows from a
// WITHOUT ROWID table touches neither last_insert_rowid() nor anything else.
func setChanges(ex *execution, n int64) error {
	if _, err := ex.c.preparedExec(ex.ctx, `WITH RECURSIVE c(i) AS (SELECT 1 WHERE ?1 > 0 UNION ALL SELECT i + 1 FROM c WHERE i < ?1) INSERT INTO temp._sqa_count SELECT i FROM c`, named(n)); err != nil {
		return err
	}
	_, err := ex.c.preparedExec(ex.ctx, `DELETE FROM temp._sqa_count`, nil)
	return err
}

// runWrite runs the restricted statement. A statement with RETURNING is
// read in full (go-sqlite3 reports its changes before the last step), and
// its rows are kept when the caller wants them.
func (p *litePlan) runWrite(ex *execution) (driver.Result, driver.Rows, error) {
	if ex.a.returningText == "" {
		res, err := ex.c.preparedExec(ex.ctx, p.write, ex.args)
		if err != nil || !ex.wantRows {
			return res, nil, err
		}
		return res, &bufferedRows{}, nil
	}
	buf, err := readAll(ex.c, ex, p.write, 0)
	if err != nil || ex.wantRows {
		return nil, buf, err
	}
	last, err := ex.c.queryAll(ex.ctx, `SELECT last_insert_rowid()`)
	if err != nil {
		return nil, nil, err
	}
	id, _ := last[0][0].(int64)
	return result{rows: int64(len(buf.data)), lastID: id, hasLast: true}, nil, nil
}

// runInsert audits an INSERT: its RETURNING images are recorded row by row
// while SQLite hands them over (it finished the insert at the first step).
func (p *litePlan) runInsert(ex *execution, txID int64) (driver.Result, driver.Rows, error) {
	c := ex.c
	rows, err := c.preparedQuery(ex.ctx, p.write, ex.args)
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
		_, err = c.preparedExec(ex.ctx, p.records, named(txID, ex.actor, asString(row[user]), asString(row[user+1]), ex.metadata, ex.query))
		if err != nil {
			rows.Close()
			return nil, nil, recordError(ex, err)
		}
	}
	rows.Close()
	if !errors.Is(err, io.EOF) {
		return nil, nil, err
	}
	if err := setChanges(ex, n); err != nil {
		return nil, nil, recordError(ex, err)
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
	rows, err := c.preparedQuery(ex.ctx, q, ex.args)
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
