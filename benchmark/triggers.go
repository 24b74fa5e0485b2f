package benchmark

import "strings"

// triggerTable is the audit table of variant T; it has the same DDL as
// sqlaudit's audit_log.
const triggerTable = "audit_log_trigger"

// pgTriggerDDL installs variant T on PostgreSQL: a generic PL/pgSQL row
// trigger that writes the record contract, the UPDATE's old and new values
// being a jsonb diff of the changed columns only. The key column comes as
// the trigger argument. The trigger cannot know the application's user: it
// reads the actor from the setting sqlaudit.actor, which the benchmark does
// not set (a real application would pay a SET per transaction for it).
var pgTriggerDDL = []string{
	`CREATE FUNCTION audit_trigger() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
  o jsonb; n jsonb; ov jsonb; nv jsonb;
BEGIN
  IF TG_OP <> 'INSERT' THEN o := to_jsonb(OLD); END IF;
  IF TG_OP <> 'DELETE' THEN n := to_jsonb(NEW); END IF;
  IF TG_OP = 'UPDATE' THEN
    SELECT jsonb_object_agg(e.key, e.value), jsonb_object_agg(e.key, n -> e.key) INTO ov, nv
      FROM jsonb_each(o) e WHERE e.value IS DISTINCT FROM n -> e.key;
    IF ov IS NULL THEN RETURN NULL; END IF;
  ELSE
    ov := o; nv := n;
  END IF;
  INSERT INTO ` + triggerTable + ` (tx_id, actor, action, table_name, row_key, old_values, new_values, metadata, query)
  VALUES (pg_current_xact_id()::text::bigint, current_setting('sqlaudit.actor', true), TG_OP, TG_TABLE_NAME,
          jsonb_build_object(TG_ARGV[0], coalesce(o, n) -> TG_ARGV[0]), ov, nv, NULL, current_query());
  RETURN NULL;
END $f$`,
	`CREATE TRIGGER items_audit AFTER INSERT OR UPDATE OR DELETE ON items FOR EACH ROW EXECUTE FUNCTION audit_trigger('id')`,
}

// pgStatementTriggerDDL installs variant S on PostgreSQL: the fastest
// trigger design, AFTER … FOR EACH STATEMENT triggers over transition
// tables, one INSERT … SELECT per statement writing the same record
// contract as T — an UPDATE's old and new rows paired by key, the jsonb
// diff of their changed columns. Written for items (key id), as a team
// would write its own: a generic trigger would read the key through jsonb.
// The functions turn nested loops off: transition tables have no
// statistics, and pairing 100,000 old and new rows by nested loop is
// quadratic.
var pgStatementTriggerDDL = []string{
	`CREATE FUNCTION audit_stmt_update() RETURNS trigger LANGUAGE plpgsql SET enable_nestloop = off AS $f$
BEGIN
  INSERT INTO ` + triggerTable + ` (tx_id, actor, action, table_name, row_key, old_values, new_values, metadata, query)
  SELECT pg_current_xact_id()::text::bigint, current_setting('sqlaudit.actor', true), 'UPDATE', TG_TABLE_NAME,
         jsonb_build_object('id', o.id), d.ov, d.nv, NULL, current_query()
    FROM o JOIN n ON n.id = o.id
    CROSS JOIN LATERAL (SELECT jsonb_object_agg(eo.key, eo.value) AS ov, jsonb_object_agg(eo.key, en.value) AS nv
                          FROM jsonb_each(to_jsonb(o)) eo JOIN jsonb_each(to_jsonb(n)) en ON en.key = eo.key
                         WHERE eo.value IS DISTINCT FROM en.value) d
   WHERE d.ov IS NOT NULL;
  RETURN NULL;
END $f$`,
	`CREATE FUNCTION audit_stmt_delete() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  INSERT INTO ` + triggerTable + ` (tx_id, actor, action, table_name, row_key, old_values, new_values, metadata, query)
  SELECT pg_current_xact_id()::text::bigint, current_setting('sqlaudit.actor', true), 'DELETE', TG_TABLE_NAME,
         jsonb_build_object('id', o.id), to_jsonb(o), NULL, NULL, current_query()
    FROM o;
  RETURN NULL;
END $f$`,
	`CREATE FUNCTION audit_stmt_insert() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  INSERT INTO ` + triggerTable + ` (tx_id, actor, action, table_name, row_key, old_values, new_values, metadata, query)
  SELECT pg_current_xact_id()::text::bigint, current_setting('sqlaudit.actor', true), 'INSERT', TG_TABLE_NAME,
         jsonb_build_object('id', n.id), NULL, to_jsonb(n), NULL, current_query()
    FROM n;
  RETURN NULL;
END $f$`,
	`CREATE TRIGGER items_audit_update AFTER UPDATE ON items REFERENCING OLD TABLE AS o NEW TABLE AS n
	   FOR EACH STATEMENT EXECUTE FUNCTION audit_stmt_update()`,
	`CREATE TRIGGER items_audit_delete AFTER DELETE ON items REFERENCING OLD TABLE AS o
	   FOR EACH STATEMENT EXECUTE FUNCTION audit_stmt_delete()`,
	`CREATE TRIGGER items_audit_insert AFTER INSERT ON items REFERENCING NEW TABLE AS n
	   FOR EACH STATEMENT EXECUTE FUNCTION audit_stmt_insert()`,
}

