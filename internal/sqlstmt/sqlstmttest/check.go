// Package sqlstmttest holds what the analysers' tests share: the check of a
// table of statements against the kinds they must get, the invariants every
// analysis must keep (for the fuzzers), and the fuzzers' seeds.
package sqlstmttest

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// KindCase is a statement and the kind its analysis must have; Reason, for
// sqlstmt.Unsupported, is a substring the reason must contain.
type KindCase struct {
	Q      string
	Kind   sqlstmt.Kind
	Reason string
}

// CheckKinds analyses each case's statement and reports a wrong kind, a
// refusal without the expected reason, or a reason on a statement that is
// not refused.
func CheckKinds(t testing.TB, analyse func(string) *sqlstmt.Analysis, cases []KindCase) {
	t.Helper()
	for _, tt := range cases {
		a := analyse(tt.Q)
		if a.Kind != tt.Kind {
			t.Errorf("analyse(%q).Kind = %s (reason %q), want %s", tt.Q, a.Kind, a.Reason, tt.Kind)
			continue
		}
		if a.Kind == sqlstmt.Unsupported && !strings.Contains(a.Reason, tt.Reason) {
			t.Errorf("analyse(%q).Reason = %q, want it to mention %q", tt.Q, a.Reason, tt.Reason)
		}
		if a.Kind != sqlstmt.Unsupported && a.Reason != "" {
			t.Errorf("analyse(%q) is %s but has reason %q", tt.Q, a.Kind, a.Reason)
		}
	}
}

// IsRowWrite reports the kinds the wrapper audits.
func IsRowWrite(k sqlstmt.Kind) bool { return k.Writes() }

// CheckInvariants analyses q twice and reports what no analysis may do:
// differ between two runs, refuse without a reason, slice clauses that are
// not part of its text, mark a COPY or a BEGIN on the wrong kind, or be a
// row write without a table or with another kind's clauses.
func CheckInvariants(t testing.TB, q string, analyse func(string) *sqlstmt.Analysis) *sqlstmt.Analysis {
	t.Helper()
	a := analyse(q)
	if a == nil {
		t.Fatalf("analyse(%q) returned nil", q)
	}
	if b := analyse(q); !reflect.DeepEqual(a, b) {
		t.Fatalf("analyse(%q) is not deterministic:\n%+v\n%+v", q, a, b)
	}
	if a.Kind == sqlstmt.Unsupported && a.Reason == "" {
		t.Errorf("analyse(%q) is unsupported without a reason", q)
	}
	if a.CopyIn && (a.Kind != sqlstmt.Unsupported || a.Table.Name == "") {
		t.Errorf("analyse(%q) is a COPY … FROM STDIN but %s on table %q", q, a.Kind, a.Table.Name)
	}
	if a.BeginsTx && a.Kind != sqlstmt.TxControl && a.Kind != sqlstmt.PassThrough {
		t.Errorf("analyse(%q) begins a transaction but is %s", q, a.Kind)
	}
	if !IsRowWrite(a.Kind) {
		if a.Set != "" || a.Where != "" || a.Returning != "" || a.InsertBody != "" || a.MergeBody != "" || a.SetColumns != nil {
			t.Errorf("analyse(%q) is %s but has clause slices %+v", q, a.Kind, a)
		}
		return a
	}
	for _, s := range []string{a.Set, a.Where, a.Returning, a.InsertBody, a.MergeBody} {
		if !strings.Contains(a.Text, s) {
			t.Errorf("analyse(%q): slice %q is not part of the text %q", q, s, a.Text)
		}
	}
	if a.Table.Name == "" {
		t.Errorf("analyse(%q) is %s without a table", q, a.Kind)
	}
	switch a.Kind {
	case sqlstmt.Update:
		if a.Set == "" || len(a.SetColumns) == 0 || a.InsertBody != "" {
			t.Errorf("analyse(%q) is an update with SET %q, columns %q, body %q", q, a.Set, a.SetColumns, a.InsertBody)
		}
	case sqlstmt.Merge:
		if a.MergeBody == "" || a.Set != "" || a.InsertBody != "" {
			t.Errorf("analyse(%q) is a merge with body %q, SET %q, insert body %q", q, a.MergeBody, a.Set, a.InsertBody)
		}
	case sqlstmt.Delete:
		if a.Set != "" || a.InsertBody != "" {
			t.Errorf("analyse(%q) is a delete with SET %q, body %q", q, a.Set, a.InsertBody)
		}
	case sqlstmt.Insert:
		if a.InsertBody == "" || a.Set != "" || a.Where != "" {
			t.Errorf("analyse(%q) is an insert with body %q, SET %q, WHERE %q", q, a.InsertBody, a.Set, a.Where)
		}
		if !strings.HasPrefix(a.InsertBody, a.ConflictSet) || !strings.HasSuffix(a.InsertBody, a.ConflictWhere) ||
			(a.ConflictSet != "") != a.Upsert || a.ConflictWhere != "" && !a.Upsert {
			t.Errorf("analyse(%q): upsert %v, body %q cut into %q and WHERE %q", q, a.Upsert, a.InsertBody, a.ConflictSet, a.ConflictWhere)
		}
	}
	return a
}

