package sqlaudit

import (
	"context"
	"database/sql"

	"github.com/sqlaudit/sqlaudit/internal/dialect/sqlitedialect"
)

// PlansOf reports how many rewritten statements (plans) the connections of
// the audited handle db share.
func PlansOf(db *sql.DB) (int, error) {
	c, err := db.Conn(context.Background())
	if err != nil {
		return 0, err
	}
	defer c.Close()
	n := 0
	err = c.Raw(func(dc any) error {
		n = dc.(*conn).c.sh.Plans()
		return nil
	})
	return n, err
}

// The SQLite tests check both capture modes (direct and staged): every
// eligible write alternates between them, starting staged.
func init() { sqlitedialect.SetAlternateForTests(true) }
