package mysqldialect

import (
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// An UPDATE or DELETE copies the rows its predicate selects, then runs
// restricted to the copied keys. Keeping the caller's predicate in the
// restricted statement gives the server its access path (an index), but
// evaluates the predicate a second time: a predicate that is not a
// deterministic function of the locked rows — RAND(), NOW(), a sequence, a
// subquery over other tables, a user-variable assignment, a stored function
// — could then select fewer rows than were copied (WHERE RAND() < 0.5
// changed a quarter of the rows instead of half). Such a predicate is left
// to the copy alone (see myChangePlan).

// mysqlPredicate reads a predicate's tokens: volatile when it reads the
// clock, RAND() or any function but those of mysqlPure (stored functions may
// do anything); subquery when it reads a subquery. Otherwise it is a
// deterministic function of the row: columns, literals, placeholders,
// variables read, operators. (Assignments and sequence steps are refused
// before: see mysqlUnrepeatable.)
func mysqlPredicate(q string, toks []sqlstmt.Token) (volatile, subquery bool) {
	for i, t := range toks {
		if t.Kind != sqlstmt.TokWord {
			continue
		}
		w := strings.ToUpper(t.Text(q))
		call := i+1 < len(toks) && toks[i+1].Text(q) == "("
		qualified := i > 0 && toks[i-1].Text(q) == "."
		switch {
		case qualified && !call: // a column, which may be named NOW
		case qualified: // db.f(…): a stored function
			volatile = true
		case w == "SELECT":
			subquery = true
		case mysqlClock[w]:
			volatile = true
		case w == "PREVIOUS" && i+1 < len(toks) && toks[i+1].Is(q, "VALUE"):
			volatile = true
		case w == "UNIX_TIMESTAMP" && call && i+2 < len(toks) && toks[i+2].Text(q) == ")":
			volatile = true // the clock; UNIX_TIMESTAMP(col) is a function of its argument
		case call && !mysqlPure[w] && !mysqlNotCalls[w]:
			volatile = true
		}
	}
	return volatile, subquery
}

// mysqlUnrepeatable reports a predicate or ORDER BY that the copy (an
// INSERT … SELECT) cannot evaluate as the UPDATE or DELETE would: MariaDB
// steps a sequence (NEXTVAL, SETVAL, NEXT VALUE FOR) once per INSERT …
// SELECT but once per row in an UPDATE, and evaluates a user-variable
// assignment (@n := @n + 1) once per row in a SELECT but folds it to a
// constant in an UPDATE's predicate.
func mysqlUnrepeatable(q string, toks []sqlstmt.Token) bool {
	for i, t := range toks {
		w := strings.ToUpper(t.Text(q))
		if mysqlAssignAt(q, toks, i) ||
			t.Kind == sqlstmt.TokWord && (w == "NEXTVAL" || w == "SETVAL" || w == "NEXT" && i+1 < len(toks) && toks[i+1].Is(q, "VALUE")) {
			return true
		}
	}
	return false
}

// mysqlClock are the words that read the clock without parentheses.
var mysqlClock = map[string]bool{"CURRENT_TIMESTAMP": true, "CURRENT_DATE": true, "CURRENT_TIME": true,
	"LOCALTIME": true, "LOCALTIMESTAMP": true, "UTC_TIMESTAMP": true, "UTC_DATE": true, "UTC_TIME": true,
	"NOW": true, "SYSDATE": true, "CURDATE": true, "CURTIME": true}

// mysqlNotCalls are keywords a parenthesis may follow in a predicate.
var mysqlNotCalls = words("AND OR NOT XOR IN IS BETWEEN LIKE REGEXP RLIKE ESCAPE CASE WHEN THEN ELSE END " +
	"DIV MOD ANY SOME ALL EXISTS ROW NULL TRUE FALSE UNKNOWN COLLATE BINARY INTERVAL ON USING AS")

// mysqlPure are MariaDB's built-in functions whose value depends on their
// arguments only.
var mysqlPure = words(
	// numbers
	"ABS ACOS ASIN ATAN ATAN2 CEIL CEILING COS COT DEGREES EXP FLOOR LN LOG LOG10 LOG2 MOD PI POW POWER " +
		"RADIANS ROUND SIGN SIN SQRT TAN TRUNCATE CONV BIN OCT HEX UNHEX CRC32 MD5 SHA SHA1 SHA2 " +
		// strings
		"ASCII CHAR CHAR_LENGTH CHARACTER_LENGTH CONCAT CONCAT_WS ELT FIELD FIND_IN_SET FORMAT INSERT INSTR " +
		"LCASE LEFT LENGTH LOCATE LOWER LPAD LTRIM MID POSITION QUOTE REPEAT REPLACE REVERSE RIGHT RPAD RTRIM " +
		"SOUNDEX SPACE STRCMP SUBSTR SUBSTRING SUBSTRING_INDEX TRIM UCASE UPPER OCTET_LENGTH BIT_LENGTH " +
		"REGEXP_REPLACE REGEXP_SUBSTR REGEXP_INSTR " +
		// control and conversion
		"COALESCE IFNULL NULLIF IF ISNULL GREATEST LEAST CAST CONVERT " +
		// dates of their arguments (UNIX_TIMESTAMP() without one is the clock)
		"DATE TIME YEAR MONTH DAY DAYOFMONTH DAYOFWEEK DAYOFYEAR DAYNAME MONTHNAME HOUR MINUTE SECOND " +
		"MICROSECOND WEEK WEEKDAY WEEKOFYEAR YEARWEEK QUARTER DATE_ADD DATE_SUB ADDDATE SUBDATE ADDTIME " +
		"SUBTIME DATEDIFF TIMEDIFF TIMESTAMPDIFF TIMESTAMPADD DATE_FORMAT TIME_FORMAT STR_TO_DATE FROM_DAYS " +
		"TO_DAYS TO_SECONDS FROM_UNIXTIME UNIX_TIMESTAMP MAKEDATE MAKETIME LAST_DAY EXTRACT PERIOD_ADD " +
		"PERIOD_DIFF SEC_TO_TIME TIME_TO_SEC " +
		// JSON
		"JSON_EXTRACT JSON_UNQUOTE JSON_VALUE JSON_QUERY JSON_CONTAINS JSON_CONTAINS_PATH JSON_LENGTH " +
		"JSON_TYPE JSON_KEYS JSON_EXISTS JSON_SEARCH JSON_OVERLAPS JSON_VALID")

func words(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// mysqlPlainAssignments turns the user-variable assignments @v := e of a
// text into comparisons @v = e for the grammar, which does not know ":=";
// the grammar only checks the structure and names the tables, and an
// assignment stands where a comparison may. (The texts the plans rewrite are
// sliced from the caller's text.)
func mysqlPlainAssignments(q string) string {
	toks := sqlstmt.Lex(q, sqlstmt.StyleMySQL)
	var b []byte
	for i := range toks {
		if mysqlAssignAt(q, toks, i) {
			if b == nil {
				b = []byte(q)
			}
			b[toks[i].Start] = ' '
		}
	}
	if b == nil {
		return q
	}
	return string(b)
}

// mysqlAssignAt: toks[i] and toks[i+1] are ":=" (the lexer cuts
// punctuation into single characters).
func mysqlAssignAt(q string, toks []sqlstmt.Token, i int) bool {
	return i+1 < len(toks) && toks[i].Kind == sqlstmt.TokPunct && toks[i].Text(q) == ":" &&
		toks[i+1].Text(q) == "=" && toks[i+1].Start == toks[i].End
}
