package sqlitedialect

import (
	"context"
	"database/sql/driver"
	"fmt"

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

// liteCtxDDL creates the context row and the wrapper's other TEMP tables.
// WITHOUT ROWID: writing them never moves last_insert_rowid(). The TEMP
// database keeps its rollback journal in memory: a trigger that writes the
// context row inside the caller's statement otherwise creates and deletes a
// journal file (measured: 10 µs of a 40 µs single-row DELETE); TEMP data
// does not outlive the connection. _sqa_rid is a rowid table of one row
// (the UNIQUE constant makes every INSERT OR REPLACE replace it): inserting
// rowid n there sets last_insert_rowid() to n (staged.go). The last
// statement leaves changes() at 0, as on a fresh connection.
var liteCtxDDL = []string{
	`PRAGMA temp.journal_mode = MEMORY`,
	liteCtxTable,
	`INSERT OR IGNORE INTO temp._sqa_ctx (k, mode) VALUES (0, 0)`,
	`CREATE TEMP TABLE IF NOT EXISTS _sqa_count (x INTEGER PRIMARY KEY) WITHOUT ROWID`,
	`CREATE TEMP TABLE IF NOT EXISTS _sqa_rid (one INTEGER NOT NULL UNIQUE DEFAULT 1)`,
	`DELETE FROM temp._sqa_count`,
}

// liteCtxTable is the context row's table: mode 0 records nothing, 1 the
// triggers write the records (direct), 2 they stage the rows (staged.go).
const liteCtxTable = `CREATE TEMP TABLE IF NOT EXISTS _sqa_ctx (k INTEGER PRIMARY KEY, mode INTEGER NOT NULL, tx INTEGER, actor, metadata, query TEXT, chk TEXT NOT NULL DEFAULT '') WITHOUT ROWID`

// liteOwnTables are the wrapper's TEMP tables: never audited.
var liteOwnTables = map[string]bool{"_sqa_ctx": true, "_sqa_count": true, "_sqa_rid": true, "_sqa_stage": true}

// liteSetCtx makes the context live for one statement in mode ?5 with its
// actor, metadata and text; ?4 starts a new transaction id (the first
// record of the transaction fills it in: its own id); chk, the schemas
// whose version the statement's triggers checked, starts empty. An upsert:
// the row is there afterwards whatever happened to it. Writing the TEMP row
// commits on its own in about a microsecond and touches no other database,
// so it takes no lock the caller's statement would then have to upgrade.
// No RETURNING: its ephemeral table costs a page-cache allocation that
// glibc hands back to the system and faults in again on every statement
// (measured: 20–40 µs a statement).
const liteSetCtx = `INSERT INTO temp._sqa_ctx (k, mode, actor, metadata, query, tx, chk) VALUES (0, ?5, ?1, ?2, ?3, NULL, '') ` +
	`ON CONFLICT (k) DO UPDATE SET mode = excluded.mode, actor = excluded.actor, metadata = excluded.metadata, query = excluded.query, ` +
	`tx = CASE WHEN ?4 THEN NULL ELSE tx END, chk = ''`

// liteQuietCtx stops the triggers before a statement that runs unaudited.
const liteQuietCtx = `UPDATE temp._sqa_ctx SET mode = 0 WHERE k = 0`

// schemaChanged is the message of the error a trigger raises when its
// table's schema changed since it was built (another connection's DDL).
const schemaChanged = "sqlaudit: the schema changed under the audit triggers"

// liteTriggerNames are the suffixes of a table's three triggers.
var liteTriggerNames = [3]string{"i", "u", "d"}

// liteTriggerSQL returns the CREATE TEMP TRIGGER statements of table t,
// named prefix_i, prefix_u and prefix_d; audit is the audit table, quoted
// and qualified, nextID the expression of the id its next record gets, tag
// the schema's mark in the context's chk, stale a condition true when the
// schema is no longer the one t was read from ("" for none), st t's place
// in the staging table (nil: direct capture only).
//
// In direct mode the trigger writes the record. The first record a
// statement writes in a schema checks that schema: the check runs while
// the statement holds the schema's write lock, so nothing can change it
// between the check and the records, and a changed schema aborts the
// statement (RAISE(ABORT)) before anything is kept; the wrapper then reads
// the catalog again and runs the statement anew. The same context UPDATE
// gives a transaction's first record's id to the rest; changes() there is
// the rows the trigger's own INSERT wrote. In staged mode the trigger only
// copies the row (stageInsert); the wrapper checks the schema and writes
// the records after the statement.
func liteTriggerSQL(t *engine.TableInfo, prefix, audit, nextID, tag, stale string, st *stagedTable) []string {
	insert := `INSERT INTO ` + audit + ` (` + engine.RecordColumns + `) SELECT coalesce(c.tx, ` + nextID + `), c.actor, '`
	chk := `chk || '` + tag + `,'`
	if stale != "" {
		chk = `CASE WHEN ` + stale + ` THEN RAISE(ABORT, '` + schemaChanged + `') ELSE ` + chk + ` END`
	}
	from := ` FROM temp._sqa_ctx AS c WHERE c.k = 0 AND c.mode = 1`
	book := `; UPDATE temp._sqa_ctx SET tx = coalesce(tx, last_insert_rowid()), chk = ` + chk +
		` WHERE k = 0 AND mode = 1 AND changes() > 0 AND (tx IS NULL OR instr(chk, '` + tag + `,') = 0)`
	tail := func(op int) string {
		if st == nil {
			return "; END"
		}
		return "; " + stageInsert(st, op) + "; END"
	}
	table := sqlstmt.QuoteLiteral(t.Display, false)
	on := ` ON ` + t.Quoted + ` FOR EACH ROW BEGIN `
	name := func(i int) string { return `CREATE TEMP TRIGGER ` + sqlstmt.QuoteIdent(prefix+"_"+liteTriggerNames[i]) }
	// The UPDATE's comparisons sit inside a CASE on the mode: a condition
	// on OLD and NEW alone would be evaluated before the context row is
	// read, also in staged mode.
	var changed []string
	for _, c := range t.Columns {
		changed = append(changed, liteChanged(t, c))
	}
	return []string{
		name(0) + ` AFTER INSERT` + on + insert + `INSERT', ` + table + `, ` +
			jsonObject(t, "NEW", t.Key, false) + `, NULL, ` + jsonObject(t, "NEW", t.Columns, true) + `, c.metadata, c.query` + from + book + tail(1),
		name(1) + ` AFTER UPDATE` + on + insert + `UPDATE', ` + table + `, ` +
			jsonObject(t, "OLD", t.Key, false) + `, ` + liteDiff(t, "OLD") + `, ` + liteDiff(t, "NEW") + `, c.metadata, c.query` + from +
			` AND CASE WHEN c.mode = 1 THEN ` + balanced(" OR ", changed) + ` END` + book + tail(2),
		name(2) + ` AFTER DELETE` + on + insert + `DELETE', ` + table + `, ` +
			jsonObject(t, "OLD", t.Key, false) + `, ` + jsonObject(t, "OLD", t.Columns, true) + `, NULL, c.metadata, c.query` + from + book + tail(3),
	}
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

// ensure gives the audited tables of every schema their triggers on this
// connection, unless they have them at the current DDL generation and at
// the schema version t was read at (t nil: as installed). Installing once
// for every schema (main, temp, attached) means a statement reaching any
// audited table — through foreign-key actions, REPLACE, or the database's
// and the application's own triggers, TEMP ones on other schemas' tables
// included — finds its triggers in place.
func (lc *liteConn) ensure(ctx context.Context, t *engine.TableInfo) error {
	if gen := lc.c.Shared.Generation(); lc.installGen != gen || lc.installed == nil {
		lc.installed, lc.installGen = map[string]int64{}, gen
		lc.stage = liteStage{}
	}
	if t != nil {
		if v, ok := lc.installed[t.Schema]; ok && (t.Schema == "temp" || v == liteVersion(t)) {
			return nil
		}
		delete(lc.installed, t.Schema)
	}
	schemas, err := lc.c.QueryAll(ctx, `SELECT name FROM pragma_database_list ORDER BY seq`)
	if err != nil {
		return err
	}
	for _, r := range schemas {
		s := engine.AsString(r[0])
		if _, ok := lc.installed[s]; ok {
			continue
		}
		if err := lc.install(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// install gives every audited table of schema its triggers. Whatever
// triggers of the wrapper's are there (a rollback may have kept or taken
// them) are dropped first, found by name, so no table ever has two sets.
// Cached prepared statements were compiled without the new triggers: they
// go.
func (lc *liteConn) install(ctx context.Context, schema string) error {
	c := lc.c
	prefix := liteTriggerPrefix(schema)
	if err := lc.dropTriggers(ctx, prefix); err != nil {
		return err
	}
	version, err := lc.schemaVersion(ctx, schema)
	if err != nil {
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
	names, err := c.QueryAll(ctx, `SELECT name FROM pragma_table_list WHERE schema = ?1 AND type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`, engine.Named(schema)...)
	if err != nil {
		return err
	}
	tables, err := lc.auditedTables(ctx, schema, names)
	if err != nil {
		return err
	}
	ls := &lc.stage
	ls.forgetSchema(schema)
	ls.audit, ls.nextID, ls.after = audit, nextID, fmt.Sprintf(stageAfter, nextID)
	staged := make([]*stagedTable, len(tables))
	for i, t := range tables {
		staged[i] = ls.add(t)
	}
	for _, q := range append([]string{liteCtxTable}, ls.ddl()...) {
		if _, err := exec(ctx, c, q, nil); err != nil {
			return fmt.Errorf("sqlaudit: creating the staging table: %w", err)
		}
	}
	for i, t := range tables {
		st := staged[i]
		if ls.tooWide {
			st = nil
		}
		tag := fmt.Sprintf("%s%d", prefix, staged[i].code)
		for _, q := range liteTriggerSQL(t, tag, audit.Quoted, nextID, prefix, liteStale(t), st) {
			if _, err := exec(ctx, c, q, nil); err != nil {
				return fmt.Errorf("sqlaudit: installing the audit triggers of %s: %w", t.Display, err)
			}
		}
	}
	// Warm the names as statements write them (unqualified) too: a first
	// write inside a deferred transaction then reads nothing before it runs.
	for _, r := range names {
		if _, err := c.Table(ctx, sqlstmt.TableRef{Name: engine.AsString(r[0])}); err != nil {
			return err
		}
	}
	lc.installed[schema] = version
	lc.installedInTx = lc.installedInTx || lc.inTx
	return nil
}

// auditedTables are the tables of schema (names) that get triggers.
func (lc *liteConn) auditedTables(ctx context.Context, schema string, names [][]driver.Value) ([]*engine.TableInfo, error) {
	var out []*engine.TableInfo
	for _, r := range names {
		name := engine.AsString(r[0])
		if schema == "temp" && liteOwnTables[name] {
			continue
		}
		t, err := lc.c.Table(ctx, sqlstmt.TableRef{Schema: schema, Name: name})
		if err != nil {
			return nil, err
		}
		if t != nil && t.Audited && !t.IsAudit && len(t.Key) > 0 {
			out = append(out, t)
		}
	}
	return out, nil
}

// liteStale is the condition under which t's triggers no longer match its
// schema. For main it is the schema version (any DDL: a column added, a
// table that a foreign-key action of t's may reach, a trigger), read by a
// TEMP trigger through pragma_schema_version, which knows main only; for an
// attached schema t's own definition (a column added, dropped or renamed);
// TEMP tables change only through this connection, whose DDL the wrapper
// sees.
func liteStale(t *engine.TableInfo) string {
	e, _ := t.Ext.(liteTable)
	switch t.Schema {
	case "temp":
		return ""
	case "main":
		return fmt.Sprintf("(SELECT schema_version FROM pragma_schema_version) IS NOT %d", e.Version)
	}
	return `(SELECT sql FROM ` + sqlstmt.QuoteIdent(t.Schema) + `.sqlite_schema WHERE type = 'table' AND name = ` +
		sqlstmt.QuoteLiteral(t.Name, false) + `) IS NOT ` + sqlstmt.QuoteLiteral(e.DDL, false)
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
		if _, err := exec(ctx, lc.c, `DROP TRIGGER IF EXISTS temp.`+sqlstmt.QuoteIdent(engine.AsString(r[0])), nil); err != nil {
			return err
		}
	}
	return nil
}

// BeforeDDL drops all the wrapper's triggers before DDL runs through it:
// SQLite refuses ALTER TABLE … DROP COLUMN of a column a trigger names. The
// next audited write installs them anew.
func (lc *liteConn) BeforeDDL(ctx context.Context, a *sqlstmt.Analysis) error {
	if isVacuum(a) {
		return lc.beforeVacuum(ctx, a)
	}
	lc.installed = nil
	return lc.dropTriggers(ctx, "_sqa_")
}
