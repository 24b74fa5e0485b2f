package sqlitedialect

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// SQLite row capture: every audited table of a schema gets three TEMP
// triggers on each connection (SQLite allows TEMP triggers on tables of any
// schema; other connections never see them). They fire for every row the
// statement changes — also rows changed by foreign-key actions, by REPLACE
// conflict resolution (with recursive_triggers), by upserts and by the
// application's own triggers — and write the record in the same statement,
// so the record is exactly as atomic as the change. They only write while
// the connection's context row (temp._sqa_ctx) is live: the wrapper sets it,
// with the actor, metadata and statement text, before each audited
// statement. Inserts inside a trigger change neither changes() nor, once the
// trigger ends, last_insert_rowid(), and the caller's statement runs as
// sent: RowsAffected, LastInsertId and RETURNING are the plain driver's.

// liteCtxDDL creates the context row. WITHOUT ROWID: writing it never moves
// last_insert_rowid(). The TEMP database keeps its rollback journal in
// memory: a trigger that writes the context row inside the caller's
// statement otherwise creates and deletes a journal file (measured: 10 µs of
// a 40 µs single-row DELETE); TEMP data does not outlive the connection.
var liteCtxDDL = []string{
	`PRAGMA temp.journal_mode = MEMORY`,
	`CREATE TEMP TABLE IF NOT EXISTS _sqa_ctx (k INTEGER PRIMARY KEY, live INTEGER NOT NULL, tx INTEGER, actor, metadata, query TEXT) WITHOUT ROWID`,
	`INSERT OR IGNORE INTO temp._sqa_ctx (k, live) VALUES (0, 0)`,
	`CREATE TEMP TABLE IF NOT EXISTS _sqa_count (x INTEGER PRIMARY KEY) WITHOUT ROWID`,
}

// liteSetCtx makes the context live for one statement with its actor,
// metadata and text; ?4 starts a new transaction id (the first record of the
// transaction fills it in: its own id). A plain UPDATE of the TEMP row
// commits on its own in about a microsecond.
const liteSetCtx = `UPDATE temp._sqa_ctx SET live = 1, actor = ?1, metadata = ?2, query = ?3, tx = CASE WHEN ?4 THEN NULL ELSE tx END`

// liteSchemaVersion reads the main schema's version, to notice DDL by other
// connections. A cached PRAGMA statement: the table-valued pragma_schema_version
// compiles a statement on every call (5–6 µs).
const liteSchemaVersion = `PRAGMA schema_version`

// liteQuietCtx stops the triggers before a statement that runs unaudited.
const liteQuietCtx = `UPDATE temp._sqa_ctx SET live = 0`

// liteTriggerNames are the suffixes of a table's three triggers.
var liteTriggerNames = [3]string{"i", "u", "d"}

// liteTriggerSQL returns the CREATE TEMP TRIGGER statements of table t,
// named prefix_i, prefix_u and prefix_d; audit is the audit table, quoted
// and qualified, nextID the expression of the id its next record gets.
func liteTriggerSQL(t *engine.TableInfo, prefix, audit, nextID string) []string {
	insert := `INSERT INTO ` + audit + ` (` + engine.RecordColumns + `) SELECT coalesce(c.tx, ` + nextID + `), c.actor, '`
	tail := `, c.metadata, c.query FROM temp._sqa_ctx AS c WHERE c.live; ` +
		`UPDATE temp._sqa_ctx SET tx = last_insert_rowid() WHERE tx IS NULL AND live; END`
	table := sqlstmt.QuoteLiteral(t.Display, false)
	on := ` ON ` + t.Quoted + ` FOR EACH ROW`
	name := func(i int) string { return `CREATE TEMP TRIGGER ` + sqlstmt.QuoteIdent(prefix+"_"+liteTriggerNames[i]) }
	var changed []string
	for _, c := range t.Columns {
		changed = append(changed, "OLD."+sqlstmt.QuoteIdent(c)+" IS NOT NEW."+sqlstmt.QuoteIdent(c))
	}
	return []string{
		name(0) + ` AFTER INSERT` + on + ` BEGIN ` + insert + `INSERT', ` + table + `, ` +
			jsonObject(t, "NEW", t.Key, false) + `, NULL, ` + jsonObject(t, "NEW", t.Columns, true) + tail,
		name(1) + ` AFTER UPDATE` + on + ` WHEN ` + strings.Join(changed, " OR ") + ` BEGIN ` + insert + `UPDATE', ` + table + `, ` +
			jsonObject(t, "OLD", t.Key, false) + `, ` + liteDiff(t, "OLD") + `, ` + liteDiff(t, "NEW") + tail,
		name(2) + ` AFTER DELETE` + on + ` BEGIN ` + insert + `DELETE', ` + table + `, ` +
			jsonObject(t, "OLD", t.Key, false) + `, ` + jsonObject(t, "OLD", t.Columns, true) + `, NULL` + tail,
	}
}

// liteDiff renders the changed columns of side (OLD or NEW) as a JSON
// object, the members concatenated (concat_ws skips the unchanged ones'
// NULLs): cheaper per row than json_remove of a whole image.
func liteDiff(t *engine.TableInfo, side string) string {
	parts := make([]string, 0, len(t.Columns))
	for _, c := range t.Columns {
		parts = append(parts, "CASE WHEN OLD."+sqlstmt.QuoteIdent(c)+" IS NOT NEW."+sqlstmt.QuoteIdent(c)+" THEN "+
			sqlstmt.QuoteLiteral(jsonKey(c)+":", false)+" || json_quote("+jsonValue(t, side, c, true)+") END")
	}
	return "'{' || concat_ws(',', " + strings.Join(parts, ", ") + ") || '}'"
}

