package pgdialect

import (
	"slices"
	"strconv"
	"strings"

	"github.com/sqlaudit/sqlaudit/internal/engine"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// pgCascade is the tree of tables a statement writes: node 0 is the
// statement's own target, every other node a table a foreign-key action of
// its parent node changes.
type pgCascade struct {
	nodes []pgNode
	// closure is a DELETE's own table's ON DELETE CASCADE foreign key to
	// itself (a tree such as staff.boss): the statement deletes every
	// descendant of its rows too (_sqa_x), and they count as root rows for
	// the other actions.
	closure *engine.ChildFK
}

// pgNode is one table of the tree.
type pgNode struct {
	t      *engine.TableInfo
	parent int             // index of the parent node; -1 for the root
	fk     *engine.ChildFK // the foreign key from the parent; nil for the root
	action byte            // 'c', 'n' or 'd'; 0 for the root
	update bool            // its rows are updated (else deleted)
	sets   []string        // an updated node's assigned columns (the root's SET columns)
	cte    string          // the WITH query that writes it and returns its row images
	source bool            // has children in the tree: its rows must be locked first
	self   bool            // the root's own table (ON DELETE SET NULL/DEFAULT to itself): rows the root deletes are left out
}

// rel is how the rewritten statements name a child node's table: by its
// resolved name, with ONLY unless partitioned, as the RI triggers do.
func (n *pgNode) rel() string {
	if pgfk(n.fk).Partitioned {
		return n.fk.Table.Spelled()
	}
	return "ONLY " + n.fk.Table.Spelled()
}

// pgActions is what a statement's foreign-key actions need: the tree the
// statement performs itself, or why the wrapper cannot (refused), and the
// actions checked at run time instead (checks: refused when they would fire).
type pgActions struct {
	tree    *pgCascade
	refused string
	checks  []*engine.ChildFK
}

// pgCascadeTree builds the tree of the foreign-key actions ex's statement
// may fire into audited tables (at any depth, through excluded tables too).
// The tree is nil when there are none, or when the wrapper cannot perform
// them itself (refused): a table reached twice (a cycle through other
// tables, two foreign keys between the same tables, a self-reference other
// than a DELETE's ON DELETE CASCADE / SET NULL / SET DEFAULT to its own
// table), a table without a primary key on the way, an upsert or TRUNCATE
// that would fire them.
func pgCascadeTree(ex *pgExec) (pgActions, error) {
	a := ex.Stmt
	if len(ex.Table.Children) == 0 { // most tables: nothing to do, nothing allocated
		return pgActions{}, nil
	}
	if a.Kind == sqlstmt.Insert {
		if a.Upsert && pgUpsertFiresActions(ex.Table, a.SetColumns) {
			return pgActions{refused: "an upsert whose DO UPDATE assigns a column that a foreign key with an ON UPDATE action references"}, nil
		}
		return pgActions{}, nil
	}
	b := &pgTreeBuilder{ex: ex, seen: map[string]bool{}}
	b.nodes = []pgNode{{t: ex.Table, parent: -1, update: a.Kind == sqlstmt.Update, sets: a.SetColumns, cte: "_sqa_w"}}
	if _, err := b.grow(0); err != nil {
		return pgActions{}, err
	}
	refuse := func(why string) (pgActions, error) { return pgActions{refused: why, checks: b.relevant}, nil }
	switch {
	case b.refused != "":
		return refuse(b.refused)
	case len(b.nodes) == 1 && (b.closure == nil || !ex.Table.Audited):
		return pgActions{checks: b.unchecked}, nil
	case b.closure != nil && len(ex.Table.Key) == 0:
		return refuse("ON DELETE CASCADE of a table without a primary key to itself")
	case a.Truncate:
		return refuse("TRUNCATE of a table that foreign keys reference (PostgreSQL refuses it without CASCADE; run DELETE)")
	case b.closure != nil && a.With != "" && !strings.HasPrefix(strings.ToUpper(a.With), "RECURSIVE"):
		return refuse("ON DELETE CASCADE of a table to itself after a WITH list without RECURSIVE")
	}
	b.nodes[0].source = b.closure != nil
	for i := 1; i < len(b.nodes); i++ {
		b.nodes[i].cte = "_sqa_c" + strconv.Itoa(i)
		b.nodes[b.nodes[i].parent].source = true
	}
	return pgActions{tree: &pgCascade{nodes: b.nodes, closure: b.closure}, checks: b.unchecked}, nil
}

type pgTreeBuilder struct {
	ex      *pgExec
	nodes   []pgNode
	seen    map[string]bool
	refused string
	closure *engine.ChildFK
	// The root's foreign keys whose actions may reach audited tables, and
	// those of them an UPDATE fires only if a BEFORE trigger or a generated
	// column changes a referenced column its SET does not assign: checked
	// at run time instead (pgCascadeCheck).
	relevant, unchecked []*engine.ChildFK
}

// grow adds node i's children that lead to audited tables and reports
// whether it added any.
func (b *pgTreeBuilder) grow(i int) (bool, error) {
	kept := false
	for fi := range b.nodes[i].t.Children {
		parent := b.nodes[i]
		fk := &parent.t.Children[fi]
		action := pgfk(fk).DelAction
		if parent.update {
			action = pgfk(fk).UpdAction
		}
		if action == 0 {
			continue
		}
		ct, err := b.ex.Session.Table(b.ex.Ctx, fk.Table)
		if err != nil {
			return kept, err
		}
		if ct == nil {
			continue // dropped since the catalog was read: the database decides
		}
		if i == 0 && (ct.Audited || len(ct.Children) > 0) {
			b.relevant = append(b.relevant, fk)
		}
		if parent.update && !intersects(fk.Parent, parent.sets) {
			if i == 0 && (ct.Audited || len(ct.Children) > 0) {
				b.unchecked = append(b.unchecked, fk)
			}
			continue
		}
		if i == 0 && pgt(ct).OID == pgt(parent.t).OID && action == 'c' && !parent.update && b.closure == nil {
			b.closure = fk // the root's own rows' descendants: see pgCascade
			continue
		}
		self := i == 0 && pgt(ct).OID == pgt(parent.t).OID && !parent.update && !b.seen[ct.Quoted]
		if b.nodes[i].self && pgt(ct).OID == pgt(b.nodes[i].t).OID {
			continue // its own actions on itself are the root's
		}
		if (b.seen[ct.Quoted] || pgt(ct).OID == pgt(b.nodes[0].t).OID) && !self {
			if ct.Audited || len(ct.Children) > 0 {
				b.refused = "a foreign-key action reaches " + ct.Display + " twice (a self-reference, a cycle, or several foreign keys to one table)"
			}
			continue
		}
		b.seen[ct.Quoted] = true
		child := pgNode{t: ct, parent: i, fk: fk, action: action, update: action != 'c' || parent.update, sets: fk.Cols, self: self}
		if action == 'n' && !parent.update && len(pgfk(fk).SetCols) > 0 {
			child.sets = pgfk(fk).SetCols
		}
		idx := len(b.nodes)
		b.nodes = append(b.nodes, child)
		deeper, err := b.grow(idx)
		if err != nil {
			return kept, err
		}
		if !deeper && !ct.Audited {
			b.nodes = b.nodes[:idx] // nothing audited this way: the RI trigger may do it
			continue
		}
		if len(ct.Key) == 0 {
			b.refused = "a foreign-key action changes rows of " + ct.Display + ", which has no primary key"
		}
		if ct.Unsupported != "" {
			b.refused = "a foreign-key action changes rows of " + ct.Display + ", which cannot be audited: " + ct.Unsupported
		}
		kept = true
	}
	if kept && len(b.nodes[i].t.Key) == 0 {
		b.refused = "a foreign-key action reaches audited tables from " + b.nodes[i].t.Display + ", which has no primary key"
	}
	return kept, nil
}

func intersects(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// pgUpsertFiresActions reports whether an upsert's DO UPDATE may change a
// column that a foreign key with an ON UPDATE action references.
func pgUpsertFiresActions(t *engine.TableInfo, sets []string) bool {
	for _, fk := range t.Children {
		if pgfk(&fk).UpdAction != 0 && intersects(fk.Parent, sets) {
			return true
		}
	}
	return false
}

// pgLockStatements lock, before the write, every row of the tree's source
// nodes that the write may change, one statement per depth of the tree,
// each with a fresh snapshot: once a row is locked its children can no
// longer change, so the next statement sees all of them. Each returns, by
// node, a JSON array of {"k": key, "r": the columns its children
// reference}. The first takes the caller's arguments its text uses
// (renumbered $1…, their numbers in args), the others the rows locked so far
// as $1.
func pgLockStatements(ex *pgExec, cs *pgCascade) (stmts []string, args []int) {
	depth := make([]int, len(cs.nodes))
	for i := 1; i < len(cs.nodes); i++ {
		depth[i] = depth[cs.nodes[i].parent] + 1
	}
	first, args := pgLockRoot(ex, cs)
	stmts = append(stmts, first)
	if cs.closure != nil {
		stmts = append(stmts, pgLockClosure(ex, cs))
	}
	for d := 1; ; d++ {
		var ctes, outs []string
		for i := 1; i < len(cs.nodes); i++ {
			if n := &cs.nodes[i]; depth[i] == d && n.source {
				cte, out := pgLockChild(cs, i)
				ctes, outs = append(ctes, cte), append(outs, out)
			}
		}
		if len(ctes) == 0 {
			return stmts, args
		}
		stmts = append(stmts, "WITH "+strings.Join(ctes, ", ")+" SELECT jsonb_build_object("+strings.Join(outs, ", ")+")::text")
	}
}

// pgLockEntry is the JSON entry of a locked row of node n (image img).
func pgLockEntry(cs *pgCascade, i int, img string) string {
	var refs []string
	if i == 0 && cs.closure != nil {
		for _, r := range cs.closure.Parent {
			l := sqlstmt.QuoteLiteral(r, true)
			refs = append(refs, l, img+"->"+l)
		}
	}
	for j := range cs.nodes {
		if cs.nodes[j].parent != i {
			continue
		}
		for _, r := range cs.nodes[j].fk.Parent {
			l := sqlstmt.QuoteLiteral(r, true)
			refs = append(refs, l, img+"->"+l)
		}
	}
	return "jsonb_build_object('k', " + pgRowKey(cs.nodes[i].t, img) + ", 'r', jsonb_build_object(" + strings.Join(refs, ", ") + "))"
}

// pgLockOut is the output of node i's locked rows (WITH query l).
func pgLockOut(cs *pgCascade, i int, l string) string {
	return "'" + strconv.Itoa(i) + "', (SELECT coalesce(jsonb_agg(" + pgLockEntry(cs, i, "_sqa_img") + "), '[]') FROM " + l + ")"
}

// pgLockRoot locks the rows the statement's own predicate selects.
func pgLockRoot(ex *pgExec, cs *pgCascade) (string, []int) {
	a, t := ex.Stmt, pgTarget(ex)
	var b strings.Builder
	b.WriteString("WITH ")
	if a.With != "" {
		b.WriteString(a.With + ", ")
	}
	where := ""
	if a.Where != "" {
		where = " WHERE " + a.Where
	}
	if a.From != "" {
		where = " WHERE EXISTS (SELECT 1 FROM " + a.From + where + ")"
	}
	b.WriteString("_sqa_l0 AS (SELECT to_jsonb(" + t.ref + ".*) AS _sqa_img FROM " + t.rel + where + " FOR UPDATE OF " + t.ref + ")")
	b.WriteString(" SELECT jsonb_build_object(" + pgLockOut(cs, 0, "_sqa_l0") + ")::text")
	return renumberParams(b.String())
}

// pgLockClosure locks the rows of the statement's table that reference the
// rows locked last ($1->'f') and are not locked yet ($1->'0'); pgLock runs
// it until it finds none, adding them to the root's rows, so that all
// descendants of the root's rows are locked before the write.
func pgLockClosure(ex *pgExec, cs *pgCascade) string {
	fk := cs.closure
	var match []string
	for j, col := range fk.Cols {
		match = append(match, "_sqa_t."+sqlstmt.QuoteIdent(col)+" = (_sqa_e.value->'r'->>"+sqlstmt.QuoteLiteral(fk.Parent[j], true)+")::"+pgfk(fk).Types[j])
	}
	rel := "ONLY " + fk.Table.Spelled()
	if pgfk(fk).Partitioned {
		rel = fk.Table.Spelled()
	}
	key := pgRowKey(ex.Table, "to_jsonb(_sqa_t.*)")
	return "WITH _sqa_lx AS (SELECT to_jsonb(_sqa_t.*) AS _sqa_img FROM " + rel + " AS _sqa_t LEFT JOIN jsonb_array_elements($1::jsonb->'0') AS _sqa_o ON _sqa_o.value->'k' = " + key +
		" WHERE _sqa_o.value IS NULL AND EXISTS (SELECT 1 FROM jsonb_array_elements($1::jsonb->'f') AS _sqa_e WHERE " + strings.Join(match, " AND ") +
		") FOR UPDATE OF _sqa_t) SELECT jsonb_build_object(" + pgLockOut(cs, 0, "_sqa_lx") + ")::text"
}

// pgLockChild locks node i's rows that reference its parent's locked rows.
func pgLockChild(cs *pgCascade, i int) (cte, out string) {
	n := &cs.nodes[i]
	var match []string
	for j, col := range n.fk.Cols {
		match = append(match, "_sqa_t."+sqlstmt.QuoteIdent(col)+" = (_sqa_e.value->'r'->>"+sqlstmt.QuoteLiteral(n.fk.Parent[j], true)+")::"+pgfk(n.fk).Types[j])
	}
	l := "_sqa_l" + strconv.Itoa(i)
	cte = l + " AS (SELECT to_jsonb(_sqa_t.*) AS _sqa_img FROM " + n.rel() + " AS _sqa_t WHERE EXISTS (SELECT 1 FROM jsonb_array_elements($1::jsonb->'" +
		strconv.Itoa(n.parent) + "') AS _sqa_e WHERE " + strings.Join(match, " AND ") + ") FOR UPDATE OF _sqa_t)"
	return cte, pgLockOut(cs, i, l)
}

// renumberParams renumbers the $n placeholders of q densely in order of
// first use and returns the original numbers: PostgreSQL cannot type a
// placeholder the text skips, and pgx wants exactly as many arguments as
// placeholders.
func renumberParams(q string) (string, []int) {
	var out strings.Builder
	var used []int
	at := map[int]int{}
	last := 0
	for _, tok := range sqlstmt.Lex(q, sqlstmt.StylePostgres) {
		if tok.Kind != sqlstmt.TokParam {
			continue
		}
		n, err := strconv.Atoi(q[tok.Start+1 : tok.End])
		if err != nil {
			continue
		}
		if at[n] == 0 {
			used = append(used, n)
			at[n] = len(used)
		}
		out.WriteString(q[last:tok.Start] + "$" + strconv.Itoa(at[n]))
		last = tok.End
	}
	out.WriteString(q[last:])
	return out.String(), used
}
