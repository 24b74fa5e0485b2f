package sqlaudit

import (
	"fmt"
	"strings"
)

// myTarget is the SQL for one table an UPDATE or DELETE changes: a
// multi-table statement has several.
type myTarget struct {
	t        *tableInfo
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
func myChangePlan(ex *execution) *myPlan {
	a, c := ex.a, ex.a.my
	p := &myPlan{autoAt: -1}
	var restricts []string
	for i, t := range ex.targets {
		if t == nil {
			continue // an excluded table: changed, not recorded
		}
		tg := myTargetPlan(a, c.targets[i], t, ex.c.c.audit)
		p.targets = append(p.targets, tg)
		restricts = append(restricts, tg.restrict)
	}
	restrict := strings.Join(restricts, " AND ")
	q := a.text
	if c.where != "" {
		p.stmt = q[:c.whereSpan[0]] + `(` + c.where + `) AND ` + restrict + q[c.whereSpan[1]:]
	} else {
		p.stmt = q[:c.restrictAt] + ` WHERE ` + restrict + q[c.restrictAt:]
	}
	return p
}

func myTargetPlan(a *analysis, target mysqlTarget, t *tableInfo, audit string) myTarget {
	c := a.my
	tg := myTarget{t: t, copyName: mysqlIdent(t.schema) + "." + mysqlIdent("_sqa_copy_"+fnv64(t.quoted)), set: target.set}
	var keyCols, qualKeys, copyKeys, selKeys, join []string
	for i, k := range t.key {
		keyCols = append(keyCols, mysqlIdent(k))
		qualKeys = append(qualKeys, target.qual+"."+mysqlIdent(k))
		copyKeys = append(copyKeys, fmt.Sprintf("_sqa_k%d", i))
		selKeys = append(selKeys, mysqlIdent(k)+" AS "+copyKeys[i])
		join = append(join, `x.`+keyCols[i]+` = o.`+copyKeys[i])
	}
	tg.copyDDL = `CREATE TEMPORARY TABLE ` + tg.copyName + ` (_sqa_s BIGINT NOT NULL DEFAULT 0, _sqa_key LONGTEXT NOT NULL DEFAULT '', _sqa_old LONGTEXT NOT NULL DEFAULT '', PRIMARY KEY (_sqa_s, ` +
		strings.Join(copyKeys, ", ") + `)) ENGINE=InnoDB SELECT ` + strings.Join(selKeys, ", ") + ` FROM ` + t.quoted + ` WHERE 1 = 0`
	// IGNORE: a join may reach one row several times.
	tg.copy = `INSERT IGNORE INTO ` + tg.copyName + ` (_sqa_s, ` + strings.Join(copyKeys, ", ") + `, _sqa_key, _sqa_old) SELECT ?, ` +
		strings.Join(qualKeys, ", ") + `, ` + myObject(t, target.qual, t.key) + `, ` + myObject(t, target.qual, t.columns) +
		` FROM ` + c.tableText
	if c.where != "" {
		tg.copy += ` WHERE ` + c.where
	}
	if c.order != "" {
		tg.copy += ` ` + c.order
	}
	tg.copy += ` FOR UPDATE`
	tg.restrict = myTuple(qualKeys) + ` IN (SELECT ` + strings.Join(copyKeys, ", ") + ` FROM ` + tg.copyName + ` WHERE _sqa_s = ?)`
	tg.cascades = myCascades(a, t, target.set, tg.copyName, join)
	head := myRecordHead(audit)
	if a.kind == kindDelete {
		tg.records = head + `'DELETE', ` + mysqlString(t.display) + `, o._sqa_key, ` + myRedact(t, "o._sqa_old") + `, NULL, ?, ? FROM ` +
			tg.copyName + ` o WHERE o._sqa_s = ? AND NOT EXISTS (SELECT 1 FROM ` + t.quoted + ` x WHERE ` + strings.Join(join, " AND ") + `)`
		return tg
	}
	var same, remove []string
	for _, col := range t.columns {
		path := myPath(col)
		eq := `BINARY JSON_EXTRACT(d.o, ` + path + `) <=> BINARY JSON_EXTRACT(d.n, ` + path + `)`
		same = append(same, eq)
		remove = append(remove, `IF(`+eq+`, `+path+`, `+noPath+`)`)
	}
	tg.records = head + `'UPDATE', ` + mysqlString(t.display) + `, d.k, ` +
		myRedact(t, `JSON_REMOVE(d.o, `+strings.Join(remove, ", ")+`)`) + `, ` +
		myRedact(t, `JSON_REMOVE(d.n, `+strings.Join(remove, ", ")+`)`) + `, ?, ?
FROM (SELECT o._sqa_key AS k, o._sqa_old AS o, ` + myObject(t, "x", t.columns) + ` AS n FROM ` + tg.copyName + ` o JOIN ` +
		t.quoted + ` x ON ` + strings.Join(join, " AND ") + ` WHERE o._sqa_s = ?) d
WHERE NOT (` + strings.Join(same, " AND ") + `)`
	return tg
}
