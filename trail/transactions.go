package trail

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultTxLimit is the page size of Transactions when Filter.Limit is 0.
const DefaultTxLimit = 50

// TxSummary describes one transaction on a page of Transactions.
type TxSummary struct {
	TxID int64 `json:"tx_id"`
	// Position is the id of the transaction's newest record that the
	// filter selects: pages are ordered by it and it is their cursor.
	Position int64          `json:"position"`
	FirstID  int64          `json:"first_id"`         // its first record
	LastID   int64          `json:"last_id"`          // its last record
	First    time.Time      `json:"first_at"`         // when its first record was written
	Last     time.Time      `json:"last_at"`          // when its last record was written
	Records  int            `json:"records"`          // all its records, selected or not
	Actions  map[string]int `json:"actions"`          // its records per action
	Actors   []string       `json:"actors"`           // its actors, sorted; "" for records without one
	Tables   []string       `json:"tables"`           // the tables it changed, sorted
	Metadata map[string]any `json:"metadata"`         // its first record's metadata
	Source   string         `json:"source,omitempty"` // the service it came from, in a central store (WithSources)
}

// TxPage is one page of transactions, newest first.
type TxPage struct {
	Transactions []TxSummary `json:"transactions"`
	// Older and Newer are the cursors of the adjacent pages, 0 when there
	// is none: pass Older as Filter.BeforeID, Newer as Filter.AfterID.
	Older int64 `json:"older,omitempty"`
	Newer int64 `json:"newer,omitempty"`
}

// ErrBothCursors is returned by Transactions for a Filter with both
// BeforeID and AfterID.
var ErrBothCursors = errors.New("trail: a page of transactions takes BeforeID or AfterID, not both")

// Transactions returns a page of the transactions that have a record f
// selects, newest first: ordered by Position, the id of each one's newest
// selected record. The page holds f.Limit transactions (DefaultTxLimit
// when 0); f.BeforeID asks for those just older than a cursor, f.AfterID
// for those just newer; neither, for the newest. f.NewestFirst is ignored.
//
// Paging is by keyset on the records' primary key, never by offset: a page
// costs the records scanned to find its transactions (the filter's
// selectivity) plus one grouped read of those transactions by tx_id, which
// an index on tx_id serves.
func Transactions(ctx context.Context, db *sql.DB, f Filter, opts ...Option) (TxPage, error) {
	c, err := configure(db, opts)
	if err != nil {
		return TxPage{}, err
	}
	if f.BeforeID != 0 && f.AfterID != 0 {
		return TxPage{}, ErrBothCursors
	}
	if f.Limit <= 0 {
		f.Limit = DefaultTxLimit
	}
	tx, err := db.BeginTx(ctx, c.d.readTx())
	if err != nil {
		return TxPage{}, err
	}
	defer tx.Rollback()
	if err := c.prepare(ctx, tx, &f); err != nil {
		return TxPage{}, err
	}
	s := &txScan{c: c, q: tx, f: f, sums: map[int64]*TxSummary{}}
	var page TxPage
	if f.AfterID != 0 {
		page, err = s.newer(ctx)
	} else {
		page, err = s.older(ctx, f.BeforeID, f.Limit)
		if err == nil && f.BeforeID != 0 {
			err = s.setNewer(ctx, &page, f.BeforeID)
		}
	}
	if err != nil {
		return TxPage{}, c.wrap(err)
	}
	return page, tx.Commit()
}

// txScan finds the transactions of one page.
type txScan struct {
	c    *config
	q    querier
	f    Filter
	sums map[int64]*TxSummary // summaries read so far, by tx_id
}

// scanChunk, when set (by tests), overrides the size of the scan chunks.
var scanChunk int

// chunk is how many record ids one scan query reads.
func (s *txScan) chunk() int {
	if scanChunk > 0 {
		return scanChunk
	}
	return min(max(10*(s.f.Limit+1), 100), 5000) // room for transactions of ten records
}

