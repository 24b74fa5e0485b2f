package sqlaudit_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"expvar"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/sqlaudit/sqlaudit"
)

// coverageDB is a database with one table of each kind the report tells
// apart: items (audited), sessions (excluded), loose (no primary key:
// refused on PostgreSQL and MariaDB, keyed by rowid on SQLite) and, on
// PostgreSQL, ruled (a table with a rule: refused).
type coverageDB struct {
	db, warn *sql.DB // audited with sessions excluded; the same under audit_unsupported=warn
	td       *testDB
	name     func(string) string // a table as recorded
	refusal  string              // a write the wrapper refuses (warns of, under warn)
}

func openCoverage(t *testing.T, drv string) *coverageDB {
	t.Helper()
	db, td := mustOpen(t, drv, "audit_exclude=sessions")
	cv := &coverageDB{db: db, td: td, name: func(s string) string { return s }, refusal: `INSERT INTO loose VALUES (1, 'x')`}
	mustExec(t, db, `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)`, `CREATE TABLE sessions (id INTEGER PRIMARY KEY, v TEXT)`,
		`CREATE TABLE loose (a INTEGER, b TEXT)`)
	switch {
	case isSQLite(drv):
		mustExec(t, td.plain, `INSERT INTO loose VALUES (1, 'x')`)
		cv.refusal = `UPDATE loose SET rowid = 9 WHERE a = 1`
	case !isMySQL(drv):
		cv.name = func(s string) string { return td.schema() + "." + s }
		mustExec(t, db, `CREATE TABLE ruled (id INTEGER PRIMARY KEY)`, `CREATE RULE keep AS ON DELETE TO ruled DO INSTEAD NOTHING`)
	}
	var err error
	if cv.warn, err = sql.Open(drv, td.dsn+"&audit_exclude=sessions&audit_unsupported=warn"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cv.warn.Close() })
	return cv
}

// TestRequireActorRefusesWritesWithoutAnActor: under audit_require_actor=true
// a write that would be recorded fails with ErrNoActor when its context has
// no actor (or an empty one), even under the warn policy, and nothing runs;
// with an actor, or to an excluded table, it runs.
func TestRequireActorRefusesWritesWithoutAnActor(t *testing.T) {
	for _, drv := range auditDrivers {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			cv := openCoverage(t, drv)
			strict, err := sql.Open(drv, cv.td.dsn+"&audit_exclude=sessions&audit_require_actor=true&audit_unsupported=warn")
			if err != nil {
				t.Fatal(err)
			}
			defer strict.Close()
			bg := context.Background()
			cases := []struct {
				name    string
				ctx     context.Context
				stmt    string
				refused bool
			}{
				{"no actor", bg, `INSERT INTO items VALUES (1, 'tea')`, true},
				{"an empty actor", sqlaudit.WithActor(bg, ""), `INSERT INTO items VALUES (2, 'tea')`, true},
				{"metadata but no actor", sqlaudit.WithMetadata(bg, map[string]any{"request_id": "r"}), `UPDATE items SET name = 'x'`, true},
				{"an actor", sqlaudit.WithActor(bg, "alice"), `INSERT INTO items VALUES (3, 'tea')`, false},
				{"an excluded table", bg, `INSERT INTO sessions VALUES (1, 's')`, false},
			}
			for _, c := range cases {
				since := cv.td.maxID(t, "audit_log")
				before := cv.td.snap(t, "items", "id")
				_, err := strict.ExecContext(c.ctx, c.stmt)
				if c.refused != errors.Is(err, sqlaudit.ErrNoActor) || !c.refused && err != nil {
					t.Fatalf("%s: %s: err %v, want refused %v", c.name, c.stmt, err, c.refused)
				}
				if !c.refused {
					continue
				}
				if after := cv.td.snap(t, "items", "id"); !reflect.DeepEqual(before, after) || len(cv.td.trail(t, "audit_log", since)) != 0 {
					t.Errorf("%s: the refused write changed something", c.name)
				}
			}
			st, err := sqlaudit.StatsOf(bg, strict)
			if err != nil {
				t.Fatal(err)
			}
			if st.Refused != 3 || st.Audited != 1 || st.Tables[cv.name("items")].Refused != 3 {
				t.Errorf("counters %+v: want 3 refused and 1 audited on %s", st, cv.name("items"))
			}
		})
	}
}

