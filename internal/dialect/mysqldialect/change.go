package mysqldialect

import (
	"database/sql/driver"
	"fmt"
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
	// keyRange bounds the first key column by the copied keys, an access
	// path when the predicate is left out (one argument: the statement
	// number, twice)
	keyRange string
	records  string // writes the records of the copied rows
	// cascades find a copied row with children in an audited table that a
	// foreign-key action of the statement would change, unseen
	cascades []myCascade
	set      []string // the columns the statement assigns in this table
	// keyMoved is true when a copied row is no longer found by its key (two
	// arguments: the statement number, twice): an UPDATE that assigns a key
	// column may only assign the value it had, proven after the statement
	// ran ("" when it assigns none)
	keyMoved string
}

// myChangePlan builds an UPDATE's or DELETE's plan: per audited target a
// copy, a restriction and a record statement, and the caller's statement
// restricted to the copied rows. A table the statement reaches through two
// aliases (a self-join UPDATE of both) has one copy table, filled through
// each alias, and one set of records.
func myChangePlan(ex *engine.Execution) *myPlan {
	a, c := ex.Stmt, myClauses(ex.Stmt)
	p := &myPlan{autoAt: -1}
	recorded := map[string]bool{}
	for i, t := range ex.Targets {
		if t == nil {
			continue // an excluded table: changed, not recorded
		}
		tg := myTargetPlan(a, c.targets[i], t, ex.Session.Shared.Audit, ex.Session.State.(*myConn).jsonEquals)
		if recorded[tg.copyName] {
			tg.records, tg.cascades = "", nil // the first alias's records cover the table
		}
		recorded[tg.copyName] = true
		p.targets = append(p.targets, tg)
	}
	p.stmt, p.stmtArgs = myRestricted(a, p.targets)
	copyN := 1 + a.NumParams - c.setArgs
	stmtN := len(dealArgs(make([]driver.Value, a.NumParams), p.stmtArgs, 0))
	switch {
	case max(copyN, stmtN) > myMaxParams:
		p.refused = fmt.Sprintf("its audited form needs %d placeholders, more than MariaDB's %d; send fewer arguments per statement", max(copyN, stmtN), myMaxParams)
	case myBlockable(a, p) && copyN+stmtN+myRecordParams <= myMaxParams:
		p.blocks = [2]string{myBlock(p, false), myBlock(p, true)}
	}
	return p
}

// myMaxParams is the most placeholders MariaDB takes in one prepared
// statement; myRecordParams are those of a records statement.
const myMaxParams, myRecordParams = 65535, 6

// myRestricted is the caller's statement restricted to the copied rows, and
// how the arguments are dealt to it. The predicate stays when it is a
// deterministic function of the rows (it gives the server its access path);
// a single-table statement's other predicate is left to the copy — the rows
// are found by a key range over the copied keys instead — so that it is
// evaluated once (see mysqlPredicate).
func myRestricted(a *sqlstmt.Analysis, targets []myTarget) (string, []argSlot) {
	c, q, n := myClauses(a), a.Text, a.NumParams
	var restricts []string
	var mine []argSlot
	for _, tg := range targets {
		restricts = append(restricts, tg.restrict)
		mine = append(mine, argSlot{-1, 0})
	}
	restrict := strings.Join(restricts, " AND ")
	switch {
	case c.where == "":
		return q[:c.restrictAt] + ` WHERE ` + restrict + q[c.restrictAt:],
			append(append([]argSlot{{0, c.beforeWhere}}, mine...), argSlot{c.beforeWhere, n})
	case c.joined || !c.volatile && !c.subquery:
		cut := c.beforeWhere + c.whereArgs
		return q[:c.whereSpan[0]] + `(` + c.where + `) AND ` + restrict + q[c.whereSpan[1]:],
			append(append([]argSlot{{0, cut}}, mine...), argSlot{cut, n})
	}
	return q[:c.whereSpan[0]] + targets[0].keyRange + ` AND ` + restrict + q[c.whereSpan[1]:],
		[]argSlot{{0, c.beforeWhere}, {-1, 0}, {-1, 0}, {-1, 0}, {c.beforeWhere + c.whereArgs, n}}
}

// argSlot is a run of the caller's arguments [from, to), or the statement
// number (from < 0).
type argSlot struct{ from, to int }

// dealArgs lays out the caller's arguments vals and the statement number s
// as slots say.
func dealArgs(vals []driver.Value, slots []argSlot, s int64) []driver.Value {
	out := make([]driver.Value, 0, len(vals)+len(slots))
	for _, sl := range slots {
		if sl.from < 0 {
			out = append(out, s)
		} else {
			out = append(out, vals[sl.from:sl.to]...)
		}
	}
	return out
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
	// IGNORE: a join may reach one row several times. A single table's
	// rows are copied without it: a key that another client made non-unique
	// then fails the copy (see schema.go) instead of leaving rows out.
	ignore := ""
	if c.joined {
		ignore = "IGNORE "
	}
	tg.copy = `INSERT ` + ignore + `INTO ` + tg.copyName + ` (_sqa_s, ` + strings.Join(cols, ", ") + `) SELECT ?, ` +
		strings.Join(qualCols, ", ") + ` FROM ` + c.tableText + ` WHERE ` + mySentinel(t)
	if c.where != "" {
		tg.copy += ` AND (` + c.where + `)`
	}
	if c.order != "" {
		tg.copy += ` ` + c.order
	}
	tg.copy += ` FOR UPDATE`
	tg.restrict = myTuple(qualKeys) + ` IN (SELECT ` + strings.Join(keyCols, ", ") + ` FROM ` + tg.copyName + ` WHERE _sqa_s = ?)`
	tg.keyRange = qualKeys[0] + ` BETWEEN (SELECT MIN(` + keyCols[0] + `) FROM ` + tg.copyName + ` WHERE _sqa_s = ?) AND (SELECT MAX(` +
		keyCols[0] + `) FROM ` + tg.copyName + ` WHERE _sqa_s = ?)`
	tg.cascades = myCascades(a, t, target.set, tg.copyName, join)
	if a.Kind == sqlstmt.Update && assignsKey(target.set, t) {
		// No key may move: MariaDB checks uniqueness row by row, so copied
		// keys can only be all where they were, or some are missing.
		tg.keyMoved = `(SELECT COUNT(*) FROM ` + tg.copyName + ` WHERE _sqa_s = ?) <> (SELECT COUNT(*) FROM ` + tg.copyName + ` o JOIN ` +
			t.Quoted + ` x ON ` + strings.Join(join, " AND ") + ` WHERE o._sqa_s = ?)`
	}
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
