package sqlaudit

import (
	"context"
	"database/sql"
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