// TestCountersAndCoverageReportWhatIsNotAudited: the handle's counters
// count audited writes (and those without an actor), refused and warned
// ones by table; the process's counters, published with expvar, hold at
// least as much; and the coverage report names each table's status, its
// records and those without an actor in a time range.
func TestCountersAndCoverageReportWhatIsNotAudited(t *testing.T) {
	for _, drv := range auditDrivers {
		t.Run(drv, func(t *testing.T) {
			t.Parallel()
			cv := openCoverage(t, drv)
			bg := context.Background()
			alice := sqlaudit.WithActor(bg, "alice")
			mustExecCtx(t, alice, cv.db, `INSERT INTO items VALUES (1, 'tea')`, `INSERT INTO sessions VALUES (1, 's')`)
			mustExecCtx(t, bg, cv.db, `INSERT INTO items VALUES (2, 'coffee')`)
			if _, err := cv.db.ExecContext(alice, cv.refusal); !errors.Is(err, sqlaudit.ErrUnsupported) {
				t.Fatalf("%s: %v, want ErrUnsupported", cv.refusal, err)
			}
			mustExecCtx(t, alice, cv.warn, cv.refusal)

			st, err := sqlaudit.StatsOf(bg, cv.db)
			if err != nil {
				t.Fatal(err)
			}
			items, loose := cv.name("items"), cv.name("loose")
			want := sqlaudit.Stats{Audited: 2, WithoutActor: 1, Refused: 1}
			if st.Audited != want.Audited || st.WithoutActor != want.WithoutActor || st.Refused != want.Refused || st.Warned != 0 {
				t.Errorf("counters %+v, want %+v", st, want)
			}
			if got := st.Tables[items]; got.Audited != 2 || got.WithoutActor != 1 {
				t.Errorf("counters of %s: %+v", items, got)
			}
			if got := st.Tables[loose]; got.Refused != 1 || got.LastReason == "" || got.LastQuery != cv.refusal {
				t.Errorf("counters of %s: %+v, want 1 refusal with its reason and statement", loose, got)
			}
			if ws, err := sqlaudit.StatsOf(bg, cv.warn); err != nil || ws.Warned != 1 || ws.Tables[loose].Warned != 1 {
				t.Errorf("counters under warn: %+v, %v; want 1 warned on %s", ws, err, loose)
			}
			var pub sqlaudit.Stats
			if err := json.Unmarshal([]byte(expvar.Get("sqlaudit").String()), &pub); err != nil {
				t.Fatalf("expvar sqlaudit: %v", err)
			}
			if pub.Audited < st.Audited || pub.Refused < st.Refused || pub.Warned < 1 || pub.WithoutActor < st.WithoutActor {
				t.Errorf("expvar sqlaudit %+v holds less than one handle's %+v", pub, st)
			}

			start := time.Now().Add(-time.Hour)
			var schemas []string
			if !isSQLite(drv) && !isMySQL(drv) {
				schemas = []string{cv.td.schema()}
			}
			rep, err := sqlaudit.Coverage(bg, cv.db, sqlaudit.CoverageOptions{Schemas: schemas, Since: start})
			if err != nil {
				t.Fatal(err)
			}
			// The settings table beside the audit table (its redactions) is
			// an ordinary audited table: a change to it is recorded.
			wantStatus := map[string]sqlaudit.TableStatus{items: sqlaudit.Audited, cv.name("sessions"): sqlaudit.Excluded, loose: sqlaudit.NoKey,
				cv.name("audit_log_settings"): sqlaudit.Audited}
			switch {
			case isSQLite(drv):
				wantStatus[loose] = sqlaudit.AuditedByRowid
			case !isMySQL(drv):
				wantStatus[cv.name("ruled")] = sqlaudit.Refused
			}
			got := map[string]sqlaudit.TableStatus{}
			for _, tc := range rep.Tables {
				got[tc.Table] = tc.Status
				if (tc.Status == sqlaudit.Refused || tc.Status == sqlaudit.NoKey) && tc.Reason == "" {
					t.Errorf("%s is %s without a reason", tc.Table, tc.Status)
				}
				if tc.Table == items && (tc.Records != 2 || tc.Unattributed != 1 || tc.Stats.Audited != 2 || !slices.Equal(tc.Key, []string{"id"})) {
					t.Errorf("report of %s: %+v", items, tc)
				}
			}
			if !equalStatus(got, wantStatus) {
				t.Errorf("statuses %v, want %v", got, wantStatus)
			}
			for _, r := range []struct {
				name         string
				opts         sqlaudit.CoverageOptions
				records, bad int64
			}{
				{"all time", sqlaudit.CoverageOptions{Schemas: schemas}, 2, 1},
				{"since an hour ago", sqlaudit.CoverageOptions{Schemas: schemas, Since: start}, 2, 1},
				{"until an hour ago", sqlaudit.CoverageOptions{Schemas: schemas, Until: start}, 0, 0},
				{"a range in the future", sqlaudit.CoverageOptions{Schemas: schemas, Since: time.Now().Add(time.Hour), Until: time.Now().Add(2 * time.Hour)}, 0, 0},
			} {
				rep, err := sqlaudit.Coverage(bg, cv.db, r.opts)
				if err != nil {
					t.Fatalf("%s: %v", r.name, err)
				}
				if rep.Records[items] != r.records || rep.Unattributed[items] != r.bad {
					t.Errorf("%s: %d records, %d without an actor; want %d, %d", r.name, rep.Records[items], rep.Unattributed[items], r.records, r.bad)
				}
			}
		})
	}
}

func equalStatus(a, b map[string]sqlaudit.TableStatus) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// mustExecCtx runs statements through db under ctx.
func mustExecCtx(t testing.TB, ctx context.Context, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}
