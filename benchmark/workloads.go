package benchmark

import (
	"context"
	"database/sql"
	"strings"
)

// opKind is what an operation does, which decides variant N's sequence.
type opKind int

const (
	opRead opKind = iota
	opInsert
	opUpdate
	opDelete
	opUpsert
)

// op is one operation of a workload: the statement every variant runs, the
// predicate of the rows variant N reads and locks first, and untimed work
// that undoes the operation's effect on the table.
type op struct {
	kind     opKind
	query    string
	args     []any
	lock     string // WHERE clause of N's SELECT … FOR UPDATE; "" when nothing to lock
	lockArgs []any
	undo     func(ctx context.Context, plain *sql.DB) error
}

// workload is one measured operation, built anew for every round i on a
// table of rows keys 1 … rows.
type workload struct {
	name    string // in benchmark names, e.g. Update1Row
	title   string // what it does, in words
	rounds  int    // default measured rounds
	warmup  int    // unmeasured rounds first
	minRows int    // the table must hold at least this many rows
	slow    bool   // left out of -quick unless named
	heap    bool   // sample the client's heap during each operation
	note    string // printed under the results: statement forms, caveats
	make    func(d *dialect, i, rows int) *op
}

const (
	defaultTableRows = 100_000
	quickTableRows   = 5_000
	insertBase       = 1_000_000_000 // keys of Insert1Row
	upsertBase       = 2_000_000_000 // keys of the new rows of Upsert100Rows
	upsertBatch      = 100           // rows per upsert, half existing, half new
)

var workloads = []*workload{
	{name: "Update1Row", title: "UPDATE 1 row by key", rounds: 1000, warmup: 20, make: update1},
	{name: "Delete1Row", title: "DELETE 1 row by key (re-inserted untimed)", rounds: 1000, warmup: 20, make: delete1},
	{name: "Insert1Row", title: "INSERT 1 row (deleted untimed)", rounds: 1000, warmup: 20, make: insert1},
	{name: "Update1000Rows", title: "UPDATE 1,000 rows by key range", rounds: 100, warmup: 3, make: update1000},
	{name: "Delete1000Rows", title: "DELETE 1,000 rows by key range (re-inserted untimed)", rounds: 100, warmup: 3, make: delete1000},
	{name: "Upsert100Rows", title: "batch upsert of 100 rows, 50 existing + 50 new (new ones deleted untimed)", rounds: 300, warmup: 5, make: upsert,
		note: "Upsert100Rows runs INSERT INTO items (…) VALUES (…) × 100 ON CONFLICT (id) DO UPDATE SET qty = excluded.qty, note = excluded.note — the same native form on PostgreSQL and SQLite; " +
			"MariaDB has no ON CONFLICT and runs … ON DUPLICATE KEY UPDATE qty = VALUES(qty), note = VALUES(note); N adds RETURNING."},
	{name: "Update100kRows", title: "UPDATE 100,000 rows (time and client peak heap growth)", rounds: 5, warmup: 1, minRows: 100_000, slow: true, heap: true, make: update100k},
	{name: "SelectByKey", title: "SELECT 1 row by key (reads must not pay)", rounds: 2000, warmup: 50, make: selectByKey},
}

// WorkloadNames lists the workloads, in run order.
func WorkloadNames() []string {
	out := make([]string, len(workloads))
	for i, w := range workloads {
		out[i] = w.name
	}
	return out
}

func findWorkload(name string) *workload {
	for _, w := range workloads {
		if strings.EqualFold(name, w.name) {
			return w
		}
	}
	return nil
}

func update1(d *dialect, i, rows int) *op {
	k := 1 + i%rows
	return &op{kind: opUpdate, query: `UPDATE items SET qty = qty + 1 WHERE id = ` + d.ph(1), args: []any{k},
		lock: `id = ` + d.ph(1), lockArgs: []any{k}}
}

func delete1(d *dialect, i, rows int) *op {
	k := 1 + i%rows
	return &op{kind: opDelete, query: `DELETE FROM items WHERE id = ` + d.ph(1), args: []any{k},
		lock: `id = ` + d.ph(1), lockArgs: []any{k}, undo: refill(d, k, k)}
}

