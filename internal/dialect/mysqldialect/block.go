package mysqldialect

import (
	"database/sql/driver"
	"errors"
	"io"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// The common UPDATE or DELETE — one audited table, no foreign-key action
// to check, no RETURNING — runs as one MariaDB compound statement
// (BEGIN NOT ATOMIC … END, prepared once per connection): the copy, the
// restricted statement and the records of runChange, inside the wrapper's
// transaction or the caller's savepoint, in one round trip instead of five
// (three inside a transaction). An error rolls back what the block did and
// is re-raised unchanged (RESIGNAL), so the caller sees the server's own
// error as from the separate statements.

// myBlockable reports whether plan p of statement a runs as a compound
// statement.
func myBlockable(a *sqlstmt.Analysis, p *myPlan) bool {
	return !a.Upsert && (a.Kind == sqlstmt.Update || a.Kind == sqlstmt.Delete) &&
		len(p.targets) == 1 && len(p.targets[0].cascades) == 0 && a.Returning == "" &&
		// LAST_INSERT_ID(expr) in an UPDATE sets the OK packet's insert id,
		// which a compound statement does not report.
		!strings.Contains(strings.ToUpper(a.Text), "LAST_INSERT_ID")
}

// myBlock is the compound statement of plan p; own: in the wrapper's own
// transaction, else under a savepoint of the caller's. It ends with one row:
// the statement's affected rows and the number of rows copied.
func myBlock(p *myPlan, own bool) string {
	tg := p.targets[0]
	begin, end := "SAVEPOINT "+savepoint, ""
	// After a deadlock InnoDB has rolled back the whole transaction and the
	// savepoint is gone; the deadlock is still the error to re-raise.
	undo := "BEGIN DECLARE CONTINUE HANDLER FOR SQLEXCEPTION BEGIN END; ROLLBACK TO SAVEPOINT " + savepoint + "; END"
	if own {
		begin, end, undo = "START TRANSACTION", ownCommit+"; ", "ROLLBACK"
	}
	return "BEGIN NOT ATOMIC DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN " + undo + "; RESIGNAL; END; " +
		"SET @_sqa_stage = 'copy'; " + begin + "; " +
		tg.copy + "; SET @_sqa_copied = ROW_COUNT(), @_sqa_stage = 'change'; " +
		p.stmt + "; SET @_sqa_changed = ROW_COUNT(); " + keyCheck(tg) +
		"SET @_sqa_stage = 'records'; " + tg.records + "; " + end +
		"SELECT @_sqa_changed, @_sqa_copied; END"
}

// keyCheck fails the block when the UPDATE moved a key (see keyMoved).
func keyCheck(tg myTarget) string {
	if tg.keyMoved == "" {
		return ""
	}
	return "IF " + tg.keyMoved + " THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '" + keyMovedText + "'; END IF; "
}

// keyMovedText is the message of the block's SIGNAL when a key moved.
const keyMovedText = "sqlaudit: the UPDATE changed a primary key"

// errKeyMoved is the refusal of an UPDATE or upsert that changed a key: it
// is rolled back.
func errKeyMoved(ex *engine.Execution, t *engine.TableInfo) error {
	return engine.Fail(ex.Query, t.Display, "cannot audit a write that changes a primary key on MySQL (it was undone; assigning a key its own value is fine)", engine.Unsupported)
}

// runBlock runs ex as one compound statement. ran is false when the server
// refused to prepare it (nothing ran; e.g. sql_mode=ORACLE reads BEGIN
// otherwise): the connection then uses the separate statements.
func (m *myConn) runBlock(ex *engine.Execution, p *myPlan) (res driver.Result, rows driver.Rows, ran bool, err error) {
	own := !m.inTransaction()
	if own {
		m.tx++
		defer m.TxEnded()
	}
	tg := p.targets[0]
	if err := m.ensureCopy(ex, tg); err != nil {
		return nil, nil, true, err
	}
	m.seq++
	copyArgs, stmtArgs := myChangeArgs(ex, p, m.seq)
	args := append(copyArgs, stmtArgs...)
	if tg.keyMoved != "" {
		args = append(args, m.seq, m.seq)
	}
	args = append(args, m.recordArgs(ex, m.seq)...)
	block := p.blocks[0]
	if own {
		block = p.blocks[1]
	}
	out, err := ex.Session.PreparedQuery(ex.Ctx, block, engine.Named(args...))
	var me *mysql.MySQLError
	if errors.As(err, &me) && (me.Number == 1064 || me.Number == 1295) { // syntax; not preparable
		m.noBlock = true
		return nil, nil, false, nil
	}
	var changed, copied int64
	if err == nil {
		changed, copied, err = readCounts(out)
	}
	if err != nil {
		return nil, nil, true, m.blockError(ex, tg, err)
	}
	if err := m.prune(ex, p, copied); err != nil {
		return nil, nil, true, err
	}
	if ex.WantRows {
		return nil, &engine.BufferedRows{}, true, nil
	}
	return engine.Result{Rows: changed, HasLast: true}, nil, true, nil
}

// readCounts reads the block's one row and closes out.
func readCounts(out driver.Rows) (changed, copied int64, err error) {
	defer out.Close()
	dest := make([]driver.Value, 2)
	if err := out.Next(dest); err != nil {
		if err == io.EOF {
			err = errors.New("sqlaudit: the audited statement returned no counts")
		}
		return 0, 0, err
	}
	return engine.AsInt(dest[0]), engine.AsInt(dest[1]), nil
}

// blockError is the error of a failed block: the server's own, wrapped in
// ErrRecord when writing the records failed, or engine.ErrRunAgain when the
// copy or the records failed because another client changed the table.
func (m *myConn) blockError(ex *engine.Execution, tg myTarget, err error) error {
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.SQLState == [5]byte{'4', '5', '0', '0', '0'} && me.Message == keyMovedText {
		return errKeyMoved(ex, tg.t)
	}
	stage := ""
	if rows, e := ex.Session.QueryAll(ex.Ctx, `SELECT @_sqa_stage`); e == nil && len(rows) == 1 {
		stage = engine.AsString(rows[0][0])
	}
	if stage == "copy" || stage == "records" {
		if e := m.staleOr(ex, err); e == engine.ErrRunAgain {
			return e
		}
	}
	if stage == "records" {
		return engine.RecordsFailed(ex.Query, tg.t.Display, err)
	}
	return engine.NoRetry(err)
}