// jsonKey is a column name as a JSON string, as json_object writes it.
func jsonKey(col string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(col) //nolint:errcheck // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// liteNextID is the id the audit table's next record gets: AUTOINCREMENT
// keeps it in sqlite_sequence (max(id) inside a trigger costs a scan per
// row); a table created without AUTOINCREMENT falls back to max(id).
func liteNextID(ctx context.Context, c *engine.Session, audit *engine.TableInfo) (string, error) {
	rows, err := c.QueryAll(ctx, `SELECT count(*) FROM `+sqlstmt.QuoteIdent(audit.Schema)+`.sqlite_schema WHERE name = 'sqlite_sequence'`)
	if err != nil {
		return "", err
	}
	if rows[0][0] == int64(0) {
		return `coalesce((SELECT max(id) FROM ` + audit.Quoted + `), 0) + 1`, nil
	}
	return `coalesce((SELECT seq FROM ` + sqlstmt.QuoteIdent(audit.Schema) + `.sqlite_sequence WHERE name = ` +
		sqlstmt.QuoteLiteral(audit.Name, false) + `), 0) + 1`, nil
}

// ensureTriggers gives every audited table of schema its triggers on this
// connection, unless it has them at the current schema version and DDL
// generation. Whatever triggers of the wrapper's are there (a rollback may
// have kept or taken them) are dropped first, found by name, so no table
// ever has two sets. Cached prepared statements were compiled without the
// new triggers: they go.
func (lc *liteConn) ensureTriggers(ctx context.Context, schema string) error {
	c := lc.c
	if gen := c.Shared.Generation(); lc.installGen != gen || lc.installVersion != lc.version {
		lc.installed, lc.installGen, lc.installVersion = nil, gen, lc.version
	}
	if lc.installed[schema] {
		return nil
	}
	prefix := liteTriggerPrefix(schema)
	if err := lc.dropTriggers(ctx, prefix); err != nil {
		return err
	}
	audit, err := c.Table(ctx, c.Shared.AuditRef)
	if err != nil || audit == nil {
		return fmt.Errorf("sqlaudit: the audit table %s cannot be read: %v", c.Shared.AuditName, err)
	}
	nextID, err := liteNextID(ctx, c, audit)
	if err != nil {
		return err
	}
	names, err := c.QueryAll(ctx, `SELECT name FROM pragma_table_list WHERE schema = ?1 AND type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name NOT LIKE '\_sqa\_%' ESCAPE '\' ORDER BY name`, engine.Named(schema)...)
	if err != nil {
		return err
	}
	for i, r := range names {
		t, err := c.Table(ctx, sqlstmt.TableRef{Schema: schema, Name: engine.AsString(r[0])})
		if err != nil {
			return err
		}
		if t == nil || !t.Audited || t.IsAudit || len(t.Key) == 0 {
			continue
		}
		for _, q := range liteTriggerSQL(t, fmt.Sprintf("%s%d", prefix, i), audit.Quoted, nextID) {
			if _, err := c.RawExec(ctx, q, nil); err != nil {
				return fmt.Errorf("sqlaudit: installing the audit triggers of %s: %w", t.Display, err)
			}
		}
	}
	if lc.installed == nil {
		lc.installed = map[string]bool{}
	}
	lc.installed[schema] = true
	lc.installedInTx = lc.installedInTx || !autoCommit(c)
	return nil
}

// liteTriggerPrefix starts the names of the triggers on schema's tables
// (hex: no LIKE wildcards, any schema name).
func liteTriggerPrefix(schema string) string {
	return fmt.Sprintf("_sqa_%X_", schema)
}

// dropTriggers drops the wrapper's triggers whose names start with prefix
// ("_sqa_" for all of them), and forgets every statement compiled with them.
func (lc *liteConn) dropTriggers(ctx context.Context, prefix string) error {
	rows, err := lc.c.QueryAll(ctx, `SELECT name FROM temp.sqlite_schema WHERE type = 'trigger' AND substr(name, 1, length(?1)) = ?1`, engine.Named(prefix)...)
	if err != nil {
		return err
	}
	lc.c.CloseStmts()
	for _, r := range rows {
		if _, err := lc.c.RawExec(ctx, `DROP TRIGGER IF EXISTS temp.`+sqlstmt.QuoteIdent(engine.AsString(r[0])), nil); err != nil {
			return err
		}
	}
	return nil
}

// BeforeDDL drops all the wrapper's triggers before DDL runs through it:
// SQLite refuses ALTER TABLE … DROP COLUMN of a column a trigger names. The
// next audited write installs them anew.
func (lc *liteConn) BeforeDDL(ctx context.Context) error {
	lc.installed = nil
	return lc.dropTriggers(ctx, "_sqa_")
}

// jsonValue renders a column for json_object, which refuses BLOBs: those are
// recorded as hex text. A redacted column renders as RedactedValue, except
// in a row key, which identifies the row.
func jsonValue(t *engine.TableInfo, alias, col string, redact bool) string {
	for _, r := range t.Redact {
		if r == col && redact {
			return sqlstmt.QuoteLiteral(engine.RedactedValue, false)
		}
	}
	v := sqlstmt.QuoteIdent(col)
	if alias != "" {
		v = alias + "." + v
	}
	return "CASE WHEN typeof(" + v + ") = 'blob' THEN hex(" + v + ") ELSE " + v + " END"
}

// jsonObject renders the columns cols of a row; a row key (redact false)
// is never masked.
func jsonObject(t *engine.TableInfo, alias string, cols []string, redact bool) string {
	parts := make([]string, 0, 2*len(cols))
	for _, c := range cols {
		parts = append(parts, sqlstmt.QuoteLiteral(c, false), jsonValue(t, alias, c, redact))
	}
	return "json_object(" + strings.Join(parts, ", ") + ")"
}
