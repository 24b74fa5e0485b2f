package sqlaudit

import "database/sql/driver"

// tx is a transaction begun through the wrapper. Statements inside it run on
// the conn (database/sql sends them there); the tx only marks the end.
type tx struct {
	c   *conn
	raw driver.Tx
}

var _ driver.Tx = (*tx)(nil)

// Commit commits the underlying transaction, and with it the records.
func (t *tx) Commit() error {
	defer t.c.dc.txEnded()
	return t.raw.Commit()
}

// Rollback rolls back the underlying transaction, and with it the records.
func (t *tx) Rollback() error {
	defer t.c.dc.txEnded()
	return t.raw.Rollback()
}
