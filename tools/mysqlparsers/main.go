// Command mysqlparsers measures the two MySQL grammars considered for the
// audit-mysql dialect on a corpus of ORM and hand-written write statements:
// how many each reads correctly (statement kind and written tables) and how
// fast. It lives in its own module so that the main module does not depend
// on vitess. Run: go run . (from this directory).
package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	xwb "github.com/xwb1989/sqlparser"
	vt "vitess.io/vitess/go/vt/sqlparser"
)

// sample is one statement with what a correct reading says: its kind and
// the tables it writes, sorted.
type sample struct {
	sql, kind, tables string
}

var corpus = []sample{
	{"INSERT INTO `users` (`name`,`email`,`created_at`) VALUES (?,?,?)", "insert", "users"},
	{"INSERT INTO `users` (`name`) VALUES (?),(?),(?)", "insert", "users"},
	{"INSERT INTO `users` (`id`,`name`) VALUES (?,?) ON DUPLICATE KEY UPDATE `name`=VALUES(`name`)", "insert", "users"},
	{"INSERT INTO users (id, name) VALUES (1,'a') AS new ON DUPLICATE KEY UPDATE name = new.name", "insert", "users"},
	{"INSERT IGNORE INTO t (a) VALUES (1)", "insert", "t"},
	{"REPLACE INTO t (id, a) VALUES (1, 2)", "replace", "t"},
	{"INSERT INTO t SELECT * FROM s WHERE x > 1", "insert", "t"},
	{"INSERT INTO t SET a = 1, b = 'x'", "insert", "t"},
	{"UPDATE `users` SET `deleted_at`=? WHERE `users`.`id` = ? AND `users`.`deleted_at` IS NULL", "update", "users"},
	{"UPDATE t SET a = a + 1 WHERE b > 3 ORDER BY id LIMIT 10", "update", "t"},
	{"UPDATE t JOIN s ON t.id = s.tid SET t.a = s.a WHERE s.b = 1", "update", "s,t"},
	{"UPDATE t, s SET t.a = s.a WHERE t.id = s.tid", "update", "s,t"},
	{"UPDATE LOW_PRIORITY IGNORE t SET a = 1", "update", "t"},
	{"DELETE FROM t WHERE id = ?", "delete", "t"},
	{"DELETE FROM t WHERE a < 5 ORDER BY id LIMIT 100", "delete", "t"},
	{"DELETE t1, t2 FROM t1 JOIN t2 ON t1.id = t2.id WHERE t1.a = 1", "delete", "t1,t2"},
	{"DELETE t1 FROM t1 LEFT JOIN t2 ON t1.id = t2.id WHERE t2.id IS NULL", "delete", "t1"},
	{"DELETE FROM t1 USING t1 JOIN t2 ON t1.id = t2.id", "delete", "t1"},
	{"DELETE FROM t WHERE id = 1 RETURNING id, a", "delete", "t"},
	{"INSERT INTO t (a) VALUES (1) RETURNING id", "insert", "t"},
	{"UPDATE t SET s = 'it\\'s' WHERE n = \"dq string\" # comment", "update", "t"},
	{"WITH x AS (SELECT id FROM s) UPDATE t SET a = 1 WHERE id IN (SELECT id FROM x)", "update", "t"},
	{"UPDATE `weird table` SET `col``x` = 1", "update", "weird table"},
	{"INSERT INTO t (j) VALUES (JSON_OBJECT('a', 1))", "insert", "t"},
	{"UPDATE t SET a = ? WHERE id IN (?, ?, ?)", "update", "t"},
	{"INSERT INTO t (a,b) VALUES (?,?) ON DUPLICATE KEY UPDATE b = b + VALUES(b)", "insert", "t"},
	{"UPDATE t SET a = DEFAULT WHERE id = 1", "update", "t"},
	{"INSERT INTO t VALUES (1, b'101', x'FF', _utf8mb4'x')", "insert", "t"},
	{"UPDATE db1.t SET a = 1 WHERE id = 2", "update", "db1.t"},
	{"DELETE FROM `db1`.`t` WHERE `id` = ?", "delete", "db1.t"},
	{"INSERT INTO t (a) SELECT a FROM s ON DUPLICATE KEY UPDATE a = s.a", "insert", "t"},
	{"UPDATE t SET a = CASE WHEN b > 1 THEN 'x' ELSE 'y' END, c = NOW() WHERE d BETWEEN ? AND ?", "update", "t"},
}