// older returns up to n transactions with a Position below before (0: the
// newest), and Older when there are more. Scanning the selected records
// downwards meets each transaction first at its newest selected record
// below the cursor, which is its Position unless it has a selected record
// at or above the cursor: then an earlier page showed it. The candidates
// are gathered first and summarized in one query (usually one per page).
func (s *txScan) older(ctx context.Context, before int64, n int) (TxPage, error) {
	g := &gatherer{s: s, from: before, down: true, seen: map[int64]bool{}, pos: map[int64]int64{}}
	var found []TxSummary
	for len(found) <= n && !(g.done && len(g.pending) == 0) {
		if err := g.gather(ctx, n+1-len(found)); err != nil {
			return TxPage{}, err
		}
		if err := s.summarize(ctx, g.pending); err != nil {
			return TxPage{}, err
		}
		for _, t := range g.pending {
			sum := s.sums[t]
			if sum == nil || before != 0 && sum.Position >= before {
				continue // shown on an earlier page
			}
			sum.Position = g.pos[t]
			if found = append(found, *sum); len(found) > n {
				break
			}
		}
		g.pending = nil
	}
	page := TxPage{Transactions: found}
	if len(found) > n {
		page.Transactions = found[:n]
		page.Older = found[n-1].Position
	}
	return page, nil
}

// gatherer scans selected records in chunks, collecting the transactions
// it meets for the first time.
type gatherer struct {
	s       *txScan
	from    int64 // the scan continues below (down) or above this id
	down    bool
	done    bool // the scan reached the end
	seen    map[int64]bool
	pos     map[int64]int64 // where each transaction was met first
	pending []int64         // met, not summarized yet, in order
}

// gather scans until want more transactions are pending, or the end.
func (g *gatherer) gather(ctx context.Context, want int) error {
	for !g.done && len(g.pending) < want {
		ids, txs, err := g.s.scan(ctx, g.from, g.down)
		if err != nil {
			return err
		}
		for i, t := range txs {
			if !g.seen[t] {
				g.seen[t] = true
				g.pending = append(g.pending, t)
				g.pos[t] = ids[i]
			}
		}
		if len(ids) < g.s.chunk() {
			g.done = true
		} else {
			g.from = ids[len(ids)-1]
		}
	}
	return nil
}

// newer returns the f.Limit transactions with the smallest Positions above
// f.AfterID. Scanning upwards meets a transaction at its oldest selected
// record above the cursor; its Position, read by summarize, may lie
// further up, so the scan goes on until the page's Positions are all
// below the records scanned.
func (s *txScan) newer(ctx context.Context) (TxPage, error) {
	n := s.f.Limit
	g := &gatherer{s: s, from: s.f.AfterID, seen: map[int64]bool{}, pos: map[int64]int64{}}
	var found []TxSummary
	for want := n + 1; ; want = len(g.pending) + 1 { // after the first round: at least one more chunk
		if err := g.gather(ctx, want); err != nil {
			return TxPage{}, err
		}
		if err := s.summarize(ctx, g.pending); err != nil {
			return TxPage{}, err
		}
		for _, t := range g.pending {
			if sum := s.sums[t]; sum != nil {
				found = append(found, *sum)
			}
		}
		g.pending = nil
		slices.SortFunc(found, func(a, b TxSummary) int { return cmp.Compare(a.Position, b.Position) })
		if g.done {
			break
		}
		below := 0 // Positions no unseen transaction can undercut
		for _, t := range found {
			if t.Position <= g.from {
				below++
			}
		}
		if below > n {
			break
		}
	}
	page := TxPage{Transactions: found}
	if len(found) > n {
		page.Transactions = found[:n]
		page.Newer = found[n-1].Position
	}
	slices.Reverse(page.Transactions)
	if len(page.Transactions) > 0 {
		low := page.Transactions[len(page.Transactions)-1].Position
		older, err := s.older(ctx, low, 1)
		if err != nil {
			return TxPage{}, err
		}
		if len(older.Transactions) > 0 {
			page.Older = low
		}
	}
	return page, nil
}

