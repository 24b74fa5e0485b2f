package trail_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sqlaudit/sqlaudit"
	"github.com/sqlaudit/sqlaudit/trail"
)

// The application redacts users.password_hash; a tool that reverts through
// a plain DSN (as the sqlaudit command does) finds the redaction in the
// trail's settings table and records the column redacted too.
func TestARevertThroughAPlainDSNKeepsTheApplicationsRedaction(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := sqlaudit.WithActor(context.Background(), "app")
		app := e.another(t, e.withParam("audit_redact", "users.password_hash"))
		mustExec(t, app, `CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(50), password_hash VARCHAR(50))`)
		if _, err := app.ExecContext(ctx, `INSERT INTO users VALUES (1, 'ann', 's3cret-hash')`); err != nil {
			t.Fatal(err)
		}
		created := lastTx(t, e)
		tool := e.another(t, e.dsn) // no audit_redact
		if _, err := trail.Revert(ctx, tool, created, trail.RevertOptions{}); err != nil {
			t.Fatal(err)
		}
		recs, err := trail.Transaction(ctx, tool, lastTx(t, e))
		if err != nil || len(recs) != 1 || recs[0].Action != "DELETE" {
			t.Fatalf("the revert's records: %+v %v", recs, err)
		}
		if got := recs[0].Old["password_hash"]; got != sqlaudit.RedactedValue {
			t.Errorf("the revert recorded password_hash %v, want %q", got, sqlaudit.RedactedValue)
		}
	})
}

// A transaction that changed a redacted column is refused, naming the way
// to revert its other columns; SkipRedacted does that and says so.
func TestRevertOfARedactedUpdateSkipsTheRedactedColumnOnRequest(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := sqlaudit.WithActor(context.Background(), "app")
		app := e.another(t, e.withParam("audit_redact", "password_hash"))
		mustExec(t, app, `CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(50), password_hash VARCHAR(50))`)
		for _, q := range []string{`INSERT INTO users VALUES (1, 'ann', 'h1')`, `UPDATE users SET name = 'anne', password_hash = 'h2' WHERE id = 1`} {
			if _, err := app.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		changed := lastTx(t, e)
		tool := e.another(t, e.dsn)
		_, err := trail.Revert(ctx, tool, changed, trail.RevertOptions{})
		if !errors.Is(err, trail.ErrRedacted) || !strings.Contains(err.Error(), "SkipRedacted") {
			t.Fatalf("want ErrRedacted naming SkipRedacted, got %v", err)
		}
		res, err := trail.Revert(ctx, tool, changed, trail.RevertOptions{SkipRedacted: true})
		if err != nil || len(res.Skipped) != 1 || !strings.Contains(res.Skipped[0], "password_hash") {
			t.Fatalf("SkipRedacted: %+v %v", res, err)
		}
		var name, hash string
		if err := e.plain.QueryRow(`SELECT name, password_hash FROM users WHERE id = 1`).Scan(&name, &hash); err != nil || name != "ann" || hash != "h2" {
			t.Errorf("after the revert: %q %q %v; want ann, h2 (left as it is)", name, hash, err)
		}
	})
}

// A redaction the trail shows but its settings table does not list (a trail
// written before the table existed) refuses the revert: its records would
// hold the column in clear.
func TestRevertRefusesARedactionTheSettingsDoNotList(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		app := e.another(t, e.withParam("audit_redact", "users.password_hash"))
		mustExec(t, app, `CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(50), password_hash VARCHAR(50))`,
			`INSERT INTO users VALUES (1, 'ann', 'h1')`)
		mustExec(t, e.plain, `DELETE FROM audit_log_settings`)
		tool := e.another(t, e.dsn)
		_, err := trail.Revert(ctx, tool, lastTx(t, e), trail.RevertOptions{})
		if !errors.Is(err, trail.ErrRedacted) || !strings.Contains(err.Error(), "audit_log_settings") {
			t.Fatalf("want ErrRedacted naming the settings table, got %v", err)
		}
		var n int
		e.plain.QueryRow(`SELECT count(*) FROM users`).Scan(&n)
		if n != 1 {
			t.Errorf("the refused revert changed users: %d rows", n)
		}
	})
}
