package trail

import (
	"context"
	"database/sql"
)

// Columns returns the columns of table (named as recorded) in the table's
// order, as the database has them now — for showing a record's values in
// the order of the table, which PostgreSQL's jsonb does not keep. It
// returns nil and no error when the table does not exist (any more).
func Columns(ctx context.Context, db *sql.DB, table string, opts ...Option) ([]string, error) {
	c, err := configure(db, opts)
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, "SELECT * FROM "+c.d.table(table)+" WHERE 1 = 0")
	if err != nil {
		if c.d.missingTable(err) {
			return nil, nil
		}
		return nil, err
	}
	defer rows.Close()
	return rows.Columns()
}