// setNewer sets page.Newer when a selected record lies above the page:
// its transaction's Position is above the page's.
func (s *txScan) setNewer(ctx context.Context, page *TxPage, before int64) error {
	top := before - 1
	if len(page.Transactions) > 0 {
		top = page.Transactions[0].Position
	}
	a := &argList{d: s.c.d}
	conds := append(s.c.conds(s.f, a), "id > "+a.add(top))
	rows, err := s.q.QueryContext(ctx, "SELECT id FROM "+s.c.d.table(s.c.table)+where(conds)+" ORDER BY id LIMIT 1", a.vals...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if rows.Next() {
		page.Newer = top
	}
	return rows.Err()
}

// scan reads the next chunk of selected record ids and their tx_ids below
// (down) or above from; from 0 going down starts at the newest record.
func (s *txScan) scan(ctx context.Context, from int64, down bool) (ids, txs []int64, err error) {
	a := &argList{d: s.c.d}
	conds := s.c.conds(s.f, a)
	switch {
	case down && from != 0:
		conds = append(conds, "id < "+a.add(from))
	case !down:
		conds = append(conds, "id > "+a.add(from))
	}
	q := "SELECT id, tx_id FROM " + s.c.d.table(s.c.table) + where(conds) + orderBy(down) + " LIMIT " + strconv.Itoa(s.chunk())
	rows, err := s.q.QueryContext(ctx, q, a.vals...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id, tx int64
		if err := rows.Scan(&id, &tx); err != nil {
			return nil, nil, err
		}
		ids, txs = append(ids, id), append(txs, tx)
	}
	return ids, txs, rows.Err()
}

// summarize reads the summaries of those of txs not read yet, their
// Position the id of their newest selected record.
func (s *txScan) summarize(ctx context.Context, all []int64) error {
	var txs []int64
	for _, t := range all {
		if s.sums[t] == nil {
			txs = append(txs, t)
		}
	}
	if len(txs) == 0 {
		return nil
	}
	a := &argList{d: s.c.d}
	match := "id"
	if conds := s.c.conds(s.f, a); len(conds) > 0 {
		match = "CASE WHEN " + strings.Join(conds, " AND ") + " THEN id END"
	}
	phs := make([]string, len(txs))
	for i, t := range txs {
		phs[i] = a.add(t)
	}
	cond := "tx_id IN (" + strings.Join(phs, ", ") + ")"
	if s.c.d.seqScale() { // the records of a transaction start at its tx_id: a key range
		cond += " AND id >= " + a.add(slices.Min(txs))
	}
	q := "SELECT tx_id, table_name, action, actor, count(*), min(id), max(id), max(" + match + ") FROM " +
		s.c.d.table(s.c.table) + " WHERE " + cond + " GROUP BY tx_id, table_name, action, actor"
	rows, err := s.q.QueryContext(ctx, q, a.vals...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var tx, n, lo, hi int64
		var table, action string
		var actor sql.NullString
		var pos sql.NullInt64
		if err := rows.Scan(&tx, &table, &action, &actor, &n, &lo, &hi, &pos); err != nil {
			return err
		}
		sum := s.sums[tx]
		if sum == nil {
			sum = &TxSummary{TxID: tx, FirstID: lo, LastID: hi, Actions: map[string]int{}}
			s.sums[tx] = sum
		}
		sum.Records += int(n)
		sum.Actions[action] += int(n)
		sum.FirstID, sum.LastID, sum.Position = min(sum.FirstID, lo), max(sum.LastID, hi), max(sum.Position, pos.Int64)
		sum.Tables = insertSorted(sum.Tables, table)
		sum.Actors = insertSorted(sum.Actors, actor.String)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()
	return s.ends(ctx, txs)
}

// ends reads the first and last record of each of txs: times, metadata.
func (s *txScan) ends(ctx context.Context, txs []int64) error {
	a := &argList{d: s.c.d}
	var phs []string
	for _, t := range txs {
		sum := s.sums[t]
		if sum == nil {
			continue
		}
		phs = append(phs, a.add(sum.FirstID), a.add(sum.LastID))
	}
	if len(phs) == 0 {
		return nil
	}
	q := "SELECT " + s.c.columns() + " FROM " + s.c.d.table(s.c.table) + " WHERE id IN (" + strings.Join(phs, ", ") + ")"
	rows, err := s.q.QueryContext(ctx, q, a.vals...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		r, err := s.c.scan(rows)
		if err != nil {
			return err
		}
		sum := s.sums[r.TxID]
		if sum == nil {
			continue
		}
		if r.ID == sum.FirstID {
			sum.First, sum.Metadata, sum.Source = r.OccurredAt, r.Metadata, r.Source
		}
		if r.ID == sum.LastID {
			sum.Last = r.OccurredAt
		}
	}
	return rows.Err()
}

// insertSorted adds s to a sorted list unless it is there.
func insertSorted(list []string, s string) []string {
	i, ok := slices.BinarySearch(list, s)
	if ok {
		return list
	}
	return slices.Insert(list, i, s)
}
