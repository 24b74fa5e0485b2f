package sqlaudit_test

import (
	"fmt"
	"strings"
	"testing"
)

// A FLOAT holds about 7 significant digits, but MariaDB prints it with 6:
// 1234567 and 1234568, or the coordinates 37.774929 and 37.774931, print
// alike. Every change of a stored FLOAT is recorded, with the value as the
// DOUBLE it is exactly — through each path a write can take (the compound
// statement, a multi-table UPDATE, INSERT, upsert, DELETE images) — and a
// FLOAT primary key identifies its rows like any other.
func TestMySQLFloatChangesAreRecordedExactly(t *testing.T) {
	db, td := mustOpen(t, "audit-mysql")
	mustExec(t, td.plain,
		`CREATE TABLE places (id int PRIMARY KEY, lat float, lon float, n float)`,
		`CREATE TABLE tags (id int PRIMARY KEY, place int)`, `INSERT INTO tags VALUES (1, 1)`,
		`CREATE TABLE scores (k float PRIMARY KEY, v int)`)
	steps := []struct{ table, key, q string }{
		{"places", "id", `INSERT INTO places VALUES (1, 37.774929, -122.419418, 1234567), (2, 0.1, 0, 16777217)`},
		{"places", "id", `UPDATE places SET n = 1234568 WHERE id = 1`},
		{"places", "id", `UPDATE places SET lat = 37.774931, lon = -122.419416 WHERE id = 1`},
		{"places", "id", `UPDATE places p JOIN tags g ON g.place = p.id SET p.lat = 37.774932`},
		{"places", "id", `INSERT INTO places (id, n) VALUES (1, 1234569) ON DUPLICATE KEY UPDATE n = VALUES(n)`},
		{"places", "id", `UPDATE places SET n = 16777216 WHERE id = 2`}, // 16777217 was stored as 16777216: no change
		{"places", "id", `DELETE FROM places WHERE id = 1`},
		{"scores", "k", `INSERT INTO scores VALUES (1.5, 1), (37.774929, 2), (1234567, 3)`},
		{"scores", "k", `UPDATE scores SET v = v + 1 WHERE k > 2`},
		{"scores", "k", `INSERT INTO scores VALUES (1.5, 9) ON DUPLICATE KEY UPDATE v = VALUES(v)`},
		{"scores", "k", `DELETE FROM scores WHERE v = 9`},
	}
	for _, s := range steps {
		recs := checkChange(t, td, s.table, []string{s.key}, func() { mustExec(t, db, s.q) })
		if strings.HasPrefix(s.q, "UPDATE places SET n = 1234568") && len(recs) != 1 {
			t.Fatalf("%s: %d records, want 1", s.q, len(recs))
		}
	}
}

// A JSON column counts as changed when the JSON value it holds changed:
// another key order or other whitespace is the same value, and gets no
// record (it once got a record whose old and new values were equal), in the
// compound statement and in upserts alike.
func TestMySQLJSONColumnsChangeWhenTheirValueChanges(t *testing.T) {
	db, td := mustOpen(t, "audit-mysql")
	var version string
	if err := td.plain.QueryRow(`SELECT VERSION()`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	mustExec(t, td.plain, `CREATE TABLE docs (id int PRIMARY KEY, j json, n int)`,
		`INSERT INTO docs VALUES (1, '{"a": 1, "b": [1, 2]}', 0), (2, NULL, 0)`)
	steps := []string{
		`UPDATE docs SET j = '{"a":1,"b":[1,2]}' WHERE id = 1`,     // whitespace
		`UPDATE docs SET j = '{"b": [1, 2], "a": 1}' WHERE id = 1`, // key order
		`UPDATE docs SET j = '{"a": 1, "b": [2, 1]}' WHERE id = 1`, // array order is a change
		`UPDATE docs SET j = '{"a": 1, "b": [2, 1]}', n = 1`,       // NULL → {...} is a change, the same value is not
		`UPDATE docs SET j = NULL WHERE id = 2`,                    // {...} → NULL
		`INSERT INTO docs VALUES (1, '{"b":[2,1],"a":1}', 1) ON DUPLICATE KEY UPDATE j = VALUES(j), n = VALUES(n)`,
		`INSERT INTO docs VALUES (1, '{"b":[2,1],"a":2}', 1) ON DUPLICATE KEY UPDATE j = VALUES(j)`,
	}
	for _, q := range steps {
		if strings.Contains(q, `"b": [1, 2], "a"`) && !mysqlAtLeast(version, 10, 7) {
			continue // key order is a change before JSON_EQUALS (10.7)
		}
		checkChange(t, td, "docs", []string{"id"}, func() { mustExec(t, db, q) })
	}
}

// mysqlAtLeast reports whether a MariaDB VERSION() is major.minor or newer.
func mysqlAtLeast(version string, major, minor int) bool {
	var ma, mi int
	n, _ := fmt.Sscanf(version, "%d.%d", &ma, &mi)
	return n == 2 && (ma > major || ma == major && mi >= minor)
}
