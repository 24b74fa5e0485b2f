package trail

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/sqlaudit/sqlaudit"
)

// revertRecords reads the records of transaction txID in write order,
// without their statement and metadata, which a revert does not need (a
// large transaction's statement text would be held once per record).
func (c *config) revertRecords(ctx context.Context, q querier, txID int64) ([]Record, error) {
	a := &argList{d: c.d}
	conds := []string{"tx_id = " + a.add(txID)}
	if c.d.seqScale() {
		conds = append(conds, "id >= "+a.add(txID))
	}
	rows, err := q.QueryContext(ctx, "SELECT "+c.d.slimColumns()+" FROM "+c.d.table(c.table)+where(conds)+" ORDER BY id", a.vals...)
	if err != nil {
		return nil, c.wrap(err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var r Record
		var old, new sql.NullString
		if err := rows.Scan(&r.ID, &r.TxID, &r.Action, &r.Table, &r.rawKey, &old, &new); err != nil {
			return nil, err
		}
		if r.Key, err = decodeObject(r.rawKey); err != nil {
			return nil, err
		}
		if old.Valid {
			if r.Old, err = decodeObject(old.String); err != nil {
				return nil, err
			}
		}
		if new.Valid {
			if r.New, err = decodeObject(new.String); err != nil {
				return nil, err
			}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// op is one row's inverse change.
type op struct {
	action string // the statement to run: INSERT, UPDATE or DELETE
	table  string
	key    Key            // the row's key as the transaction left it (UPDATE, DELETE)
	values map[string]any // INSERT: the row; UPDATE: the columns to set back
	alone  bool           // an UPDATE that moves the key back: never batched
}

// afterKey is the row's key after record r (an UPDATE may change it).
func afterKey(r Record) Key {
	k := maps.Clone(r.Key)
	for col := range k {
		if v, ok := r.New[col]; ok {
			k[col] = v
		}
	}
	return k
}

// inverse returns the inverse changes of recs, newest first. With
// skipRedacted an UPDATE's redacted old values are left out (an UPDATE left
// with nothing to set is dropped).
func (c *config) inverse(recs []Record, skipRedacted bool) []op {
	var out []op
	for _, r := range slices.Backward(recs) {
		switch r.Action {
		case "INSERT":
			out = append(out, op{action: "DELETE", table: r.Table, key: afterKey(r)})
		case "DELETE":
			out = append(out, op{action: "INSERT", table: r.Table, values: r.Old})
		case "UPDATE":
			set := r.Old
			if skipRedacted {
				set = maps.Clone(r.Old)
				maps.DeleteFunc(set, func(_ string, v any) bool { return v == sqlaudit.RedactedValue })
				if len(set) == 0 {
					continue
				}
			}
			k := afterKey(r)
			out = append(out, op{action: "UPDATE", table: r.Table, values: set, key: k, alone: jsonText(k) != jsonText(r.Key)})
		}
	}
	return out
}

// statements turns ops into statements: consecutive ops of one table and
// kind that change distinct rows and the same columns run as one statement
// per batch; a batch of one keeps the plain one-row form.
func (c *config) statements(ops []op) []Statement {
	var out []Statement
	for i := 0; i < len(ops); {
		j, seen := i+1, map[string]bool{rowID(ops[i]): true}
		for j < len(ops) && j-i < c.d.batchRows() && batchable(ops[i], ops[j]) && !seen[rowID(ops[j])] {
			seen[rowID(ops[j])] = true
			j++
		}
		out = append(out, c.render(ops[i:j]))
		i = j
	}
	return out
}

// batchable reports that b may join a batch started by a.
func batchable(a, b op) bool {
	return !a.alone && !b.alone && a.action == b.action && a.table == b.table &&
		slices.Equal(sortedKeys(a.key), sortedKeys(b.key)) && slices.Equal(sortedKeys(a.values), sortedKeys(b.values))
}

// rowID names the row an op changes.
func rowID(o op) string {
	if o.action == "INSERT" {
		return "+" + jsonText(o.values) // distinct rows have distinct images
	}
	return jsonText(o.key)
}

// render is the statement of a batch of ops.
func (c *config) render(b []op) Statement {
	o := b[0]
	if len(b) == 1 {
		var s Statement
		switch o.action {
		case "DELETE":
			s = c.d.del(o.table, o.key)
		case "INSERT":
			s = c.d.insert(o.table, o.values)
		default:
			s = c.d.update(o.table, o.values, o.key)
		}
		s.Rows = 1
		return s
	}
	keyCols, cols := sortedKeys(o.key), sortedKeys(o.values)
	keys, vals := make([]Key, len(b)), make([]map[string]any, len(b))
	for i, x := range b {
		keys[i], vals[i] = x.key, x.values
	}
	var s Statement
	switch o.action {
	case "DELETE":
		s = c.d.deleteRows(o.table, keyCols, keys)
	case "INSERT":
		s = c.d.insertRows(o.table, cols, vals)
	default:
		s = c.d.updateRows(o.table, cols, keyCols, vals, keys)
	}
	s.Rows = len(b)
	return s
}

// checkRedactions refuses a revert that would need a redacted value, or
// whose records would hold in clear a column that the trail shows redacted
// but whose redaction the trail's settings table does not list (so the
// audit driver writing the revert would not redact it). With skipRedacted,
// the UPDATEs' redacted columns are noted in res.Skipped instead.
func (c *config) checkRedactions(ctx context.Context, q querier, recs []Record, opts RevertOptions, res *RevertResult) error {
	type col struct{ table, name string }
	seen := map[col]bool{}
	var order []col
	for _, r := range recs {
		for _, img := range []map[string]any{r.Old, r.New} {
			for name, v := range img {
				if v == sqlaudit.RedactedValue && !seen[col{r.Table, name}] {
					seen[col{r.Table, name}] = true
					order = append(order, col{r.Table, name})
				}
			}
		}
		for name, v := range r.Old {
			if v != sqlaudit.RedactedValue {
				continue
			}
			if r.Action == "DELETE" {
				return fmt.Errorf("%w: record %d deleted %s %s, whose column %s is redacted in the trail: the row cannot be restored",
					ErrRedacted, r.ID, r.Table, jsonText(r.Key), name)
			}
			if !opts.SkipRedacted {
				return fmt.Errorf("%w: record %d changed column %s of %s %s, whose old value is redacted in the trail (SkipRedacted, or --skip-redacted, reverts the other columns)",
					ErrRedacted, r.ID, name, r.Table, jsonText(r.Key))
			}
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s %s: %s", r.Table, jsonText(r.Key), name))
		}
	}
	if len(order) == 0 {
		return nil
	}
	stored, err := c.storedRedactions(ctx, q)
	if err != nil {
		return err
	}
	for _, k := range order {
		bare := k.table[strings.LastIndexByte(k.table, '.')+1:]
		if !stored[k.name] && !stored[k.table+"."+k.name] && !stored[bare+"."+k.name] {
			return fmt.Errorf("%w: column %s of %s is redacted in the trail, but the trail's settings table (%s) does not list it, so the revert's own records would hold it in clear; "+
				"record it with 'sqlaudit migrate --redact %s.%s', or connect once with the application's audit_redact", ErrRedacted, k.name, k.table, settingsTableOf(c.table), k.table, k.name)
		}
	}
	return nil
}

// storedRedactions reads the redacted columns of the settings table
// ("column" or "table.column"); none when there is no settings table.
func (c *config) storedRedactions(ctx context.Context, q querier) (map[string]bool, error) {
	rows, err := q.QueryContext(ctx, "SELECT value FROM "+c.d.table(settingsTableOf(c.table))+" WHERE name = 'redact'")
	if err != nil {
		if c.d.missingTable(err) {
			return map[string]bool{}, nil
		}
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out[v] = true
	}
	return out, rows.Err()
}

// settingsTableOf names the settings table of an audit table (see
// sqlaudit's settings: the redacted columns every writer applies).
func settingsTableOf(audit string) string { return audit + "_settings" }
