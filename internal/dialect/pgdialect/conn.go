package pgdialect

import (
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// pgConn is the PostgreSQL state of a connection: whether a transaction
// block is open (BeginTx, or BEGIN sent as a statement). Writes with
// foreign-key actions need one for their two statements and open their own
// otherwise (pgRunCascade).
type pgConn struct {
	inTx     bool
	volatile map[*sqlstmt.Analysis]bool // pgVolatile's answers
}

func (p *pgConn) TxEnded() { p.inTx = false }

func (p *pgConn) TxBegan() { p.inTx = true }

// pgInTx reports an open transaction block on c.
func pgInTx(c *engine.Session) bool {
	p, ok := c.State.(*pgConn)
	return ok && p.inTx
}

// pgVolatile reports whether any function an UPDATE … FROM calls in its
// joins may be volatile (any function of one of those names is): the
// rewrite evaluates the joins twice. Asked once per statement text and
// connection.
func pgVolatile(ex *pgExec) (bool, error) {
	p := ex.Session.State.(*pgConn)
	if v, ok := p.volatile[ex.Stmt]; ok {
		return v, nil
	}
	names := make([]string, len(ex.Stmt.JoinFunctions))
	for i, n := range ex.Stmt.JoinFunctions {
		names[i] = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(n) + `"`
	}
	rows, err := ex.Session.QueryAll(ex.Ctx, `SELECT coalesce(bool_or(provolatile = 'v'), false) FROM pg_proc WHERE proname = ANY($1::text[])`,
		engine.Named("{"+strings.Join(names, ",")+"}")...)
	if err != nil || len(rows) != 1 {
		return false, err
	}
	v := pgBool(rows[0][0])
	if p.volatile == nil || len(p.volatile) >= 1024 {
		p.volatile = map[*sqlstmt.Analysis]bool{}
	}
	p.volatile[ex.Stmt] = v
	return v, nil
}
