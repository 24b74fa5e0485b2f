package main

import (
	"strings"
	"testing"
)

// migrate brings an audit table made before the reading indexes up to date
// — concurrently on PostgreSQL — and the trail reads as before.
func TestMigrateAddsTheReadingIndexesToAnExistingTrail(t *testing.T) {
	both(t, func(t *testing.T, s *shop, _ func(string, string)) {
		var drop []string
		var indexes string // lists the audit table's indexes
		switch {
		case s.schema != "":
			drop = []string{`DROP INDEX audit_log_tx_idx, audit_log_row_idx, audit_log_actor_idx, audit_log_time_idx`, `DROP TABLE audit_log_settings`}
			indexes = `SELECT indexname FROM pg_indexes WHERE tablename = 'audit_log' AND schemaname = current_schema()`
		case isMySQL(s.dsn):
			drop = []string{`ALTER TABLE audit_log DROP INDEX audit_log_row_idx, DROP INDEX audit_log_actor_idx, DROP COLUMN row_key_first`, `DROP TABLE audit_log_settings`}
			indexes = `SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'audit_log'`
		default:
			drop = []string{`DROP INDEX audit_log_tx_idx`, `DROP INDEX audit_log_row_idx`, `DROP INDEX audit_log_actor_idx`, `DROP INDEX audit_log_time_idx`, `DROP TABLE audit_log_settings`}
			indexes = `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_log'`
		}
		for _, q := range drop {
			s.tamper(t, q)
		}
		out := mustCLI(t, "migrate", "--dsn", s.dsn)
		if !strings.Contains(out, "existed; its reading indexes are in place") {
			t.Errorf("migrate: %q", out)
		}
		var names []string
		rows, err := s.db.Query(indexes)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var n string
			rows.Scan(&n)
			names = append(names, n)
		}
		rows.Close()
		got := strings.Join(names, " ")
		for _, want := range []string{"audit_log_row_idx", "audit_log_actor_idx"} {
			if !strings.Contains(got, want) {
				t.Errorf("after migrate, no %s among %s", want, got)
			}
		}
		if out := mustCLI(t, "history", "--dsn", s.dsn, s.tbl("items"), "1"); strings.Count(out, "tx ") != 3 {
			t.Errorf("history after migrate:\n%s", out)
		}
		if out := mustCLI(t, "migrate", "--dsn", s.dsn, "--redact", "items.secret"); !strings.Contains(out, "ready") {
			t.Errorf("migrate --redact: %q", out)
		}
		var n int
		s.db.QueryRow(`SELECT count(*) FROM audit_log_settings WHERE name = 'redact' AND value = 'items.secret'`).Scan(&n)
		if n != 1 {
			t.Errorf("migrate --redact stored %d rows", n)
		}
	})
}

func TestMigratePrintsEveryDialect(t *testing.T) {
	golden(t, "migrate_print_mysql", mustCLI(t, "migrate", "--print", "--dialect", "mysql"))
	if code, _, errs := cli(t, "migrate", "--print", "--dialect", "oracle"); code != exitUsage || !strings.Contains(errs, "mysql") {
		t.Errorf("a bad dialect: %d %q", code, errs)
	}
}
