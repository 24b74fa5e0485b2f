package sqlaudit_test

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/sqlaudit/sqlaudit"
)

// The audit table is the one in the DSN's database, named with it once at
// connect: after USE other_db a connection's writes are still recorded there
// (they failed with ErrRecord, or went to other_db's own audit_log), a table
// outside that database is recorded with its database's name, and writes to
// the trail stay refused under any spelling.
func TestMySQLRecordsGoToTheOneTrailAfterUse(t *testing.T) {
	db, td := mustOpen(t, "audit-mysql")
	other, _ := mustMySQLDatabase(t)
	tenant, tenantDSN := mustMySQLDatabase(t)
	seedAccounts(t, db)
	mustExec(t, td.plain, `CREATE TABLE `+other+`.t (id int PRIMARY KEY, v int)`, `CREATE TABLE `+tenant+`.t (id int PRIMARY KEY, v int)`)
	tdb, err := sql.Open("mysql", tenantDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer tdb.Close()
	for _, stmt := range strings.Split(strings.TrimSpace(sqlaudit.DDL(sqlaudit.MySQL, "audit_log")), ";\n") {
		mustExec(t, tdb, strings.TrimSuffix(stmt, ";")) // the tenant's own audit_log, which must stay empty
	}
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	exec := func(q string) error { _, err := conn.ExecContext(ctx, q); return err }
	since := td.maxID(t, "audit_log")
	for _, q := range []string{
		"USE " + other, `INSERT INTO t VALUES (1, 1)`, `UPDATE t SET v = 2`,
		"USE " + tenant, `INSERT INTO t VALUES (1, 1)`, `DELETE FROM t`,
		`UPDATE ` + td.name + `.accounts SET balance = 11 WHERE id = 1`,
	} {
		if err := exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var got []string
	for _, r := range td.trail(t, "audit_log", since) {
		got = append(got, r.Action+" "+r.Table)
	}
	want := []string{"INSERT " + other + ".t", "UPDATE " + other + ".t", "INSERT " + tenant + ".t", "DELETE " + tenant + ".t", "UPDATE accounts"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Fatalf("records %v, want %v", got, want)
	}
	var n int
	if err := tdb.QueryRow(`SELECT count(*) FROM audit_log`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the tenant's own audit_log has %d records (%v)", n, err)
	}
	if err := exec(`DELETE FROM ` + td.name + `.audit_log`); !errors.Is(err, sqlaudit.ErrAuditTableWrite) {
		t.Fatalf("a write to the trail after USE: want ErrAuditTableWrite, got %v", err)
	}
}

// An application's own savepoint keeps its place: the wrapper's savepoint,
// set for every audited write inside a transaction, has a name no
// application uses (it was _sqa, so an application savepoint _sqa was
// moved, and its ROLLBACK TO undid less).
func TestMySQLApplicationSavepointsKeepTheirPlace(t *testing.T) {
	db, td := mustOpen(t, "audit-mysql")
	seedAccounts(t, db)
	before, since := td.snap(t, "accounts", "id"), td.maxID(t, "audit_log")
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for _, q := range []string{`SAVEPOINT _sqa`, `UPDATE accounts SET balance = 0 WHERE id = 1`, `DELETE FROM accounts WHERE id = 2`, `ROLLBACK TO SAVEPOINT _sqa`} {
		if _, err := tx.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if after := td.snap(t, "accounts", "id"); !reflect.DeepEqual(before, after) || len(td.trail(t, "audit_log", since)) != 0 {
		t.Fatalf("ROLLBACK TO the application's savepoint left changes: %v", after)
	}
}
