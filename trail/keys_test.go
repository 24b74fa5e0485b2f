package trail_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sqlaudit/sqlaudit/trail"
)

// A key is typed as the trail records the table's keys: a text key that
// looks like a number, and a number given as text, find their records, and
// AsOf rebuilds the past row instead of taking the current one.
func TestKeysAreTypedAsTheTrailRecordsThem(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		mustExec(t, e.db, `CREATE TABLE codes (code VARCHAR(20) PRIMARY KEY, v INTEGER)`, itemsDDL)
		step(t, e, "alice", `INSERT INTO codes VALUES ('42', 1), ('042', 2)`, `INSERT INTO items VALUES (3, 'tea', 1, 1)`)
		time.Sleep(20 * time.Millisecond)
		at := time.Now()
		time.Sleep(20 * time.Millisecond)
		step(t, e, "bob", `UPDATE codes SET v = 5 WHERE code = '42'`, `UPDATE items SET qty = 9 WHERE id = 3`)
		codes, items := e.tbl("codes"), e.tbl("items")
		for _, c := range []struct {
			name  string
			table string
			key   trail.Key
			want  int // records
			asOf  string
		}{
			{"text key given as text", codes, trail.Key{"code": "42"}, 2, "1"},
			{"text key given as a number", codes, trail.Key{"code": 42}, 2, "1"},
			{"text key given as a JSON number", codes, trail.Key{"code": json.Number("42")}, 2, "1"},
			{"a text key with a leading zero is its own row", codes, trail.Key{"code": "042"}, 1, "2"},
			{"integer key given as text", items, trail.Key{"id": "3"}, 2, "1"},
			{"integer key given as 3.0", items, trail.Key{"id": 3.0}, 2, "1"},
			{"integer key given as an int", items, trail.Key{"id": 3}, 2, "1"},
		} {
			recs, err := trail.History(ctx, e.db, c.table, c.key)
			if err != nil || len(recs) != c.want {
				t.Errorf("%s: History = %d records, %v; want %d", c.name, len(recs), err, c.want)
			}
			row, ok, err := trail.AsOf(ctx, e.db, c.table, c.key, at)
			col := "v"
			if c.table == items {
				col = "qty"
			}
			if err != nil || !ok || jsonOf(row[col]) != c.asOf {
				t.Errorf("%s: AsOf = %v %v %v; want %s = %s", c.name, row, ok, err, col, c.asOf)
			}
		}
		if recs, err := trail.History(ctx, e.db, codes, trail.Key{"code": "43"}); err != nil || len(recs) != 0 {
			t.Errorf("an unknown key: %d records, %v", len(recs), err)
		}
		n, err := trail.Count(ctx, e.db, trail.Filter{Table: items, Key: trail.Key{"id": "3"}})
		if err != nil || n.Records != 2 {
			t.Errorf("Count of a key given as text: %+v %v", n, err)
		}
	})
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// AsOf never takes the current row for the past when the trail has no
// record of it: the row was written without the audit driver (or the key
// is not the trail's), so its past is unknown.
func TestAsOfRefusesARowWithoutRecords(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		mustExec(t, e.db, itemsDDL)
		step(t, e, "alice", `INSERT INTO items VALUES (1, 'tea', 1, 1)`)
		mustExec(t, e.plain, `INSERT INTO items VALUES (2, 'unseen', 1, 1)`)
		_, _, err := trail.AsOf(ctx, e.db, e.tbl("items"), trail.Key{"id": 2}, time.Now().Add(-time.Hour))
		if !errors.Is(err, trail.ErrNoRecords) || !strings.Contains(err.Error(), "id (a number)") {
			t.Errorf("a row without records: %v; want ErrNoRecords naming the trail's key", err)
		}
		if _, ok, err := trail.AsOf(ctx, e.db, e.tbl("items"), trail.Key{"id": 7}, time.Now()); err != nil || ok {
			t.Errorf("a row that neither exists nor has records: %v %v; want absent", ok, err)
		}
		if _, ok, err := trail.AsOf(ctx, e.db, e.tbl("items"), trail.Key{"id": 1}, time.Now()); err != nil || !ok {
			t.Errorf("a row with records and none since: %v %v; want the current row", ok, err)
		}
	})
}

// The JSON of a record without actor says null, as the audit table does.
func TestRecordJSONHasNullForNoActor(t *testing.T) {
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // as sqlaudit log -o json writes: < stays <
	err := enc.Encode(trail.Record{ID: 1, Action: "INSERT", Query: "INSERT INTO t VALUES ('<a>')"})
	if b := buf.String(); err != nil || !strings.Contains(b, `"actor":null`) || !strings.Contains(b, `'<a>'`) {
		t.Errorf("no actor: %s %v", b, err)
	}
	b, _ := json.Marshal(trail.Record{Actor: "alice"})
	if !strings.Contains(string(b), `"actor":"alice"`) {
		t.Errorf("an actor: %s", b)
	}
	var back trail.Record
	if err := json.Unmarshal(b, &back); err != nil || back.Actor != "alice" {
		t.Errorf("decoding: %+v %v", back, err)
	}
}

// The audit table comes with the reading indexes, and a row's history is
// looked up by the row index.
func TestHistoryUsesTheRowIndex(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		mustExec(t, e.db, itemsDDL)
		step(t, e, "alice", `INSERT INTO items VALUES (1, 'tea', 1, 1), (2, 'coffee', 1, 1)`)
		var plan string
		switch {
		case e.schema != "":
			plan = explain(t, e, `SET enable_seqscan = off`, `EXPLAIN SELECT id FROM audit_log WHERE table_name = $1 AND row_key = $2::jsonb`, e.tbl("items"), `{"id":1}`)
		case strings.HasPrefix(e.driver, "audit-mysql"):
			plan = explain(t, e, "", `EXPLAIN SELECT id FROM audit_log WHERE table_name = ? AND row_key_first IN (?) AND JSON_VALUE(row_key, '$."id"') = ?`, "items", "1", 1)
		default:
			plan = explain(t, e, "", `EXPLAIN QUERY PLAN SELECT id FROM audit_log WHERE table_name = ? AND row_key = json_object('id', 1)`, "items")
		}
		if !strings.Contains(plan, "audit_log_row_idx") {
			t.Errorf("the history query does not use audit_log_row_idx:\n%s", plan)
		}
	})
}

// explain returns the plan of q as text, after setup on the same connection.
func explain(t *testing.T, e *env, setup, q string, args ...any) string {
	t.Helper()
	ctx := context.Background()
	conn, err := e.plain.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if setup != "" {
		if _, err := conn.ExecContext(ctx, setup); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := conn.QueryContext(ctx, q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			out = append(out, jsonOf(v))
		}
	}
	return strings.Join(out, " ")
}
