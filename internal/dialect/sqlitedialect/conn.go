package sqlitedialect

import (
	"context"
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// liteConn is the per-connection state of the SQLite dialect.
type liteConn struct {
	c     *engine.Session
	newTx bool // the next record starts a new transaction id
	live  bool // the context row may be live (a trigger would record)
	inTx  bool // inside a transaction, as last asked (see txState)

	txState func(context.Context) (bool, error) // asks the driver, or SQLite

	known map[string]int64 // schema → the schema version last read there

	installed     map[string]int64 // schema → the version its tables' triggers were built at
	installGen    uint64           // the connector's DDL generation at installation
	installedInTx bool             // installed inside the open transaction: a rollback undoes it

	stage liteStage // the staging table's layout (stage.go)
}

// TxEnded: the next record starts a new transaction id; a rollback may have
// restored an older context row or dropped triggers created inside it.
func (lc *liteConn) TxEnded() {
	lc.newTx, lc.live, lc.inTx = true, true, false
	if lc.installedInTx {
		lc.installed, lc.installedInTx = nil, false
	}
}

// TxBegan: a transaction begun through the wrapper starts a new
// transaction id.
func (lc *liteConn) TxBegan() { lc.newTx, lc.inTx = true, true }

// Passed notes the end of a statement that ran untouched: outside a
// transaction it committed on its own; a ROLLBACK TO may restore an older
// context row or drop triggers created after its savepoint; SAVEPOINT and
// RELEASE may begin or end a transaction.
func (lc *liteConn) Passed(a *sqlstmt.Analysis) {
	if a.BeginsTx || a.EndsTx {
		return
	}
	word := firstWord(a.Text)
	switch word {
	case "SAVEPOINT", "RELEASE", "ROLLBACK":
		if in, err := lc.txState(context.Background()); err == nil && !in {
			lc.TxEnded()
		} else if err == nil && word == "SAVEPOINT" && !lc.inTx {
			lc.TxBegan()
		}
	default:
		if !lc.inTx {
			lc.TxEnded()
		}
	}
	if word == "ROLLBACK" {
		lc.live = true
		if lc.installedInTx {
			lc.installed = nil
		}
	}
}

// firstWord is a statement's first keyword, upper-cased.
func firstWord(q string) string {
	toks := sqlstmt.Lex(q, sqlstmt.StyleSQLite)
	if len(toks) == 0 {
		return ""
	}
	return strings.ToUpper(toks[0].Text(q))
}

// Quiet stops the triggers before a statement that runs unaudited (a
// warned unsupported statement, a write to an excluded table): they must
// not record its rows with the previous statement's context.
func (lc *liteConn) Quiet(ctx context.Context) error {
	if !lc.live {
		return nil
	}
	if _, err := exec(ctx, lc.c, liteQuietCtx, nil); err != nil {
		return err
	}
	lc.live = false
	return nil
}

// Fresh compares the schema version the entry was read at with the one
// this connection read last; the triggers themselves check the version of
// the tables they record (liteStale), and a change they find drops every
// entry (forget). TEMP tables change only through this connection.
func (lc *liteConn) Fresh(_ context.Context, t *engine.TableInfo) bool {
	v, ok := lc.known[t.Schema]
	return t.Schema == "temp" || !ok || liteVersion(t) == v
}

// forget drops what the connection knew of the schemas: another connection
// changed one.
func (lc *liteConn) forget() {
	lc.known, lc.installed = nil, nil
	lc.c.DropCatalog()
}

// schemaVersion reads schema's schema_version (PRAGMA: cached, where the
// table-valued pragma_schema_version compiles a statement on every call).
func (lc *liteConn) schemaVersion(ctx context.Context, schema string) (int64, error) {
	return readSchemaVersion(ctx, lc.c, schema, lc)
}

func readSchemaVersion(ctx context.Context, c *engine.Session, schema string, lc *liteConn) (int64, error) {
	rows, err := c.QueryAll(ctx, `PRAGMA `+sqlstmt.QuoteIdent(schema)+`.schema_version`)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	v, _ := rows[0][0].(int64)
	if lc != nil {
		if lc.known == nil {
			lc.known = map[string]int64{}
		}
		lc.known[schema] = v
	}
	return v, nil
}
