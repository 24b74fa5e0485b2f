package sqlitedialect

import (
	"context"
	"database/sql/driver"
	"reflect"
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/engine"
)

// Whether a connection is inside a transaction decides where a
// transaction's id starts. The drivers tell it differently, found by what
// their connections can do, never by their names:
//   - mattn/go-sqlite3: AutoCommit() (sqlite3_get_autocommit);
//   - ncruces/go-sqlite3: Raw() returns its *sqlite3.Conn, whose
//     GetAutocommit() asks SQLite;
//   - modernc.org/sqlite exposes nothing: SQLite is asked with BEGIN, which
//     fails inside a transaction and, outside one, opens a deferred
//     transaction that takes no lock and is rolled back at once.

// txStateOf returns the connection's way of telling whether it is inside a
// transaction.
func txStateOf(s *engine.Session) func(context.Context) (bool, error) {
	if ac, ok := s.Raw.(interface{ AutoCommit() bool }); ok {
		return func(context.Context) (bool, error) { return !ac.AutoCommit(), nil }
	}
	if ac := rawAutocommit(s.Raw); ac != nil {
		return func(context.Context) (bool, error) { return !ac.GetAutocommit(), nil }
	}
	return func(ctx context.Context) (bool, error) { return probeTx(ctx, s) }
}

// rawAutocommit finds GetAutocommit on what the connection's Raw() method
// returns (ncruces: *sqlite3.Conn, which this package cannot name).
func rawAutocommit(c driver.Conn) interface{ GetAutocommit() bool } {
	m := reflect.ValueOf(c).MethodByName("Raw")
	if !m.IsValid() || m.Type().NumIn() != 0 || m.Type().NumOut() != 1 {
		return nil
	}
	out := m.Call(nil)[0]
	if out.Kind() == reflect.Pointer && out.IsNil() {
		return nil
	}
	ac, _ := out.Interface().(interface{ GetAutocommit() bool })
	return ac
}

// probeTx asks SQLite itself: BEGIN succeeds only outside a transaction.
func probeTx(ctx context.Context, s *engine.Session) (bool, error) {
	if _, err := exec(ctx, s, `BEGIN`, nil); err != nil {
		if strings.Contains(err.Error(), "within a transaction") {
			return true, nil
		}
		return false, err
	}
	_, err := exec(ctx, s, `ROLLBACK`, nil)
	return false, err
}
