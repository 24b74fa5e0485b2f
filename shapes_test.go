package sqlaudit_test

import (
	"fmt"
	"strings"
	"testing"
)

// Statement and table shapes of the core: identifiers of every kind, aliases,
// schema qualification, a column named like its table, dropped columns.
func TestStatementShapesAreRecordedExactly(t *testing.T) {
	// A step starting "pg:" runs on PostgreSQL only.
	cases := []struct {
		name   string
		setup  []string
		table  string // as the record names it and as snap reads it
		key    []string
		steps  []string
		onlyPG bool
	}{
		{
			name:  "quoted mixed-case identifiers and reserved words",
			setup: []string{`CREATE TABLE "Order Items" ("Id" integer PRIMARY KEY, "select" text, "Qty" integer)`, `INSERT INTO "Order Items" VALUES (1, 'a', 1), (2, 'b', 2)`},
			table: `"Order Items"`, key: []string{"Id"},
			steps: []string{`UPDATE "Order Items" SET "Qty" = "Qty" + 1 WHERE "select" = 'a'`, `DELETE FROM "Order Items" AS oi WHERE oi."Id" = 2`,
				`INSERT INTO "Order Items" ("Id", "select", "Qty") VALUES (3, 'where', 0)`},
		},
		{
			name:  "column named like its table",
			setup: []string{`CREATE TABLE tag (id integer PRIMARY KEY, tag text)`, `INSERT INTO tag VALUES (1, 'x'), (2, 'y')`},
			table: "tag", key: []string{"id"},
			steps: []string{`UPDATE tag SET tag = tag || '!' WHERE tag = 'x'`, `DELETE FROM tag WHERE tag = 'y'`},
		},
		{
			name:  "composite primary key",
			setup: []string{`CREATE TABLE stock (shop text, sku integer, n integer, PRIMARY KEY (shop, sku))`, `INSERT INTO stock VALUES ('a', 1, 5), ('a', 2, 6), ('b', 1, 7)`},
			table: "stock", key: []string{"shop", "sku"},
			steps: []string{`UPDATE stock SET n = n - 1 WHERE shop = 'a'`, `DELETE FROM stock WHERE shop = 'b' AND sku = 1`},
		},
		{
			name:  "strings and comments that look like clauses",
			setup: []string{`CREATE TABLE notes (id integer PRIMARY KEY, body text)`, `INSERT INTO notes VALUES (1, 'x'), (2, 'WHERE id = 1')`},
			table: "notes", key: []string{"id"},
			steps: []string{`UPDATE notes /* WHERE id = 2 */ SET body = 'RETURNING; WHERE' -- WHERE id = 1
				WHERE body = 'WHERE id = 1'`, `UPDATE notes SET body = (SELECT max(body) FROM notes n WHERE n.id < 5) WHERE id = 1`},
		},
		{
			name:  "predicate with subquery, IN list and IS DISTINCT FROM",
			setup: []string{`CREATE TABLE items (id integer PRIMARY KEY, v integer, w integer)`, `INSERT INTO items VALUES (1, 1, NULL), (2, 2, 2), (3, 3, 4)`},
			table: "items", key: []string{"id"},
			steps: []string{`UPDATE items SET v = v * 10 WHERE id IN (SELECT id FROM items WHERE v < 3) AND w IS DISTINCT FROM 2`,
				`UPDATE items SET w = CASE WHEN v IS DISTINCT FROM w THEN 1 ELSE 0 END WHERE id = 3`},
			onlyPG: true,
		},
		{
			name:  "schema-qualified table outside the current schema",
			setup: []string{`CREATE SCHEMA IF NOT EXISTS other_` + "SCHEMA_SUFFIX", `CREATE TABLE other_SCHEMA_SUFFIX.t (id integer PRIMARY KEY, v text)`, `INSERT INTO other_SCHEMA_SUFFIX.t VALUES (1, 'a')`},
			table: "other_SCHEMA_SUFFIX.t", key: []string{"id"},
			steps:  []string{`UPDATE other_SCHEMA_SUFFIX.t SET v = 'b'`, `DELETE FROM other_SCHEMA_SUFFIX.t AS x WHERE x.id = 1`},
			onlyPG: true,
		},
		{
			name: "UPDATE … FROM a join, a VALUES list (bun's bulk update) and a join matching twice",
			setup: []string{`CREATE TABLE prices (id integer PRIMARY KEY, sku text, price integer)`, `CREATE TABLE feed (sku text, price integer)`,
				`INSERT INTO prices VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', 30)`, `INSERT INTO feed VALUES ('a', 11), ('b', 20), ('c', 31), ('c', 31)`},
			table: "prices", key: []string{"id"},
			steps: []string{`UPDATE prices SET price = f.price FROM feed f WHERE f.sku = prices.sku`,
				`pg:UPDATE prices AS p SET price = _data.price FROM (VALUES (1, 100), (3, 300)) AS _data (id, price) WHERE p.id = _data.id`,
				`WITH _data (id, price) AS (VALUES (1, 101), (3, 301)) UPDATE prices AS p SET price = _data.price FROM _data WHERE p.id = _data.id`,
				`UPDATE prices SET price = prices.price + 1 FROM feed`},
		},
		{
			name:  "DELETE … USING",
			setup: []string{`CREATE TABLE orders (id integer PRIMARY KEY, customer text)`, `CREATE TABLE banned (name text)`, `INSERT INTO orders VALUES (1, 'x'), (2, 'y'), (3, 'x')`, `INSERT INTO banned VALUES ('x'), ('x')`},
			table: "orders", key: []string{"id"},
			steps:  []string{`DELETE FROM orders o USING banned b WHERE b.name = o.customer`},
			onlyPG: true,
		},
		{
			name:  "statements with their own WITH queries",
			setup: []string{`CREATE TABLE counters (id integer PRIMARY KEY, n integer)`, `INSERT INTO counters VALUES (1, 0), (2, 0), (3, 0)`},
			table: "counters", key: []string{"id"},
			steps: []string{`WITH hot AS (SELECT id FROM counters WHERE id < 3) UPDATE counters SET n = n + 1 WHERE id IN (SELECT id FROM hot)`,
				`WITH RECURSIVE r(k) AS (SELECT 4 UNION ALL SELECT k + 1 FROM r WHERE k < 6) INSERT INTO counters (id, n) SELECT k, 0 FROM r`,
				`WITH old AS (SELECT id FROM counters WHERE n = 0) DELETE FROM counters WHERE id IN (SELECT id FROM old) RETURNING id`},
		},
		{
			name:  "dropped and added columns",
			setup: []string{`CREATE TABLE evolving (id integer PRIMARY KEY, a text, b text)`, `INSERT INTO evolving VALUES (1, 'a', 'b')`, `ALTER TABLE evolving DROP COLUMN a`, `ALTER TABLE evolving ADD COLUMN c text`},
			table: "evolving", key: []string{"id"},
			steps: []string{`UPDATE evolving SET c = 'c', b = 'bb' RETURNING *`, `INSERT INTO evolving (id, b) VALUES (2, 'x')`, `DELETE FROM evolving WHERE id = 1`},
		},
		{
			name:  "partitioned table",
			setup: []string{`CREATE TABLE measures (id integer, day date, v integer, PRIMARY KEY (id, day)) PARTITION BY RANGE (day)`, `CREATE TABLE measures_2026 PARTITION OF measures FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')`, `INSERT INTO measures VALUES (1, '2026-03-01', 1), (2, '2026-04-01', 2)`},
			table: "measures", key: []string{"id", "day"},
			steps:  []string{`UPDATE measures SET v = v + 1`, `DELETE FROM ONLY measures WHERE id = 9`, `DELETE FROM measures WHERE id = 2`, `TRUNCATE measures`},
			onlyPG: true,
		},
	}
	forEachDriver(t, func(t *testing.T, drv string) {
		if isMySQL(drv) {
			t.Skip("MySQL's shapes are in TestMySQLStatementShapesAreRecordedExactly")
		}
		for _, c := range cases {
			if c.onlyPG && isSQLite(drv) {
				continue
			}
			t.Run(c.name, func(t *testing.T) {
				db, td := mustOpen(t, drv)
				suffix := fmt.Sprintf("x%d", schemaSeq.Add(1))
				fix := func(s string) string { return strings.ReplaceAll(s, "SCHEMA_SUFFIX", suffix) }
				for _, s := range c.setup {
					mustExec(t, td.plain, fix(s))
				}
				if strings.Contains(c.setup[0], "SCHEMA_SUFFIX") {
					t.Cleanup(func() { td.plain.Exec(fix(`DROP SCHEMA other_SCHEMA_SUFFIX CASCADE`)) })
				}
				recordName := strings.Trim(fix(c.table), `"`)
				for _, s := range c.steps {
					if strings.HasPrefix(s, "pg:") {
						if isSQLite(drv) {
							continue
						}
						s = s[3:]
					}
					checkChange(t, td, fix(c.table), c.key, func() {
						rows, err := db.Query(fix(s))
						if err != nil {
							t.Fatalf("%s: %v", s, err)
						}
						rows.Close()
					})
				}
				for _, r := range td.trail(t, "audit_log", 0) {
					if r.Table != recordName {
						t.Errorf("table_name %q, want %q", r.Table, recordName)
					}
				}
			})
		}
	})
}
