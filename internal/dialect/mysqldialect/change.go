package mysqldialect

import (
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// myTarget is the SQL for one table an UPDATE or DELETE changes: a
// multi-table statement has several.
type myTarget struct {
	t        *engine.TableInfo
	copyName string // the per-connection TEMPORARY copy table
	copyDDL  string
	copy     string // locks and copies the rows the statement will change
	restrict string // the condition that limits the statement to the copied rows
	records  string // writes the records of the copied rows
	// cascades find a copied row with children in an audited table that a
	// foreign-key action of the statement would change, unseen
	cascades []myCascade
	set      []string // the columns the statement assigns in this table
}

// myChangePlan builds an UPDATE's or DELETE's plan: per audited target a
// copy, a restriction and a record statement, and the caller's statement
// with every restriction added to its predicate.
func myChangePlan(ex *engine.Execution) *myPlan {
	a, c := ex.Stmt, myClauses(ex.Stmt)
	p := &myPlan{autoAt: -1}
	var restricts []string
	for i, t := range ex.Targets {
		if t == nil {
			continue // an excluded table: changed, not recorded
		}
		tg := myTargetPlan(a, c.targets[i], t, ex.Session.Shared.Audit, ex.Session.State.(*myConn).jsonEquals)
		p.targets = append(p.targets, tg)
		restricts = append(restricts, tg.restrict)
	}
	restrict := strings.Join(restricts, " AND ")
	q := a.Text
	if c.where != "" {
		p.stmt = q[:c.whereSpan[0]] + `(` + c.where + `) AND ` + restrict + q[c.whereSpan[1]:]
	} else {
		p.stmt = q[:c.restrictAt] + ` WHERE ` + restrict + q[c.restrictAt:]
	}
	if myBlockable(a, p) {
		p.blocks = [2]string{myBlock(p, false), myBlock(p, true)}
	}
	return p
}

func myTargetPlan(a *sqlstmt.Analysis, target mysqlTarget, t *engine.TableInfo, audit string, jsonEquals bool) myTarget {
	c := myClauses(a)
	tg := myTarget{t: t, copyName: mysqlIdent(t.Schema) + "." + mysqlIdent("_sqa_copy_"+fnv64(t.Quoted)), set: target.set}
	var keyCols, qualKeys, join, cols, qualCols []string
	for _, k := range t.Key {
		keyCols = append(keyCols, mysqlIdent(k))
		qualKeys = append(qualKeys, target.qual+"."+mysqlIdent(k))
		join = append(join, `x.`+mysqlIdent(k)+` = o.`+mysqlIdent(k))
	}
	for _, col := range t.Columns {
		cols = append(cols, mysqlIdent(col))
		qualCols = append(qualCols, target.qual+"."+mysqlIdent(col))
	}
	// The copy holds the old rows typed as in the table (generated columns
	// as plain values): records compare and render them directly.
	tg.copyDDL = `CREATE TEMPORARY TABLE ` + tg.copyName + ` (_sqa_s BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (_sqa_s, ` +
		strings.Join(keyCols, ", ") + `)) ENGINE=InnoDB SELECT ` + strings.Join(cols, ", ") + ` FROM ` + t.Quoted + ` WHERE 1 = 0`
	// IGNORE: a join may reach one row several times.
	tg.copy = `INSERT IGNORE INTO ` + tg.copyName + ` (_sqa_s, ` + strings.Join(cols, ", ") + `) SELECT ?, ` +
		strings.Join(qualCols, ", ") + ` FROM ` + c.tableText
	if c.where != "" {
		tg.copy += ` WHERE ` + c.where
	}
	if c.order != "" {
		tg.copy += ` ` + c.order
	}
	tg.copy += ` FOR UPDATE`
	tg.restrict = myTuple(qualKeys) + ` IN (SELECT ` + strings.Join(keyCols, ", ") + ` FROM ` + tg.copyName + ` WHERE _sqa_s = ?)`
	tg.cascades = myCascades(a, t, target.set, tg.copyName, join)
	head := myRecordHead(audit)
	if a.Kind == sqlstmt.Delete {
		tg.records = head + `'DELETE', ` + mysqlString(t.Display) + `, ` + myObject(t, "o", t.Key) + `, ` + myRedact(t, myObject(t, "o", t.Columns)) +
			`, NULL, ?, ? FROM ` + tg.copyName + ` o WHERE o._sqa_s = ? AND NOT EXISTS (SELECT 1 FROM ` + t.Quoted + ` x WHERE ` + strings.Join(join, " AND ") + `)`
		return tg
	}
	var same, remove []string
	for _, col := range t.Columns {
		eq := mySame(t, col, "o", "x", jsonEquals)
		same = append(same, eq)
		remove = append(remove, `IF(`+eq+`, `+myPath(col)+`, `+noPath+`)`)
	}
	tg.records = head + `'UPDATE', ` + mysqlString(t.Display) + `, ` + myObject(t, "o", t.Key) + `, ` +
		myRedact(t, `JSON_REMOVE(`+myObject(t, "o", t.Columns)+`, `+strings.Join(remove, ", ")+`)`) + `, ` +
		myRedact(t, `JSON_REMOVE(`+myObject(t, "x", t.Columns)+`, `+strings.Join(remove, ", ")+`)`) + `, ?, ?
FROM ` + tg.copyName + ` o JOIN ` + t.Quoted + ` x ON ` + strings.Join(join, " AND ") + ` WHERE o._sqa_s = ? AND NOT (` + strings.Join(same, " AND ") + `)`
	return tg
}
