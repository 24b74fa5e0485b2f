package mysqldialect

import (
	"crypto/rand"
	"encoding/hex"
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// savepoint names the savepoint a write inside the caller's transaction runs
// under. SAVEPOINT with a name already in use moves that savepoint, so a
// fixed name would clobber an application's savepoint of the same name
// (its ROLLBACK TO would undo less); the name is drawn at random once per
// process.
var savepoint = func() string {
	b := make([]byte, 8)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails
	return "_sqa_" + hex.EncodeToString(b)
}()

// ownCommit ends the wrapper's own transaction whatever the session's
// completion_type: a chained transaction (CHAIN) would leave the session in
// a transaction the application never began, RELEASE would disconnect it.
const ownCommit = "COMMIT AND NO CHAIN NO RELEASE"

// myConn is the per-connection state.
type myConn struct {
	c *engine.Session
	// tx names the current transaction to the record statements, which draw
	// its tx_id at its first record and keep it in @_sqa_tx (see myTxID)
	tx      int64
	inTx    bool              // a transaction is open (BeginTx, or BEGIN sent as text)
	noAuto  bool              // the session runs with autocommit=0: always in a transaction
	seq     int64             // numbers each audited statement's rows in the copy tables
	copies  map[string]myCopy // copy table → what it was made for
	pending int64             // copied rows not yet deleted
	noBlock bool              // the server refused compound statements (see runBlock)
	// jsonEquals: the server has JSON_EQUALS (MariaDB 10.7+), by which JSON
	// columns compare (see mySame); the same for every connection of a
	// database, so plans built with it are shared safely
	jsonEquals bool
}

// Passed drops the connection's prepared statements after a statement that
// changes how their text reads: MariaDB resolves a prepared statement's
// unqualified table names (and DATABASE()) in the database of the time it
// was prepared, so a statement cached before USE other_db would still write
// the old database's table; and it parses it in the sql_mode of that time
// (PIPES_AS_CONCAT makes || another operator).
func (m *myConn) Passed(a *sqlstmt.Analysis) {
	if !a.ResetsSession {
		return
	}
	texts := []string{a.Text}
	for _, p := range a.Parts { // a multi-statement string
		texts = append(texts, p.Text)
	}
	for _, q := range texts {
		if lower := strings.ToLower(q); strings.HasPrefix(lower, "use") || strings.Contains(lower, "sql_mode") {
			m.c.CloseStmts()
			return
		}
	}
}

func (m *myConn) TxEnded() { m.tx, m.inTx = m.tx+1, false }

func (m *myConn) TxBegan() { m.tx, m.inTx = m.tx+1, true }

func (m *myConn) inTransaction() bool { return m.inTx || m.noAuto }
