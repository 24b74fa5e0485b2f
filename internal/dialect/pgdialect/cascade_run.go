package pgdialect

import (
	"database/sql/driver"
	"encoding/json"

	"github.com/sqlaudit/sqlaudit/internal/engine"
)

// pgCascadePlan is the cached pair of statements of a write with
// foreign-key actions.
type pgCascadePlan struct {
	lock     []string // pgLockStatements
	lockArgs []int    // the caller's argument numbers the first takes
	closure  bool     // lock[1] locks descendants, run until it finds none
	write    string
}

// pgRunCascade runs a write whose foreign-key actions the statement performs
// itself, in two statements of one transaction (the caller's, or the
// wrapper's own when there is none):
//
//  1. the lock statement locks (FOR UPDATE) the rows the write may change in
//     every table whose rows fire actions, and returns their keys. A
//     concurrent transaction that inserts or re-points a child of such a row
//     must lock it FOR KEY SHARE, so it either finished before (the lock
//     waited for it) or waits until this transaction ends: the children of
//     locked rows can no longer change.
//  2. the write runs with a new snapshot (READ COMMITTED), which therefore
//     sees every child of the locked rows, and performs the actions on them
//     itself (cascade_sql.go). A row that fires an action but was
//     not locked in step 1 (it came to match in between) may have a child
//     the snapshot cannot see, which the RI trigger would change unseen: the
//     statement then fails with ErrConflict and changes nothing.
//
// Under REPEATABLE READ and SERIALIZABLE both statements share the
// transaction's snapshot; an RI trigger that would change a row the snapshot
// cannot see fails with a serialization error of its own.
func pgRunCascade(ex *pgExec) (driver.Result, driver.Rows, error) {
	key := engine.PlanKey{Stmt: ex.Stmt, Table: ex.Table, WantRows: ex.WantRows, NArgs: len(ex.Args)}
	p := ex.Session.Shared.Plan(key, func() any {
		lock, args := pgLockStatements(ex, ex.cascade)
		return &pgCascadePlan{lock: lock, lockArgs: args, closure: ex.cascade.closure != nil, write: pgStatement(ex)}
	}).(*pgCascadePlan)
	if pgInTx(ex.Session) {
		locked, err := pgLock(ex, p)
		if err != nil {
			return nil, nil, err
		}
		return pgExecute(ex, p.write, false, locked)
	}
	raw, ok := ex.Session.Raw.(driver.ConnBeginTx)
	if !ok {
		return nil, nil, engine.Refuse(ex.Query, ex.Table.Display, "the driver cannot begin a transaction for the foreign-key actions")
	}
	tx, err := raw.BeginTx(ex.Ctx, driver.TxOptions{})
	if err != nil {
		return nil, nil, engine.NoRetry(err)
	}
	locked, err := pgLock(ex, p)
	var res driver.Result
	var rows driver.Rows
	if err == nil {
		res, rows, err = pgExecute(ex, p.write, true, locked)
	}
	if err != nil {
		return nil, nil, engine.Also(err, tx.Rollback())
	}
	if err := tx.Commit(); err != nil {
		if (Dialect{}).CommitAmbiguous(err) {
			return nil, nil, &engine.AmbiguousCommit{Err: err}
		}
		return nil, nil, err
	}
	return res, rows, nil
}

// pgLock runs the lock statements and returns the locked rows by node. The
// closure statement (second, when the table references itself) runs until
// it locks no more rows.
func pgLock(ex *pgExec, p *pgCascadePlan) (string, error) {
	args := make([]driver.NamedValue, len(p.lockArgs))
	for i, n := range p.lockArgs {
		args[i] = driver.NamedValue{Ordinal: i + 1, Value: ex.Args[n-1].Value}
	}
	locked := map[string][]json.RawMessage{}
	run := func(q string, args []driver.NamedValue) (map[string][]json.RawMessage, error) {
		rows, err := ex.Session.QueryAll(ex.Ctx, q, args...)
		if err != nil {
			return nil, pgError(ex, err)
		}
		got := map[string][]json.RawMessage{}
		if len(rows) != 1 {
			return nil, engine.Fail(ex.Query, ex.Table.Display, "locking the rows of the foreign-key actions returned no row", engine.Record)
		}
		if err := json.Unmarshal([]byte(engine.AsString(rows[0][0])), &got); err != nil {
			return nil, engine.Fail(ex.Query, ex.Table.Display, "reading the locked rows", engine.Record, err)
		}
		return got, nil
	}
	for i, q := range p.lock {
		if i == 1 && p.closure {
			for frontier := locked["0"]; len(frontier) > 0; {
				b, _ := json.Marshal(map[string][]json.RawMessage{"0": locked["0"], "f": frontier})
				got, err := run(q, engine.Named(string(b)))
				if err != nil {
					return "", err
				}
				frontier = got["0"]
				locked["0"] = append(locked["0"], frontier...)
			}
		} else {
			got, err := run(q, args)
			if err != nil {
				return "", err
			}
			for k, v := range got {
				locked[k] = append(locked[k], v...)
			}
		}
		b, _ := json.Marshal(locked)
		args = engine.Named(string(b))
	}
	return engine.AsString(args[0].Value), nil
}
