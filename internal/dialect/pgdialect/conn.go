package pgdialect

import "github.com/sqlaudit/sqlaudit/internal/engine"

// pgConn is the PostgreSQL state of a connection: whether a transaction
// block is open (BeginTx, or BEGIN sent as a statement). Writes with
// foreign-key actions need one for their two statements and open their own
// otherwise (pgRunCascade).
type pgConn struct{ inTx bool }

func (p *pgConn) TxEnded() { p.inTx = false }

func (p *pgConn) TxBegan() { p.inTx = true }

// pgInTx reports an open transaction block on c.
func pgInTx(c *engine.Session) bool {
	p, ok := c.State.(*pgConn)
	return ok && p.inTx
}
