package sqlaudit

import (
	"database/sql/driver"
	"encoding/json"
	"errors"
	"io"
	"reflect"
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
//     itself (postgres_cascade_sql.go). A row that fires an action but was
//     not locked in step 1 (it came to match in between) may have a child
//     the snapshot cannot see, which the RI trigger would change unseen: the
//     statement then fails with ErrConflict and changes nothing.
//
// Under REPEATABLE READ and SERIALIZABLE both statements share the
// transaction's snapshot; an RI trigger that would change a row the snapshot
// cannot see fails with a serialization error of its own.
func pgRunCascade(ex *execution) (driver.Result, driver.Rows, error) {
	key := planKey{a: ex.a, t: ex.t, wantRows: ex.wantRows, nargs: len(ex.args)}
	p := ex.c.c.plan(key, func() any {
		lock, args := pgLockStatements(ex, ex.cascade)
		return &pgCascadePlan{lock: lock, lockArgs: args, closure: ex.cascade.closure != nil, write: pgStatement(ex)}
	}).(*pgCascadePlan)
	if pgInTx(ex.c) {
		locked, err := pgLock(ex, p)
		if err != nil {
			return nil, nil, err
		}
		return pgExecute(ex, p.write, false, locked)
	}
	raw, ok := ex.c.raw.(driver.ConnBeginTx)
	if !ok {
		return nil, nil, stmtError(ex.query, ex.t.display, "the driver cannot begin a transaction for the foreign-key actions", ErrUnsupported)
	}
	tx, err := raw.BeginTx(ex.ctx, driver.TxOptions{})
	if err != nil {
		return nil, nil, noRetry(err)
	}
	locked, err := pgLock(ex, p)
	var res driver.Result
	var rows driver.Rows
	if err == nil {
		res, rows, err = pgExecute(ex, p.write, true, locked)
	}
	if err != nil {
		return nil, nil, errors.Join(err, tx.Rollback())
	}
	if err := tx.Commit(); err != nil {
		if ex.c.c.dialect.commitAmbiguous(err) {
			return nil, nil, &AmbiguousCommitError{Err: err}
		}
		return nil, nil, err
	}
	return res, rows, nil
}

// pgLock runs the lock statements and returns the locked rows by node. The
// closure statement (second, when the table references itself) runs until
// it locks no more rows.
func pgLock(ex *execution, p *pgCascadePlan) (string, error) {
	args := make([]driver.NamedValue, len(p.lockArgs))
	for i, n := range p.lockArgs {
		args[i] = driver.NamedValue{Ordinal: i + 1, Value: ex.args[n-1].Value}
	}
	locked := map[string][]json.RawMessage{}
	run := func(q string, args []driver.NamedValue) (map[string][]json.RawMessage, error) {
		rows, err := ex.c.queryAll(ex.ctx, q, args...)
		if err != nil {
			return nil, pgError(ex, err)
		}
		got := map[string][]json.RawMessage{}
		if len(rows) != 1 {
			return nil, stmtError(ex.query, ex.t.display, "locking the rows of the foreign-key actions returned no row", ErrRecord)
		}
		if err := json.Unmarshal([]byte(asString(rows[0][0])), &got); err != nil {
			return nil, stmtError(ex.query, ex.t.display, "reading the locked rows", ErrRecord, err)
		}
		return got, nil
	}
	for i, q := range p.lock {
		if i == 1 && p.closure {
			for frontier := locked["0"]; len(frontier) > 0; {
				b, _ := json.Marshal(map[string][]json.RawMessage{"0": locked["0"], "f": frontier})
				got, err := run(q, named(string(b)))
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
		args = named(string(b))
	}
	return asString(args[0].Value), nil
}

// bufferRows reads rows into memory, with the driver's column types, and
// closes them.
func bufferRows(rows driver.Rows) (driver.Rows, error) {
	defer rows.Close()
	b := &typedRows{bufferedRows: bufferedRows{cols: rows.Columns()}}
	for i := range b.cols {
		b.types = append(b.types, columnTypeOf(rows, i))
	}
	for {
		row := make([]driver.Value, len(b.cols))
		if err := rows.Next(row); err == io.EOF {
			return b, nil
		} else if err != nil {
			return nil, err
		}
		b.data = append(b.data, keep(row, len(row)))
	}
}

// columnType is what a driver says of one result column.
type columnType struct {
	name                  string
	scan                  reflect.Type
	length                int64
	hasLength             bool
	nullable, hasNullable bool
	prec, scale           int64
	hasPrec               bool
}

func columnTypeOf(rows driver.Rows, i int) columnType {
	h := &hiddenRows{Rows: rows} // its methods ask the driver, with defaults
	ct := columnType{name: h.ColumnTypeDatabaseTypeName(i), scan: h.ColumnTypeScanType(i)}
	ct.length, ct.hasLength = h.ColumnTypeLength(i)
	ct.nullable, ct.hasNullable = h.ColumnTypeNullable(i)
	ct.prec, ct.scale, ct.hasPrec = h.ColumnTypePrecisionScale(i)
	return ct
}

// typedRows are buffered rows that keep the driver's column types.
type typedRows struct {
	bufferedRows
	types []columnType
}

func (r *typedRows) ColumnTypeDatabaseTypeName(i int) string { return r.types[i].name }
func (r *typedRows) ColumnTypeScanType(i int) reflect.Type   { return r.types[i].scan }
func (r *typedRows) ColumnTypeLength(i int) (int64, bool) {
	return r.types[i].length, r.types[i].hasLength
}
func (r *typedRows) ColumnTypeNullable(i int) (bool, bool) {
	return r.types[i].nullable, r.types[i].hasNullable
}
func (r *typedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	return r.types[i].prec, r.types[i].scale, r.types[i].hasPrec
}

// recordsCascades: the PostgreSQL dialect performs and records foreign-key
// actions (pgRunCascade), following them through excluded tables too.
func (postgresDialect) recordsCascades() bool { return true }
func (postgresDialect) followsCascades()      {}