func insert1(d *dialect, i, _ int) *op {
	k := insertBase + i
	q := `INSERT INTO items (` + itemList + `) VALUES (` + phList(d, 1, 5) + `)`
	return &op{kind: opInsert, query: q, args: []any{k, 7, 1, 9.99, "new item"}, undo: remove(d, k, k)}
}

func update1000(d *dialect, i, rows int) *op {
	lo, hi := keyRange(i, rows, 1000)
	return updateRange(d, lo, hi)
}

func update100k(d *dialect, _, _ int) *op { return updateRange(d, 1, 100_000) }

func updateRange(d *dialect, lo, hi int) *op {
	where := `id BETWEEN ` + d.ph(1) + ` AND ` + d.ph(2)
	return &op{kind: opUpdate, query: `UPDATE items SET qty = qty + 1 WHERE ` + where, args: []any{lo, hi},
		lock: where, lockArgs: []any{lo, hi}}
}

func delete1000(d *dialect, i, rows int) *op {
	lo, hi := keyRange(i, rows, 1000)
	where := `id BETWEEN ` + d.ph(1) + ` AND ` + d.ph(2)
	return &op{kind: opDelete, query: `DELETE FROM items WHERE ` + where, args: []any{lo, hi},
		lock: where, lockArgs: []any{lo, hi}, undo: refill(d, lo, hi)}
}

// upsert updates upsertBatch/2 existing rows (a different qty every round)
// and inserts as many new ones.
func upsert(d *dialect, i, rows int) *op {
	half := upsertBatch / 2
	lo, hi := keyRange(i, rows, half)
	nlo, nhi := upsertBase+i*half, upsertBase+i*half+half-1
	values := make([]string, 0, upsertBatch)
	args := make([]any, 0, 5*upsertBatch)
	for _, r := range [][2]int{{lo, hi}, {nlo, nhi}} {
		for k := r[0]; k <= r[1]; k++ {
			values = append(values, `(`+phList(d, len(args)+1, 5)+`)`)
			args = append(args, k, k%100, 1_000_000+i, 1.5, "upserted")
		}
	}
	conflict := ` ON CONFLICT (id) DO UPDATE SET qty = excluded.qty, note = excluded.note`
	if d.my {
		conflict = ` ON DUPLICATE KEY UPDATE qty = VALUES(qty), note = VALUES(note)`
	}
	q := `INSERT INTO items (` + itemList + `) VALUES ` + strings.Join(values, ", ") + conflict
	lock := `id BETWEEN ` + d.ph(1) + ` AND ` + d.ph(2) + ` OR id BETWEEN ` + d.ph(3) + ` AND ` + d.ph(4)
	return &op{kind: opUpsert, query: q, args: args, lock: lock, lockArgs: []any{lo, hi, nlo, nhi}, undo: remove(d, nlo, nhi)}
}

func selectByKey(d *dialect, i, rows int) *op {
	k := 1 + (i*7919)%rows
	return &op{kind: opRead, query: `SELECT ` + itemList + ` FROM items WHERE id = ` + d.ph(1), args: []any{k}}
}

// keyRange is the i-th of the consecutive ranges of n keys in 1 … rows.
func keyRange(i, rows, n int) (lo, hi int) {
	lo = 1 + (i%max(rows/n, 1))*n
	return lo, lo + n - 1
}

// phList is the placeholders of arguments from … from+n-1.
func phList(d *dialect, from, n int) string {
	ps := make([]string, n)
	for j := range ps {
		ps[j] = d.ph(from + j)
	}
	return strings.Join(ps, ", ")
}

// refill re-inserts keys lo … hi as the table was filled.
func refill(d *dialect, lo, hi int) func(context.Context, *sql.DB) error {
	return func(ctx context.Context, db *sql.DB) error {
		_, err := db.ExecContext(ctx, d.fill, lo, hi)
		return err
	}
}

// remove deletes keys lo … hi.
func remove(d *dialect, lo, hi int) func(context.Context, *sql.DB) error {
	return func(ctx context.Context, db *sql.DB) error {
		_, err := db.ExecContext(ctx, `DELETE FROM items WHERE id BETWEEN `+d.ph(1)+` AND `+d.ph(2), lo, hi)
		return err
	}
}
