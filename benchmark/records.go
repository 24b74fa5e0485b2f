package benchmark

import (
	"context"
	"database/sql"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
)

// image is one row of items as the client reads it: the values of
// itemColumns, in order, []byte turned into string.
type image []any

// record is one audit record of variant N, its JSON computed in Go; a nil
// slice is NULL.
type record struct {
	action        string
	key, old, new []byte
}

// numericColumns are written as JSON numbers although the driver returns
// them as text (PostgreSQL numeric), as to_jsonb would.
var numericColumns = map[string]bool{"price": true}

// scanImages reads every row of rows.
func scanImages(rows *sql.Rows) ([]image, error) {
	defer rows.Close()
	var out []image
	for rows.Next() {
		im := make(image, len(itemColumns))
		ptrs := make([]any, len(im))
		for i := range im {
			ptrs[i] = &im[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, v := range im {
			if b, ok := v.([]byte); ok {
				im[i] = string(b)
			}
		}
		out = append(out, im)
	}
	return out, rows.Err()
}

// object renders the columns of im selected by keep (all when nil) as a
// JSON object.
func (im image) object(keep func(i int) bool) []byte {
	b := []byte{'{'}
	for i, c := range itemColumns {
		if keep != nil && !keep(i) {
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, c)
		b = append(b, ':')
		b = appendValue(b, c, im[i])
	}
	return append(b, '}')
}

func appendValue(b []byte, col string, v any) []byte {
	if s, ok := v.(string); ok && numericColumns[col] && json.Valid([]byte(s)) {
		return append(b, s...)
	}
	j, err := json.Marshal(v)
	if err != nil {
		j, _ = json.Marshal(err.Error())
	}
	return append(b, j...)
}

func (im image) key() []byte { return im.object(func(i int) bool { return i == 0 }) }

// changeRecords is the records of a write that returned the rows in after,
// whose old versions (locked beforehand) are in before: UPDATE with the
// changed columns for a row that existed, INSERT for one that did not.
func changeRecords(before, after []image) []record {
	old := make(map[any]image, len(before))
	for _, im := range before {
		old[im[0]] = im
	}
	out := make([]record, 0, len(after))
	for _, n := range after {
		o, ok := old[n[0]]
		if !ok {
			out = append(out, record{action: "INSERT", key: n.key(), new: n.object(nil)})
			continue
		}
		changed := func(i int) bool { return o[i] != n[i] }
		if d := o.object(changed); len(d) > 2 {
			out = append(out, record{action: "UPDATE", key: o.key(), old: d, new: n.object(changed)})
		}
	}
	return out
}

// deleteRecords is the records of a DELETE of the rows in before.
func deleteRecords(before []image) []record {
	out := make([]record, len(before))
	for i, o := range before {
		out[i] = record{action: "DELETE", key: o.key(), old: o.object(nil)}
	}
	return out
}

// recordBatch is how many records one INSERT of variant N writes.
const recordBatch = 500

// recordColumns are the audit_log columns variant N fills.
const recordColumns = "tx_id, actor, action, table_name, row_key, old_values, new_values, query"

// writeRecords inserts recs into audit_log in batches, in tx; query is the
// statement the records describe.
func writeRecords(ctx context.Context, tx *sql.Tx, d *dialect, actor, query string, recs []record) error {
	fixed := []any{actor, query}
	if d.my {
		if len(recs) == 0 {
			return nil
		}
		// The transaction's id, the actor and the statement, once: ?
		// placeholders cannot be used twice.
		fixed = nil
		_, err := tx.ExecContext(ctx, `SET @sqa_tx = NEXT VALUE FOR audit_log_seq, @sqa_actor = ?, @sqa_query = ?`, actor, query)
		if err != nil {
			return err
		}
	} else if !d.pg {
		var txID int64 // SQLite: the id the transaction's first record gets
		err := tx.QueryRowContext(ctx, `SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'), 0) + 1`).Scan(&txID)
		if err != nil {
			return err
		}
		fixed = append(fixed, txID)
	}
	for len(recs) > 0 {
		n := min(len(recs), recordBatch)
		args := append(make([]any, 0, len(fixed)+4*n), fixed...)
		for _, r := range recs[:n] {
			args = append(args, r.action, jsonArg(r.key), jsonArg(r.old), jsonArg(r.new))
		}
		if _, err := tx.ExecContext(ctx, cachedRecordInsert(d, n), args...); err != nil {
			return err
		}
		recs = recs[n:]
	}
	return nil
}

func jsonArg(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

var recordInserts sync.Map // recordInsertKey → string

type recordInsertKey struct {
	d *dialect
	n int
}

// cachedRecordInsert is recordInsert, built once per dialect and size.
func cachedRecordInsert(d *dialect, n int) string {
	k := recordInsertKey{d, n}
	if q, ok := recordInserts.Load(k); ok {
		return q.(string)
	}
	q := recordInsert(d, n)
	recordInserts.Store(k, q)
	return q
}

// recordInsert is the INSERT of n records: the actor, query (and on SQLite
// the tx_id) are the first arguments, then four per record. On MariaDB the
// four per record are all: the rest is in user variables, and the id is
// drawn from the sequence by name.
func recordInsert(d *dialect, n int) string {
	if d.my {
		row := "(NEXT VALUE FOR audit_log_seq, @sqa_tx, @sqa_actor, ?, 'items', ?, ?, ?, @sqa_query)"
		return "INSERT INTO audit_log (id, " + recordColumns + ") VALUES " + strings.Repeat(row+", ", n-1) + row
	}
	txID, cast, fixed := "pg_current_xact_id()::text::bigint", "::text::jsonb", 2
	if !d.pg {
		txID, cast, fixed = d.numbered(3), "", 3
	}
	var b strings.Builder
	b.WriteString("INSERT INTO audit_log (" + recordColumns + ") VALUES ")
	for i := range n {
		p := func(j int) string { return d.numbered(fixed + 4*i + j) }
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(" + txID + ", " + d.numbered(1) + ", " + p(1) + ", 'items', " +
			p(2) + cast + ", " + p(3) + cast + ", " + p(4) + cast + ", " + d.numbered(2) + ")")
	}
	return b.String()
}
