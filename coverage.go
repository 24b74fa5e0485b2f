package sqlaudit

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"time"

	"github.com/sqlaudit/sqlaudit/internal/engine"
)

// Coverage: what is audited and what is not. The report judges every
// table of the database as the wrapper would judge a write to it, with the
// options of the handle it is given (open it with the application's
// audit_include / audit_exclude), from the catalog as it is now; it counts
// the records of a time range, and those without an actor; and it carries
// the handle's in-process counters (Stats), which only the process that
// ran the writes has.

// TableStatus is what becomes of a write to a table.
type TableStatus string

const (
	// Audited: writes run with their records.
	Audited TableStatus = "audited"
	// AuditedByRowid: audited, but the table has no primary key and its
	// records are keyed by SQLite's implicit rowid, which VACUUM may
	// renumber (VACUUM is refused while such a table is audited).
	AuditedByRowid TableStatus = "audited-rowid"
	// Excluded: the options exclude it (or leave it out of Include);
	// writes run unrecorded.
	Excluded TableStatus = "excluded"
	// NoKey: audited but without a primary key (PostgreSQL, MariaDB):
	// writes are refused with ErrNoKey, or run unaudited under Warn.
	NoKey TableStatus = "no-key"
	// Refused: writes to it cannot be audited (a table with rules or
	// row-level security, a view-like redirect, a session setting) and are
	// refused with ErrUnsupported, or run unaudited under Warn; Reason
	// says why.
	Refused TableStatus = "refused"
)

// CoverageOptions select what Coverage reports.
type CoverageOptions struct {
	// Schemas limits the report to these PostgreSQL schemas, MariaDB
	// databases or SQLite schemas ("main", attached ones). Default:
	// PostgreSQL, every schema the role may use but the system's; MariaDB,
	// the DSN's database; SQLite, main and the attached schemas.
	Schemas []string
	// Since and Until bound the records counted (occurred_at >= Since,
	// < Until); zero leaves that side open.
	Since, Until time.Time
}

// CoverageReport is what Coverage found.
type CoverageReport struct {
	Dialect string          // "postgres", "sqlite" or "mysql"
	Tables  []TableCoverage // every table of the schemas, in catalog order
	// Records and Unattributed count the records of the range by table as
	// recorded (also tables no longer in the catalog, or outside
	// Schemas): all of them, and those without an actor (NULL or empty).
	Records, Unattributed map[string]int64
	// Stats are the in-process counters of the handle since it was opened
	// (StatsOf): empty in a process that only reads the trail.
	Stats Stats
}

// TableCoverage is one table of a CoverageReport.
type TableCoverage struct {
	Table  string      // as recorded in table_name
	Status TableStatus // what becomes of a write to it
	Key    []string    // its key columns ("rowid" for AuditedByRowid)
	Reason string      // why it is Refused or NoKey
	// Records and Unattributed are the report's counts for this table.
	Records, Unattributed int64
	// Stats are the handle's in-process counters for this table.
	Stats TableStats
}

// Coverage reports, for the database of db (a handle opened through an
// audit driver), which tables are audited, excluded, without a key or
// refused, how many records of the range were written without an actor,
// and the handle's counters of audited, refused and warned writes.
func Coverage(ctx context.Context, db *sql.DB, opts CoverageOptions) (*CoverageReport, error) {
	var rep *CoverageReport
	err := withRawConn(ctx, db, func(c *conn) error {
		var err error
		rep, err = c.coverage(ctx, opts)
		return err
	})
	return rep, err
}

func (c *conn) coverage(ctx context.Context, opts CoverageOptions) (*CoverageReport, error) {
	inv, ok := c.c.sh.Dialect.(engine.Inventory)
	if !ok {
		return nil, fmt.Errorf("sqlaudit: coverage is not available for %s", c.c.sh.Dialect.Name())
	}
	rep := &CoverageReport{Dialect: c.c.sh.Dialect.Name(), Stats: c.c.stats.snapshot()}
	refs, err := inv.Tables(ctx, c.s, opts.Schemas)
	if err != nil {
		return nil, fmt.Errorf("sqlaudit: listing the tables: %w", err)
	}
	for _, ref := range refs {
		t, err := c.s.Describe(ctx, ref)
		if err != nil {
			return nil, fmt.Errorf("sqlaudit: reading table %s from the catalog: %w", ref.Spelled(), err)
		}
		if t == nil || t.IsAudit { // dropped since it was listed, or the trail itself
			continue
		}
		rep.Tables = append(rep.Tables, judge(t))
	}
	if rep.Records, rep.Unattributed, err = c.countRecords(ctx, inv, opts); err != nil {
		return nil, err
	}
	for i := range rep.Tables {
		t := &rep.Tables[i]
		t.Records, t.Unattributed, t.Stats = rep.Records[t.Table], rep.Unattributed[t.Table], rep.Stats.Tables[t.Table]
	}
	return rep, nil
}

// judge says what becomes of a write to t, in the order decide asks.
func judge(t *engine.TableInfo) TableCoverage {
	tc := TableCoverage{Table: t.Display, Key: t.Key}
	switch {
	case t.Redirects != "":
		tc.Status, tc.Reason = Refused, t.Redirects
	case !t.Audited:
		tc.Status = Excluded
	case t.Unsupported != "":
		tc.Status, tc.Reason = Refused, t.Unsupported
	case len(t.Key) == 0:
		tc.Status, tc.Reason = NoKey, "no primary key: writes are refused (ErrNoKey); add a key or exclude the table"
	case implicitKey(t):
		tc.Status = AuditedByRowid
	default:
		tc.Status = Audited
	}
	return tc
}

// implicitKey reports a key that is no column of the table: SQLite's rowid.
func implicitKey(t *engine.TableInfo) bool {
	for _, col := range t.Columns {
		if len(t.Key) == 1 && strings.EqualFold(col, t.Key[0]) {
			return false
		}
	}
	return len(t.Key) == 1
}

// countRecords counts the records of the range by table: all, and those
// without an actor.
func (c *conn) countRecords(ctx context.Context, inv engine.Inventory, opts CoverageOptions) (all, unattributed map[string]int64, err error) {
	s := c.c.sh.Dialect.Sealing(c.c.sh.AuditRef, c.c.sh.SealRef)
	var conds []string
	var args []driver.Value
	for _, b := range []struct {
		op string
		at time.Time
	}{{">=", opts.Since}, {"<", opts.Until}} {
		if !b.at.IsZero() {
			args = append(args, s.TimeArg(b.at))
			conds = append(conds, inv.RecordedAt(b.op, len(args)))
		}
	}
	q := `SELECT a.table_name, count(*), sum(CASE WHEN a.actor IS NULL OR a.actor = '' THEN 1 ELSE 0 END) FROM ` + c.c.sh.Audit + ` a`
	if len(conds) > 0 {
		q += ` WHERE ` + strings.Join(conds, ` AND `)
	}
	rows, err := c.s.QueryAll(ctx, q+` GROUP BY a.table_name`, engine.Named(args...)...)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlaudit: counting the records of the audit table %s: %w", c.c.sh.AuditName, err)
	}
	all, unattributed = map[string]int64{}, map[string]int64{}
	for _, r := range rows {
		all[engine.AsString(r[0])] = engine.AsInt(r[1])
		if n := engine.AsInt(r[2]); n > 0 {
			unattributed[engine.AsString(r[0])] = n
		}
	}
	return all, unattributed, nil
}
