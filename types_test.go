package sqlaudit_test

import (
	"testing"
)

// Every column type round-trips exactly into the record: the differential
// oracle compares the recorded values with to_jsonb (PostgreSQL) or
// json_object (SQLite) or JSON_OBJECT (MySQL) of the stored rows.
func TestColumnTypesAreRecordedAsTheDatabaseRendersThem(t *testing.T) {
	pg := []string{
		`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`,
		`CREATE DOMAIN posint AS integer CHECK (VALUE > 0)`,
		`CREATE TABLE typed (
			id integer PRIMARY KEY, i integer, b bigint, n numeric, r real, d double precision,
			t text, by bytea, bo boolean, dt date, ts timestamp, tz timestamptz, iv interval,
			u uuid, j json, jb jsonb, ia integer[], ta text[], m mood, p posint, pt point)`,
		`CREATE COLLATION caseless (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`,
		`CREATE DOMAIN jdoc AS json`,
		`ALTER TABLE typed ADD COLUMN ci text COLLATE caseless, ADD COLUMN jd jdoc`,
	}
	pgRows := []string{
		`INSERT INTO typed VALUES (1, -2147483648, 9223372036854775807, 12345678901234567890.123456789012, 3.14159, 'NaN',
			'Grüße, 世界 🌍 ''quoted'' \ back', '\x00ff10'::bytea, true, '2026-11-26', '2026-11-26 13:28:29.123456',
			'2026-11-26 13:28:29.123456+01', '1 year 2 mons 3 days 04:05:06.7', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
			'{"k": [1, 2.50, "x"], "z": null}', '{"b": 1.0, "a": {"c": [true]}}', '{1,NULL,3}', '{"a b","c\"d",NULL}', 'happy', 7, '(1.5,-2)')`,
		`INSERT INTO typed (id, d, r) VALUES (2, 'Infinity', '-Infinity')`,
		`INSERT INTO typed (id) VALUES (3)`,
	}
	pgChanges := []string{
		`UPDATE typed SET n = n + 0.000000000001, d = '-Infinity', r = 'NaN' WHERE id = 1`,
		`UPDATE typed SET t = 'ñ', by = NULL, jb = jsonb_set(jb, '{a,c}', '[false]'), ia = ia || 4, m = 'sad', pt = '(0,0)' WHERE id = 1`,
		`UPDATE typed SET j = '{"k": [1, 2.5, "x"], "z": null}' WHERE id = 1`, // json compares as text: a change
		`UPDATE typed SET n = 0.10, iv = '-1 day', tz = '1970-01-01 00:00:00+00', ts = 'infinity', dt = '-infinity', u = NULL, p = 1 WHERE id = 2`,
		`UPDATE typed SET i = NULL, b = -1, bo = false WHERE id IN (1, 3)`,
		`UPDATE typed SET n = 0.100 WHERE id = 2`,                             // equal to 0.10, but stored with another scale: a change
		`UPDATE typed SET j = '{"z": null, "k": [1, 2.5, "x"]}' WHERE id = 1`, // the same keys reordered: no change, no record
		`UPDATE typed SET d = 0 WHERE id = 3`,
		`UPDATE typed SET d = '-0' WHERE id = 3`, // to_jsonb renders -0 as 0: no change
		`UPDATE typed SET ci = 'abc', jd = '{"a": 1, "b": 2}' WHERE id = 3`,
		`UPDATE typed SET ci = 'ABC', jd = '{"b": 2, "a": 1}' WHERE id = 3`, // equal under the column's collation, but another text: a change; jd unchanged
		`DELETE FROM typed WHERE id = 1`,
	}
	lite := []string{`CREATE TABLE typed (id INTEGER PRIMARY KEY, i INTEGER, r REAL, n NUMERIC, t TEXT, bl BLOB, any_ ANY, bo BOOLEAN, dt DATETIME)`}
	liteRows := []string{
		`INSERT INTO typed VALUES (1, 9223372036854775807, 1.5e-300, '12.50', 'Grüße, 世界 🌍 ''quoted'' \ back', x'00ff10', 'text in any', 1, '2026-11-26 13:28:29')`,
		`INSERT INTO typed (id, r, any_) VALUES (2, 9e999, 42)`,
		`INSERT INTO typed (id) VALUES (3)`,
	}
	liteChanges := []string{
		`UPDATE typed SET r = -9e999, n = 12.5, t = 'ñ', bl = x'', any_ = 1.0 WHERE id = 1`,
		`UPDATE typed SET any_ = x'cafe', i = 0, bo = 0 WHERE id = 2`,
		`UPDATE typed SET i = NULL WHERE id IN (1, 3)`,
		`DELETE FROM typed WHERE id = 1`,
	}
	my := []string{`CREATE TABLE typed (
			id int PRIMARY KEY, ti tinyint, i int, bu bigint unsigned, n decimal(40,12), f float, d double,
			vc varchar(100) COLLATE utf8mb4_general_ci, t text, vb varbinary(10), bl blob, bi bit(5), bo boolean,
			dt date, ts datetime(6), tst timestamp(3) NULL, tm time(2), y year, e enum('sad','ok','happy'),
			s set('a','b','c'), j json)`}
	myRows := []string{
		`INSERT INTO typed VALUES (1, -128, -2147483648, 18446744073709551615, 1234567890123456789.123456789012, 3.14159, 1e308,
			'Grüße, 世界 🌍 ''quoted'' \\ back "dq"', 'line\nbreak\ttab', x'00ff10', x'cafe', b'10101', true,
			'2026-11-26', '2026-11-26 13:28:29.123456', '2026-11-26 13:28:29.123', '-838:59:59.99', 2026, 'happy',
			'a,c', '{"k": [1, 2.50, "x"], "z": null}')`,
		`INSERT INTO typed (id, d, f) VALUES (2, -1e-308, -0.5)`,
		`INSERT INTO typed (id) VALUES (3)`,
	}
	myChanges := []string{
		`UPDATE typed SET n = n + 0.000000000001, d = -d, vc = 'grüße, 世界 🌍 ''QUOTED'' \\ back "dq"' WHERE id = 1`, // a case change in a case-insensitive column is a change
		`UPDATE typed SET vb = NULL, bl = x'', bi = b'0', e = 'sad', s = '', j = JSON_SET(j, '$.z', 1) WHERE id = 1`,
		`UPDATE typed SET n = 0.10, ts = '1970-01-01 00:00:01', tm = '00:00:00', y = 1901, bu = 0 WHERE id = 2`,
		`UPDATE typed SET i = NULL, ti = 127, bo = false WHERE id IN (1, 3)`,
		`UPDATE typed SET n = 0.100 WHERE id = 2`, // the same decimal(40,12): no change, no record
		`DELETE FROM typed WHERE id = 1`,
	}
	forEachDriver(t, func(t *testing.T, drv string) {
		db, td := mustOpen(t, drv)
		setup, rows, changes := pg, pgRows, pgChanges
		switch {
		case isSQLite(drv):
			setup, rows, changes = lite, liteRows, liteChanges
		case isMySQL(drv):
			setup, rows, changes = my, myRows, myChanges
		}
		mustExec(t, td.plain, setup...)
		for _, q := range append(rows, changes...) {
			checkChange(t, td, "typed", []string{"id"}, func() { mustExec(t, db, q) })
		}
	})
}
