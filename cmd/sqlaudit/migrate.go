package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
	"github.com/sqlaudit/sqlaudit"
)

const migrateLong = `Create the audit table with its reading indexes and its settings table when
they are missing, or bring an existing audit table up to date: add the
indexes the readers use (history by table and key, a transaction, an actor,
time ranges) without stopping the writers — CREATE INDEX CONCURRENTLY on
PostgreSQL, InnoDB's online index build on MariaDB; SQLite has one writer, so
its writers wait while an index is built (about a second per million records).
Then check that the table has every column of the record.

--redact records redacted columns in the settings table, where every writer
of the trail — the application, this command's revert, the viewer — finds
them (the application's audit_redact records its own on its first
connection).

--print writes the DDL instead (for migration tools that own the schema); its
dialect comes from --dsn or --dialect.`

func migrateCmd(g *globals) *cobra.Command {
	var print bool
	var dialect string
	var redact []string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create or update the audit table and its indexes, or print its DDL",
		Long:  migrateLong,
		Example: `  sqlaudit migrate --dsn postgres://owner@db/app
  sqlaudit migrate --print --dialect postgres > 001_audit_log.sql
  sqlaudit migrate --print --dialect mysql
  sqlaudit migrate --dsn app.db --audit-table changes
  sqlaudit migrate --dsn app.db --redact users.password_hash`,
		Args: nArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			d := dialectOf(g.dsn)
			switch strings.ToLower(dialect) {
			case "postgres", "postgresql":
				d = sqlaudit.PostgreSQL
			case "sqlite", "sqlite3":
				d = sqlaudit.SQLite
			case "mysql", "mariadb":
				d = sqlaudit.MySQL
			case "":
				if print && g.dsn == "" {
					return usagef("migrate --print needs --dsn or --dialect postgres|sqlite|mysql")
				}
			default:
				return usagef("bad --dialect %q: want postgres, sqlite or mysql (MariaDB)", dialect)
			}
			if print {
				_, err := fmt.Fprint(cmd.OutOrStdout(), sqlaudit.DDL(d, g.auditTable))
				return err
			}
			return g.migrate(cmd, d, redact)
		},
	}
	cmd.Flags().BoolVar(&print, "print", false, "print the DDL, change nothing")
	cmd.Flags().StringVar(&dialect, "dialect", "", "postgres, sqlite or mysql (MariaDB) (default: from --dsn)")
	cmd.Flags().StringArrayVar(&redact, "redact", nil, "record a redacted column (column or table.column) in the settings table (repeatable)")
	return cmd
}

// migrate creates or updates the audit table and checks its columns.
func (g *globals) migrate(cmd *cobra.Command, d sqlaudit.Dialect, redact []string) error {
	ctx := cmd.Context()
	g.newFile = true
	db, err := g.open(ctx, false)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, "SELECT 1 FROM "+g.auditTable+" WHERE 1 = 0")
	existed := err == nil
	if existed && d.Name() == "postgres" {
		if err := dropInvalidIndexes(ctx, db, g.auditTable); err != nil {
			return err
		}
	}
	for _, stmt := range strings.Split(sqlaudit.DDL(d, g.auditTable), ";\n") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if existed && d.Name() == "postgres" { // build without blocking the writers
			stmt = strings.Replace(stmt, "CREATE INDEX IF NOT EXISTS", "CREATE INDEX CONCURRENTLY IF NOT EXISTS", 1)
		}
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("migrating the audit table (%.60s…): %w", stmt, err)
		}
	}
	if _, err := db.ExecContext(ctx, "SELECT "+strings.Join(csvHeader, ", ")+" FROM "+g.auditTable+" WHERE 1 = 0"); err != nil {
		return fmt.Errorf("the audit table %s exists but lacks record columns (no automatic upgrade applies): %w", g.auditTable, err)
	}
	if existed && d.Name() == "postgres" {
		if err := checkIndexes(ctx, db, g.auditTable); err != nil {
			return err
		}
	}
	if len(redact) > 0 {
		if err := g.recordRedactions(ctx, redact); err != nil {
			return err
		}
	}
	what := "created with its reading indexes"
	if existed {
		what = "existed; its reading indexes are in place"
	}
	_, err = fmt.Fprintf(cmd.OutOrStdout(), "audit table %s is ready (%s)\n", g.auditTable, what)
	return err
}

// recordRedactions stores redacted columns in the settings table: the
// audit driver does so on connecting with audit_redact.
func (g *globals) recordRedactions(ctx context.Context, cols []string) error {
	saved := g.params
	g.params = url.Values{"audit_redact": {strings.Join(cols, ",")}}
	defer func() { g.params = saved }()
	db, err := g.open(ctx, true)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, c := range cols {
		var n int
		err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+g.auditTable+"_settings WHERE name = 'redact' AND value = "+placeholder(g.dsn), c).Scan(&n)
		if err != nil || n != 1 {
			return fmt.Errorf("recording the redaction of %s in %s_settings failed (%v): see the warning above", c, g.auditTable, err)
		}
	}
	return nil
}

func placeholder(dsn string) string {
	if dialectOf(dsn).Name() == "postgres" {
		return "$1"
	}
	return "?"
}

// pgInvalidIndexes lists, qualified and quoted, the audit table's indexes
// that a concurrent build left invalid.
const pgInvalidIndexes = `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_index i
	JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE i.indrelid = to_regclass($1) AND NOT i.indisvalid`

// dropInvalidIndexes drops what an interrupted CREATE INDEX CONCURRENTLY
// left: IF NOT EXISTS would take it for the index.
func dropInvalidIndexes(ctx context.Context, db *sql.DB, table string) error {
	names, err := queryStrings(ctx, db, pgInvalidIndexes, table)
	if err != nil {
		return err
	}
	for _, n := range names {
		if _, err := db.ExecContext(ctx, `DROP INDEX CONCURRENTLY IF EXISTS `+n); err != nil {
			return fmt.Errorf("dropping the invalid index %s (left by an interrupted build): %w", n, err)
		}
	}
	return nil
}

// checkIndexes fails when a concurrent build left an invalid index.
func checkIndexes(ctx context.Context, db *sql.DB, table string) error {
	names, err := queryStrings(ctx, db, pgInvalidIndexes, table)
	if err != nil || len(names) == 0 {
		return err
	}
	return fmt.Errorf("the indexes %s of %s are invalid (their concurrent build failed): run sqlaudit migrate again", strings.Join(names, ", "), table)
}

func queryStrings(ctx context.Context, db *sql.DB, q string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
