package sqlitedialect

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"

	"github.com/sqlaudit/sqlaudit/internal/engine"
)

// exec runs one of the wrapper's own statements through a cached prepared
// statement, as a query read to its end: ncruces's Exec sets
// last_insert_rowid() to 0 before every statement, and the wrapper's
// statements must leave it as the caller's last statement did. It returns
// how many rows the statement returned (its RETURNING rows).
func exec(ctx context.Context, s *engine.Session, q string, args []driver.NamedValue) (int, error) {
	rows, err := s.PreparedQuery(ctx, q, args)
	if err != nil {
		return 0, err
	}
	n := 0
	dest := make([]driver.Value, len(rows.Columns()))
	for {
		err = rows.Next(dest)
		if err != nil {
			break
		}
		n++
	}
	cerr := rows.Close()
	if !errors.Is(err, io.EOF) {
		return n, err
	}
	return n, cerr
}