// Seeds are the fuzzers' starting inputs: statements of every kind and
// dialect, and the ones that once broke the analysers.
var Seeds = []string{
	"`",
	`DELETE FROM /* /* */ t WHERE e <> '*/ u WHERE e <> ''--'`,
	"UPDATE set SET a = 1",
	"UPDATE t SET a = ?2, b = $1",
	"UPDATE t SET a = $1 WHERE id = $2 RETURNING *",
	"UPDATE accounts AS a SET balance = a.balance + 1 WHERE a.id = 1",
	"UPDATE ONLY \"S\".\"T\" SET (a, b) = ($1, $2)",
	"UPDATE t SET a = b IS DISTINCT FROM c WHERE x = (SELECT 1 FROM u WHERE y)",
	"UPDATE t SET note = 'WHERE' /* RETURNING */ WHERE id = 1 -- x",
	"UPDATE t SET a = E'\\';' WHERE b = $q$ ; $q$",
	"DELETE FROM t WHERE id IN (SELECT id FROM u) RETURNING id",
	"DELETE FROM t USING u WHERE t.id = u.id",
	"INSERT INTO t (a, b) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING id",
	"INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET a = 1",
	"INSERT INTO s.t AS x DEFAULT VALUES",
	"WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
	"EXPLAIN ANALYZE UPDATE t SET a = 1",
	"SELECT 1; UPDATE t SET a = 1",
	"CREATE TABLE t (id int PRIMARY KEY); SELECT 1",
	"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE",
	"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED AND s.x THEN UPDATE SET a = s.a WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.a)",
	`COPY "t" ("a", "b c") FROM STDIN`,
	`COPY "s"."t" FROM STDIN`,
	"COPY t FROM STDIN WITH (FORMAT csv)",
	"COPY t (a) FROM '/tmp/f'",
	"COPY t FROM PROGRAM 'cat'",
	"COPY (DELETE FROM t RETURNING *) TO STDOUT",
	"UPDATE t SET v = s.v FROM s WHERE t.id = s.id RETURNING t.id, s.v",
	"DELETE FROM t USING s WHERE t.id = s.id RETURNING *, s.note",
	"INSERT INTO t (id, code) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET code = excluded.code, (a, b) = (1, 2)",
	"UPDATE parents SET id = id + 100 WHERE id IN (1, 3)",
	"TRUNCATE parents",
	"START TRANSACTION ISOLATION LEVEL READ COMMITTED",
	"BEGIN; DELETE FROM t; COMMIT",
	"INSERT OR IGNORE INTO `t` ([a]) VALUES (?)",
	"UPDATE OR IGNORE t SET a = :a, b = ?5, c = ? WHERE d = @d AND e = $e AND f = :a",
	"REPLACE INTO t VALUES (?1, ?2)",
	"CREATE TABLE t (id INTEGER PRIMARY KEY) WITHOUT ROWID",
	"PRAGMA table_info(t)",
	"SELECT a::text FROM t WHERE b = ?",
	"/* a /* b */ c */ SELECT 1",
	"",
}
