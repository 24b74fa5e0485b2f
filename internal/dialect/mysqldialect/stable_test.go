package mysqldialect

import (
	"testing"

	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// A predicate is volatile when evaluating it again may select other rows;
// the plans then leave it to the copy (see myRestricted).
func TestMySQLPredicatesAreReadForDeterminism(t *testing.T) {
	for _, c := range []struct {
		where              string
		volatile, subquery bool
	}{
		{"id = ?", false, false},
		{"`users`.`id` = ? AND `users`.`deleted_at` IS NULL", false, false},
		{"LOWER(email) = ? AND id IN (1, 2) AND (a = 1 OR b BETWEEN 2 AND 3)", false, false},
		{"created < DATE_SUB(?, INTERVAL 1 DAY) AND @x = 1", false, false},
		{"t.now = 1 AND UNIX_TIMESTAMP(ts) > 0", false, false},
		{"RAND() < 0.5", true, false},
		{"expires < NOW()", true, false},
		{"expires < CURRENT_TIMESTAMP", true, false},
		{"ts < UNIX_TIMESTAMP()", true, false},
		{"my_function(id) = 1", true, false},
		{"otherdb.f(id) = 1", true, false},
		{"UUID() = id", true, false},
		{"id IN (SELECT id FROM s WHERE k = 1)", false, true},
		{"EXISTS (SELECT 1 FROM s WHERE s.id = t.id)", false, true},
		{"id = (SELECT id FROM s ORDER BY RAND() LIMIT 1)", true, true},
	} {
		toks := sqlstmt.Lex(c.where, sqlstmt.StyleMySQL)
		if v, s := mysqlPredicate(c.where, toks); v != c.volatile || s != c.subquery {
			t.Errorf("%s: volatile %v, subquery %v; want %v, %v", c.where, v, s, c.volatile, c.subquery)
		}
	}
	for q, want := range map[string]bool{
		"(@n := @n + 1) > 3": true, "NEXTVAL(s) > 1": true, "NEXT VALUE FOR s > 1": true, "SETVAL(s, 1)": true,
		"@n = 1": false, "next = 1": false, "a := 1": true,
	} {
		if got := mysqlUnrepeatable(q, sqlstmt.Lex(q, sqlstmt.StyleMySQL)); got != want {
			t.Errorf("%s: unrepeatable %v, want %v", q, got, want)
		}
	}
}