// sqliteTriggerDDL installs variant T on SQLite: one AFTER row trigger per
// action, images built with json_object, the UPDATE's changed columns
// collected with json_group_object. SQLite triggers see neither the
// statement text (query is written empty) nor transaction boundaries (tx_id
// is the record's own id, from sqlite_sequence).
func sqliteTriggerDDL() []string {
	txID := `coalesce((SELECT seq FROM sqlite_sequence WHERE name = '` + triggerTable + `'), 0) + 1`
	insert := `INSERT INTO ` + triggerTable + ` (tx_id, actor, action, table_name, row_key, old_values, new_values, metadata, query) VALUES (` + txID
	key := func(img string) string { return `json_object('id', ` + img + `.id)` }
	return []string{
		`CREATE TRIGGER items_audit_insert AFTER INSERT ON items FOR EACH ROW BEGIN ` +
			insert + `, NULL, 'INSERT', 'items', ` + key("NEW") + `, NULL, ` + sqliteImage("NEW") + `, NULL, ''); END`,
		`CREATE TRIGGER items_audit_delete AFTER DELETE ON items FOR EACH ROW BEGIN ` +
			insert + `, NULL, 'DELETE', 'items', ` + key("OLD") + `, ` + sqliteImage("OLD") + `, NULL, NULL, ''); END`,
		`CREATE TRIGGER items_audit_update AFTER UPDATE ON items FOR EACH ROW WHEN ` + sqliteChanged() + ` BEGIN ` +
			insert + `, NULL, 'UPDATE', 'items', ` + key("OLD") + `, ` + sqliteDiff("o") + `, ` + sqliteDiff("n") + `, NULL, ''); END`,
	}
}

// sqliteImage is json_object of every column of OLD or NEW.
func sqliteImage(img string) string {
	parts := make([]string, 0, 2*len(itemColumns))
	for _, c := range itemColumns {
		parts = append(parts, "'"+c+"'", img+"."+c)
	}
	return "json_object(" + strings.Join(parts, ", ") + ")"
}

// sqliteChanged is the WHEN condition: some column changed.
func sqliteChanged() string {
	conds := make([]string, len(itemColumns))
	for i, c := range itemColumns {
		conds[i] = "OLD." + c + " IS NOT NEW." + c
	}
	return strings.Join(conds, " OR ")
}

// sqliteDiff is the object of the changed columns' old (side "o") or new
// (side "n") values.
func sqliteDiff(side string) string {
	rows := make([]string, len(itemColumns))
	for i, c := range itemColumns {
		rows[i] = "SELECT '" + c + "' AS k, OLD." + c + " AS o, NEW." + c + " AS n"
	}
	return "(SELECT json_group_object(k, " + side + ") FROM (" + strings.Join(rows, " UNION ALL ") + ") WHERE o IS NOT n)"
}
