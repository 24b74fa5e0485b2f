package web

import (
	"fmt"
	"testing"
	"time"

	"github.com/sqlaudit/sqlaudit/trail"
)

func TestTargetTableNamesTheTableAWriteStatementNames(t *testing.T) {
	for _, c := range []struct{ query, want string }{
		{`INSERT INTO orders VALUES (1)`, "orders"},
		{`insert or replace into "Order Lines" (a) values (1)`, `"Order Lines"`},
		{`UPDATE billing.invoices SET x = 1`, "billing.invoices"},
		{`UPDATE ONLY "s"."t" SET x = 1`, `"s"."t"`},
		{"UPDATE LOW_PRIORITY IGNORE `shop`.`items` SET x = 1", "`shop`.`items`"},
		{`DELETE FROM customers WHERE id = 2`, "customers"},
		{`DELETE QUICK IGNORE FROM t1 WHERE a = 1`, "t1"},
		{`-- a comment` + "\n" + `/* another */ DELETE FROM t`, "t"},
		{`REPLACE INTO kv VALUES (1, 2)`, "kv"},
		{`TRUNCATE TABLE logs`, "logs"},
		{`MERGE INTO target t USING src s ON t.id = s.id WHEN MATCHED THEN DELETE`, "target"},
		{`WITH x AS (SELECT 1) DELETE FROM t`, ""},
		{`DELETE t1 FROM t1 JOIN t2 ON t1.a = t2.a`, ""},
		{`SELECT 1`, ""},
	} {
		if got := targetTable(c.query); got != c.want {
			t.Errorf("targetTable(%q) = %q, want %q", c.query, got, c.want)
		}
	}
}

func TestSameTableIgnoresQuotesCaseAndADefaultSchema(t *testing.T) {
	for _, c := range []struct {
		named, recorded string
		want            bool
	}{
		{"orders", "orders", true},
		{"ORDERS", "orders", true},
		{`"orders"`, "orders", true},
		{"orders", "shop.orders", true},
		{"shop.orders", "shop.orders", true},
		{"other.orders", "shop.orders", false},
		{"`items`", "items", true},
		{"orders", "order_lines", false},
	} {
		if got := sameTable(c.named, c.recorded); got != c.want {
			t.Errorf("sameTable(%q, %q) = %v", c.named, c.recorded, got)
		}
	}
}

func TestGroupStatementsPutsCascadesUnderTheStatementThatCausedThem(t *testing.T) {
	rec := func(id int64, table, query string) trail.Record {
		return trail.Record{ID: id, Table: table, Query: query}
	}
	del := `DELETE FROM customers WHERE id = 2`
	upd := `UPDATE orders SET total = 1`
	unknown := `WITH gone AS (SELECT 1) DELETE FROM orders`
	groups := groupStatements([]trail.Record{
		rec(1, "s.orders", del), rec(2, "s.customers", del), rec(3, "s.order_lines", del),
		rec(4, "s.orders", upd), rec(5, "s.orders", upd),
		rec(6, "s.orders", unknown), rec(7, "s.lines", unknown),
		rec(8, "s.customers", del),
	})
	got := ""
	for _, g := range groups {
		got += fmt.Sprintf("[%s %v %v] ", g.Table, g.RecordIDs, g.CascadeIDs)
	}
	want := "[customers [2] [1 3]] [orders [4 5] []] [s.orders [6] [7]] [customers [8] []] "
	if got != want {
		t.Errorf("groups\n%s\nwant\n%s", got, want)
	}
}

func TestParseWhenReadsAbsoluteUTCAndRelativeTimes(t *testing.T) {
	now := time.Date(2026, 5, 10, 15, 30, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Time
	}{
		{"", time.Time{}},
		{"now", now},
		{"2025-05-01", time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)},
		{"2025-05-01 12:00", time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)},
		{"2025-05-01T12:00", time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)},
		{"2025-05-01 12:00:01.5", time.Date(2025, 5, 1, 12, 0, 1, 5e8, time.UTC)},
		{"2025-05-01T12:00:00+02:00", time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)},
		{"15m", now.Add(-15 * time.Minute)},
		{"1h30m", now.Add(-90 * time.Minute)},
		{"7d", now.AddDate(0, 0, -7)},
		{"2w", now.AddDate(0, 0, -14)},
		{"today", time.Date(2026, 5, 10, 0, 0, 0, 0, time.UTC)},
		{"Yesterday", time.Date(2026, 5, 9, 0, 0, 0, 0, time.UTC)},
	} {
		got, err := parseWhen("since", c.in, now)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("parseWhen(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"soon", "-5m", "2025-02-30", "12:00", "5y"} {
		if _, err := parseWhen("since", bad, now); err == nil {
			t.Errorf("parseWhen(%q): no error", bad)
		}
	}
}
