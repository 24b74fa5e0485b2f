package mysqldialect

import (
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// myPlanFor builds the SQL of an audited MySQL statement on ex.t.
func myPlanFor(ex *engine.Execution) *myPlan {
	t, a := ex.Table, ex.Stmt
	switch {
	case a.Upsert:
		return myUpsertPlan(a, t, ex.Session.Shared.Audit)
	case a.Kind == sqlstmt.Insert:
		return myInsertPlan(a, t, ex.Session.Shared.Audit)
	}
	return myChangePlan(ex)
}

// myCascades lists the audited children a DELETE (ON DELETE actions) or an
// UPDATE of referenced columns (ON UPDATE actions) reaches. The copied rows
// are locked, so no child can be added to them before the statement runs.
// An UPDATE that assigns a key column must leave it as it was (checked
// after it ran, see keyCheck), and InnoDB fires no action for a value that
// did not change: a key column assigned does not count.
func myCascades(a *sqlstmt.Analysis, t *engine.TableInfo, set []string, copyName string, join []string) []myCascade {
	var out []myCascade
	for _, fk := range t.Children {
		action := "ON DELETE"
		fires := a.Kind == sqlstmt.Delete && fk.OnDelete
		if a.Kind == sqlstmt.Update && fk.OnUpdate {
			action = "ON UPDATE"
			for _, s := range set {
				for _, p := range fk.Parent {
					fires = fires || strings.EqualFold(s, p) && !t.IsKey(p)
				}
			}
		}
		if !fires || !fk.Audited {
			continue
		}
		on := make([]string, len(fk.Cols))
		for i := range fk.Cols {
			on[i] = `c.` + mysqlIdent(fk.Cols[i]) + ` = x.` + mysqlIdent(fk.Parent[i])
		}
		out = append(out, myCascade{child: fk.Display, action: action, check: `SELECT 1 FROM ` + copyName + ` o JOIN ` + t.Quoted + ` x ON ` +
			strings.Join(join, " AND ") + ` JOIN ` + mysqlSpelled(fk.Table) + ` c ON ` + strings.Join(on, " AND ") + ` WHERE o._sqa_s = ? LIMIT 1`})
	}
	return out
}

// myRecordHead starts a record INSERT … SELECT: id, tx_id, actor, then the
// action and the rest.
func myRecordHead(audit string) string {
	return `INSERT INTO ` + audit + ` (id, ` + engine.RecordColumns + `) SELECT NEXT VALUE FOR ` + mySeq(audit) + `, ` + myTxID(audit) + `, ?, `
}

// myTxID is a record's tx_id: drawn from the sequence by the first record
// of a transaction (its number, two arguments, differs from the one in
// @_sqa_t) and kept in @_sqa_tx for the rest — no round trip of its own.
func myTxID(audit string) string {
	return `IF(@_sqa_t <=> ?, @_sqa_tx, (@_sqa_tx := NEXT VALUE FOR ` + mySeq(audit) + `) + 0 * (@_sqa_t := ?))`
}

// myTuple is a single expression or a row constructor.
func myTuple(items []string) string {
	if len(items) == 1 {
		return items[0]
	}
	return "(" + strings.Join(items, ", ") + ")"
}

// myType is the DATA_TYPE of column col ("json" for MariaDB's JSON).
func myType(t *engine.TableInfo, col string) string {
	for i, c := range t.Columns {
		if c == col && i < len(myt(t).Types) {
			return myt(t).Types[i]
		}
	}
	return ""
}

// myValue renders a column for JSON_OBJECT: binary strings, BLOBs and
// geometry as hex text (JSON cannot hold raw bytes), BIT as a number, FLOAT
// as the DOUBLE it is exactly (MariaDB prints a FLOAT with 6 significant
// digits, so 1234567 and 1234568 would render alike).
func myValue(t *engine.TableInfo, alias, col string) string {
	v := mysqlIdent(col)
	if alias != "" {
		v = alias + "." + v
	}
	switch myType(t, col) {
	case "float":
		return "CAST(" + v + " AS DOUBLE)"
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "geometry", "point", "linestring",
		"polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection":
		return "HEX(" + v + ")"
	case "bit":
		return "(" + v + " + 0)"
	case "json": // read as JSON also from a copy, whose column is plain LONGTEXT
		return "JSON_EXTRACT(" + v + ", '$')"
	}
	return v
}

// mySame is the condition that column col is unchanged between the rows
// aliased a and b: its rendering is the same, byte for byte ('a' → 'A' in a
// case-insensitive column is a change, DECIMAL 1.50 → 1.5 cannot happen). A
// JSON column is unchanged when it holds the same JSON value (JSON_EQUALS,
// MariaDB 10.7+: key order, whitespace and 1 → 1.0 are no change); before
// 10.7, when its rendering (whitespace normalised) is the same.
func mySame(t *engine.TableInfo, col, a, b string, jsonEquals bool) string {
	if myType(t, col) == "json" && jsonEquals {
		ca, cb := a+"."+mysqlIdent(col), b+"."+mysqlIdent(col)
		return "COALESCE(JSON_EQUALS(" + ca + ", " + cb + "), " + ca + " IS NULL AND " + cb + " IS NULL)"
	}
	return "BINARY " + myValue(t, a, col) + " <=> BINARY " + myValue(t, b, col)
}

func myObject(t *engine.TableInfo, alias string, cols []string) string {
	parts := make([]string, 0, 2*len(cols))
	for _, c := range cols {
		parts = append(parts, mysqlString(c), myValue(t, alias, c))
	}
	return "JSON_OBJECT(" + strings.Join(parts, ", ") + ")"
}

// myRedact replaces the redacted columns present in doc by RedactedValue.
func myRedact(t *engine.TableInfo, doc string) string {
	if len(t.Redact) == 0 {
		return doc
	}
	parts := []string{doc}
	for _, r := range t.Redact {
		parts = append(parts, myPath(r), mysqlString(engine.RedactedValue))
	}
	return "JSON_REPLACE(" + strings.Join(parts, ", ") + ")"
}

// mySentinel is a condition that is always true, but that the server
// refuses to prepare once table t has another number of visible columns than
// the catalog says (1241: a row of that many NULLs against SELECT * of the
// table): MariaDB prepares a cached statement again when the table's
// definition changed, so a column another client added or dropped fails the
// statement instead of leaving it out of the records (see schema.go).
// A table of one column gets a plain NULL: ROW() wants two values at least
// (ROW(NULL) is a syntax error, which failed every audited write to such a
// table).
func mySentinel(t *engine.TableInfo) string {
	n := max(myt(t).Visible, 1)
	nulls := strings.TrimSuffix(strings.Repeat("NULL, ", n), ", ")
	if n > 1 {
		nulls = `ROW(` + nulls + `)`
	}
	return nulls + ` NOT IN (SELECT * FROM ` + t.Quoted + ` WHERE FALSE)`
}

// myPath names a column in a JSON path; names with " or \ are refused by
// the catalog.
func myPath(col string) string { return mysqlString(`$."` + col + `"`) }

func fnv64(s string) string {
	h := fnv.New64a()
	h.Write([]byte(s))
	return strconv.FormatUint(h.Sum64(), 36)
}

// myPlan is the SQL of one audited statement shape on one table; shared by
// every connection of the connector.
type myPlan struct {
	targets []myTarget // UPDATE, DELETE: the audited tables the statement changes
	stmt    string     // the caller's statement, restricted to the copied keys or returning the new keys
	// stmtArgs deals the arguments to an UPDATE's or DELETE's stmt
	stmtArgs []argSlot
	// refused says why the statement cannot run audited, or ""
	refused string
	hidden  int // INSERT: key columns appended to RETURNING, dropped from the caller's rows
	autoAt  int // INSERT: the AUTO_INCREMENT column among the hidden ones, or -1
	// autoListed: the INSERT names the AUTO_INCREMENT column (or no
	// columns), so its ids may be explicit
	autoListed bool
	insert     func(n int) string // records n inserted rows, by key
	// blocks: the UPDATE or DELETE as one compound statement, under the
	// caller's savepoint [0] or in its own transaction [1]; "" when it
	// cannot run as one (myBlockable)
	blocks [2]string
}

// myCascade is one foreign-key action the statement may fire.
type myCascade struct {
	child, action, check string
}

// noPath is a JSON path no column can have (names are at most 64
// characters): JSON_REMOVE ignores it.
var noPath = mysqlString(`$.` + strings.Repeat("z", 70))
