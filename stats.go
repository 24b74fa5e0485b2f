package sqlaudit

import (
	"context"
	"database/sql"
	"errors"
	"expvar"
	"sync"
	"sync/atomic"

	"github.com/sqlaudit/sqlaudit/internal/engine"
)

// Counters. Every audited database handle counts what became of the writes
// its connections saw, and so does the process as a whole (the sum over
// its handles): StatsOf reads a handle's, ProcessStats the process's, which
// are also published with expvar as "sqlaudit" (served at /debug/vars by
// expvar's handler) and, through RegisterMetrics, as OpenTelemetry
// observable counters. The counters live in the process that runs the
// statements: another process (the sqlaudit command) sees them only where
// that process exposes them.

// Stats are the counters of writes, from the time a handle was opened (or
// the process started).
type Stats struct {
	// Audited counts writes that ran with their records.
	Audited int64 `json:"audited"`
	// WithoutActor counts the audited writes whose context had no actor:
	// their records' actor is NULL.
	WithoutActor int64 `json:"without_actor"`
	// Refused counts writes refused before anything ran: ErrUnsupported
	// (with ErrNoKey), ErrAuditTableWrite and ErrNoActor.
	Refused int64 `json:"refused"`
	// Warned counts writes that ran unaudited under the Warn policy.
	Warned int64 `json:"warned"`
	// Tables are the same counts by table, named as recorded; "" collects
	// the statements refused or warned without a table (the wrapper could
	// not tell which tables they write: a DO block, a CALL).
	Tables map[string]TableStats `json:"tables"`
}

// TableStats are the counters of one table (see Stats).
type TableStats struct {
	Audited      int64 `json:"audited"`
	WithoutActor int64 `json:"without_actor"`
	Refused      int64 `json:"refused"`
	Warned       int64 `json:"warned"`
	// LastReason is why its last refused or warned write was, and
	// LastQuery that write's statement (truncated).
	LastReason string `json:"last_reason,omitempty"`
	LastQuery  string `json:"last_query,omitempty"`
}

// counters are the mutable Stats of a handle or of the process. Every
// audited write counts here, so counting takes no lock: the totals and each
// table's counts are atomics, the tables a sync.Map that is only written
// the first time a table is counted. A snapshot taken while writes run may
// see a write in its table's counts but not yet in the totals.
type counters struct {
	audited, withoutActor, refused, warned atomic.Int64
	tables                                 sync.Map // name → *tableCounters
}

// tableCounters are one table's counters; the last reason and statement
// are kept under mu (refused and warned writes only).
type tableCounters struct {
	audited, withoutActor, refused, warned atomic.Int64
	mu                                     sync.Mutex
	lastReason, lastQuery                  string
}

// processCounters sum every handle's counters.
var processCounters counters

func init() {
	expvar.Publish("sqlaudit", expvar.Func(func() any { return ProcessStats() }))
}

// outcome is what became of one write.
type outcome uint8

const (
	audited outcome = iota
	refused
	warned
)

// add counts one write with outcome o: once in the totals, once for each
// table it wrote (as recorded).
func (cs *counters) add(o outcome, tables []string, noActor bool, reason, query string) {
	bump(&cs.audited, &cs.withoutActor, &cs.refused, &cs.warned, o, noActor)
	for _, table := range tables {
		t := cs.table(table)
		bump(&t.audited, &t.withoutActor, &t.refused, &t.warned, o, noActor)
		if o != audited {
			t.mu.Lock()
			t.lastReason, t.lastQuery = reason, query
			t.mu.Unlock()
		}
	}
}

// table is the counters of one table, made on its first count.
func (cs *counters) table(name string) *tableCounters {
	if t, ok := cs.tables.Load(name); ok {
		return t.(*tableCounters)
	}
	t, _ := cs.tables.LoadOrStore(name, &tableCounters{})
	return t.(*tableCounters)
}

// bump adds one to the counter of outcome o.
func bump(aud, noAct, ref, warn *atomic.Int64, o outcome, noActor bool) {
	switch o {
	case audited:
		aud.Add(1)
		if noActor {
			noAct.Add(1)
		}
	case refused:
		ref.Add(1)
	case warned:
		warn.Add(1)
	}
}

// snapshot is a copy of the counters.
func (cs *counters) snapshot() Stats {
	s := Stats{Audited: cs.audited.Load(), WithoutActor: cs.withoutActor.Load(), Refused: cs.refused.Load(),
		Warned: cs.warned.Load(), Tables: map[string]TableStats{}}
	cs.tables.Range(func(k, v any) bool {
		t := v.(*tableCounters)
		t.mu.Lock()
		reason, query := t.lastReason, t.lastQuery
		t.mu.Unlock()
		s.Tables[k.(string)] = TableStats{Audited: t.audited.Load(), WithoutActor: t.withoutActor.Load(),
			Refused: t.refused.Load(), Warned: t.warned.Load(), LastReason: reason, LastQuery: query}
		return true
	})
	return s
}

// count counts one write on the handle and in the process; tables are
// the ones it wrote ("" when unknown).
func (c *connector) count(o outcome, tables []string, noActor bool, reason, query string) {
	if len(tables) == 0 {
		tables = []string{""}
	}
	c.stats.add(o, tables, noActor, reason, query)
	processCounters.add(o, tables, noActor, reason, query)
}

// StatsOf returns the counters of db, a handle opened through an audit
// driver, since it was opened.
func StatsOf(ctx context.Context, db *sql.DB) (Stats, error) {
	var s Stats
	err := withRawConn(ctx, db, func(c *conn) error {
		s = c.c.stats.snapshot()
		return nil
	})
	return s, err
}

// ProcessStats returns the counters of every audited handle of this
// process, summed, since it started (handles already closed included).
func ProcessStats() Stats { return processCounters.snapshot() }

// public turns an error leaving through a driver method into the exported
// one, counting it when it is a refusal.
func (c *conn) public(err error) error {
	var e *engine.Error
	if errors.As(err, &e) {
		switch e.Code {
		case engine.Unsupported, engine.NoKey, engine.AuditTableWrite, engine.NoActor:
			c.c.count(refused, []string{e.Table}, false, e.Reason, e.Query)
		}
	}
	return public(err)
}