func main() {
	type reader struct {
		name  string
		parse func(string) (kind, tables string, err error)
	}
	p, err := vt.New(vt.Options{MySQLServerVersion: "8.0.40"})
	if err != nil {
		panic(err)
	}
	readers := []reader{
		{"xwb1989/sqlparser", readXWB},
		{"vitess.io/vitess/go/vt/sqlparser", func(q string) (string, string, error) { return readVitess(p, q) }},
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	for _, r := range readers {
		ok := 0
		var wrong []string
		for _, s := range corpus {
			k, tabs, err := r.parse(s.sql)
			if err == nil && k == s.kind && tabs == s.tables {
				ok++
				continue
			}
			wrong = append(wrong, fmt.Sprintf("    %q: got %s [%s] %v", s.sql, k, tabs, err))
		}
		start, n := time.Now(), 0
		for time.Since(start) < time.Second {
			for _, s := range corpus {
				r.parse(s.sql) //nolint:errcheck // timing only
				n++
			}
		}
		per := time.Since(start) / time.Duration(n)
		fmt.Fprintf(w, "%s\tread correctly %d of %d\t%v per statement\n", r.name, ok, len(corpus), per)
		w.Flush()
		fmt.Println(strings.Join(wrong, "\n"))
	}
}

func names(ns []string) string {
	sort.Strings(ns)
	return strings.Join(ns, ",")
}

func readXWB(q string) (string, string, error) {
	st, err := xwb.Parse(q)
	if err != nil {
		return "", "", err
	}
	tn := func(t xwb.TableName) string {
		if !t.Qualifier.IsEmpty() {
			return t.Qualifier.String() + "." + t.Name.String()
		}
		return t.Name.String()
	}
	var ns []string
	exprs := func(te xwb.TableExprs) {
		xwb.Walk(func(n xwb.SQLNode) (bool, error) {
			if a, ok := n.(*xwb.AliasedTableExpr); ok {
				if t, ok := a.Expr.(xwb.TableName); ok {
					ns = append(ns, tn(t))
				}
				return false, nil
			}
			return true, nil
		}, te)
	}
	switch s := st.(type) {
	case *xwb.Insert:
		return strings.ToLower(s.Action), tn(s.Table), nil
	case *xwb.Update:
		exprs(s.TableExprs)
		return "update", names(ns), nil
	case *xwb.Delete:
		if len(s.Targets) > 0 {
			for _, t := range s.Targets {
				ns = append(ns, tn(t))
			}
		} else {
			exprs(s.TableExprs)
		}
		return "delete", names(ns), nil
	}
	return fmt.Sprintf("%T", st), "", nil
}

func readVitess(p *vt.Parser, q string) (string, string, error) {
	st, err := p.Parse(q)
	if err != nil {
		return "", "", err
	}
	tn := func(t vt.TableName) string {
		if !t.Qualifier.IsEmpty() {
			return t.Qualifier.String() + "." + t.Name.String()
		}
		return t.Name.String()
	}
	var ns []string
	exprs := func(te []vt.TableExpr) {
		for _, e := range te {
			_ = vt.Walk(func(n vt.SQLNode) (bool, error) {
				if a, ok := n.(*vt.AliasedTableExpr); ok {
					if t, ok := a.Expr.(vt.TableName); ok {
						ns = append(ns, tn(t))
					}
					return false, nil
				}
				return true, nil
			}, e)
		}
	}
	switch s := st.(type) {
	case *vt.Insert:
		kind := "insert"
		if s.Action == vt.ReplaceAct {
			kind = "replace"
		}
		t, _ := s.Table.TableName()
		return kind, tn(t), nil
	case *vt.Update:
		exprs(s.TableExprs)
		return "update", names(ns), nil
	case *vt.Delete:
		if len(s.Targets) > 0 {
			for _, t := range s.Targets {
				ns = append(ns, tn(t))
			}
		} else {
			exprs(s.TableExprs)
		}
		return "delete", names(ns), nil
	}
	return fmt.Sprintf("%T", st), "", nil
}
