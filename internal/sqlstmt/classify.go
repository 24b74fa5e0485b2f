package sqlstmt

import (
	"slices"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// This file maps a parse tree to an analysis: which statements are audited
// writes, which pass through, and which writes are refused and why.

func rangeVar(rv *pg.RangeVar) TableRef {
	t := TableRef{Schema: rv.Schemaname, Name: rv.Relname, Only: !rv.Inh}
	if rv.Alias != nil {
		t.Alias = rv.Alias.Aliasname
	}
	return t
}

// classify maps a parse tree to what the wrapper does with it.
func classify(n *pg.Node, q string) *Analysis {
	a := &Analysis{Text: q}
	switch s := n.Node.(type) {
	case *pg.Node_InsertStmt:
		return classifyInsert(a, s.InsertStmt)
	case *pg.Node_UpdateStmt:
		return classifyUpdate(a, s.UpdateStmt)
	case *pg.Node_DeleteStmt:
		return classifyDelete(a, s.DeleteStmt)
	case *pg.Node_SelectStmt:
		if s.SelectStmt.IntoClause != nil {
			a.Kind = DDL
		}
	case *pg.Node_VariableSetStmt, *pg.Node_DiscardStmt:
		a.ResetsSession = true
	case *pg.Node_TransactionStmt:
		switch s.TransactionStmt.Kind {
		case pg.TransactionStmtKind_TRANS_STMT_SAVEPOINT, pg.TransactionStmtKind_TRANS_STMT_RELEASE,
			pg.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO:
		case pg.TransactionStmtKind_TRANS_STMT_BEGIN, pg.TransactionStmtKind_TRANS_STMT_START:
			a.Kind, a.EndsTx, a.BeginsTx = TxControl, true, true
		default:
			// COMMIT AND CHAIN and ROLLBACK AND CHAIN begin the next one at once.
			a.Kind, a.EndsTx, a.BeginsTx = TxControl, true, s.TransactionStmt.Chain
		}
	case *pg.Node_MergeStmt:
		return classifyMerge(a, s.MergeStmt)
	case *pg.Node_TruncateStmt:
		return classifyTruncate(a, s.TruncateStmt)
	case *pg.Node_CopyStmt:
		if s.CopyStmt.IsFrom {
			return classifyCopy(q, s.CopyStmt)
		}
	case *pg.Node_ExecuteStmt:
		return Refused(q, "EXECUTE of a server-side prepared statement cannot be analysed")
	case *pg.Node_DoStmt:
		return Refused(q, "a DO block runs code whose writes the wrapper cannot see; send its statements from the application")
	case *pg.Node_CallStmt:
		return Refused(q, "CALL runs a procedure whose writes the wrapper cannot see; send its statements from the application")
	case *pg.Node_PrepareStmt:
		if containsWrite(n.ProtoReflect()) {
			return Refused(q, "PREPARE of a write: its EXECUTE could not be audited")
		}
	case *pg.Node_ExplainStmt:
		if explainAnalyzesWrite(s.ExplainStmt) {
			return Refused(q, "EXPLAIN ANALYZE executes the write")
		}
		return a // a plain EXPLAIN runs nothing
	case *pg.Node_RuleStmt:
		a.Kind = DDL
		return a // the rule's actions run later, as part of statements on its table
	case *pg.Node_DropStmt:
		a.Kind, a.Tables = DDL, droppedTables(s.DropStmt)
	case *pg.Node_CreateStmt, *pg.Node_AlterTableStmt, *pg.Node_RenameStmt,
		*pg.Node_IndexStmt, *pg.Node_CreateTableAsStmt, *pg.Node_ViewStmt, *pg.Node_CreateSchemaStmt,
		*pg.Node_CreateTrigStmt, *pg.Node_CreateFunctionStmt, *pg.Node_CompositeTypeStmt,
		*pg.Node_CreateEnumStmt, *pg.Node_CreateDomainStmt, *pg.Node_AlterDomainStmt:
		a.Kind = DDL
	}
	// A write can hide inside anything else: a data-modifying WITH query in
	// a SELECT or CREATE TABLE AS, COPY (DELETE … RETURNING) TO, PREPARE.
	if containsWrite(n.ProtoReflect()) {
		return Refused(q, "an INSERT, UPDATE, DELETE or MERGE inside the statement (a data-modifying WITH query, COPY (…) TO, CREATE TABLE AS …)")
	}
	return a
}

// writeNodes are the parse-tree messages of statements that change rows.
var writeNodes = map[protoreflect.FullName]bool{
	"pg_query.InsertStmt": true, "pg_query.UpdateStmt": true, "pg_query.DeleteStmt": true, "pg_query.MergeStmt": true,
}

// containsWrite reports whether the tree below m holds a write statement.
func containsWrite(m protoreflect.Message) bool {
	found := false
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Kind() != protoreflect.MessageKind:
		case fd.IsList():
			for i := 0; i < v.List().Len() && !found; i++ {
				found = isOrHasWrite(v.List().Get(i).Message())
			}
		case !fd.IsMap():
			found = isOrHasWrite(v.Message())
		}
		return !found
	})
	return found
}

func isOrHasWrite(m protoreflect.Message) bool {
	return writeNodes[m.Descriptor().FullName()] || containsWrite(m)
}

func hasWritingCTE(w *pg.WithClause) bool {
	if w == nil {
		return false
	}
	for _, c := range w.Ctes {
		switch c.GetCommonTableExpr().GetCtequery().GetNode().(type) {
		case *pg.Node_InsertStmt, *pg.Node_UpdateStmt, *pg.Node_DeleteStmt, *pg.Node_MergeStmt:
			return true
		}
	}
	return false
}

func explainAnalyzesWrite(e *pg.ExplainStmt) bool {
	switch e.Query.GetNode().(type) {
	case *pg.Node_SelectStmt:
		if !hasWritingCTE(e.Query.GetSelectStmt().WithClause) {
			return false
		}
	case *pg.Node_InsertStmt, *pg.Node_UpdateStmt, *pg.Node_DeleteStmt, *pg.Node_MergeStmt, *pg.Node_ExecuteStmt:
	default:
		if !containsWrite(e.Query.ProtoReflect()) {
			return false
		}
	}
	for _, o := range e.Options {
		if d := o.GetDefElem(); d != nil && strings.EqualFold(d.Defname, "analyze") {
			return optionIsTrue(d.Arg)
		}
	}
	return false
}

// optionIsTrue reads a boolean EXPLAIN option: absent means true; the parser
// gives it as a Boolean, a String ("false", "off") or an Integer.
func optionIsTrue(arg *pg.Node) bool {
	switch {
	case arg == nil:
		return true
	case arg.GetBoolean() != nil:
		return arg.GetBoolean().Boolval
	case arg.GetInteger() != nil:
		return arg.GetInteger().Ival != 0
	case arg.GetString_() != nil:
		switch strings.ToLower(arg.GetString_().Sval) {
		case "false", "off", "0", "no":
			return false
		}
	}
	return true
}

// classifyCopy marks the one COPY … FROM form that is audited: lib/pq's
// CopyIn, COPY t [(cols)] FROM STDIN without options, prepared (the PostgreSQL dialect's copy.go).
// Run any other way, or in any other form, it stays refused.
func classifyCopy(q string, s *pg.CopyStmt) *Analysis {
	a := Refused(q, "COPY … FROM (only lib/pq's CopyIn, COPY t (cols) FROM STDIN prepared in a transaction, is audited)", rangeVar(s.Relation))
	if s.Filename == "" && !s.IsProgram && len(s.Options) == 0 && s.WhereClause == nil && s.Relation != nil {
		a.CopyIn, a.Table = true, rangeVar(s.Relation)
		for _, n := range s.Attlist {
			a.CopyColumns = append(a.CopyColumns, n.GetString_().GetSval())
		}
	}
	return a
}

// classifyTruncate audits TRUNCATE of one table as the DELETE of every row
// (each removed row recorded); the forms whose effects reach further are
// refused.
func classifyTruncate(a *Analysis, s *pg.TruncateStmt) *Analysis {
	var ts []TableRef
	for _, r := range s.Relations {
		ts = append(ts, rangeVar(r.GetRangeVar()))
	}
	if s.Behavior == pg.DropBehavior_DROP_CASCADE {
		return Refused(a.Text, "TRUNCATE … CASCADE (it empties the referencing tables too)")
	}
	if len(ts) != 1 || s.RestartSeqs {
		return Refused(a.Text, "TRUNCATE of several tables or with RESTART IDENTITY", ts...)
	}
	a.Kind, a.Table, a.Truncate = Delete, ts[0], true
	return a
}

func classifyInsert(a *Analysis, s *pg.InsertStmt) *Analysis {
	a.Table = rangeVar(s.Relation)
	a.Table.Only = false
	switch {
	case hasWritingCTE(s.WithClause):
		return Refused(a.Text, "a data-modifying WITH query")
	case s.OnConflictClause != nil && s.OnConflictClause.Action == pg.OnConflictAction_ONCONFLICT_UPDATE:
		a.Upsert, a.treeConflictWhere = true, s.OnConflictClause.WhereClause != nil
		for _, t := range s.OnConflictClause.TargetList {
			a.SetColumns = append(a.SetColumns, t.GetResTarget().GetName())
		}
	case s.OnConflictClause != nil:
		a.OrIgnore = true
	}
	a.Kind, a.treeReturning, a.treeWith = Insert, len(s.ReturningList) > 0, s.WithClause != nil
	return a
}

func classifyUpdate(a *Analysis, s *pg.UpdateStmt) *Analysis {
	a.Table = rangeVar(s.Relation)
	switch {
	case hasWritingCTE(s.WithClause):
		return Refused(a.Text, "a data-modifying WITH query")
	case s.WhereClause.GetCurrentOfExpr() != nil:
		return Refused(a.Text, "UPDATE … WHERE CURRENT OF", a.Table)
	}
	for _, t := range s.TargetList {
		a.SetColumns = append(a.SetColumns, t.GetResTarget().GetName())
	}
	a.Kind, a.treeWhere, a.treeReturning = Update, s.WhereClause != nil, len(s.ReturningList) > 0
	a.ReturningStar = hasBareStar(s.ReturningList)
	a.treeWith, a.treeFrom = s.WithClause != nil, len(s.FromClause) > 0
	if len(s.FromClause) > 0 {
		for _, n := range append(s.FromClause, s.WhereClause) {
			a.JoinFunctions = appendFunctions(a.JoinFunctions, n.ProtoReflect())
		}
	}
	return a
}

// appendFunctions adds the names of the functions called below m (the last
// part of a qualified name, lower-case as unquoted names fold), each once.
func appendFunctions(names []string, m protoreflect.Message) []string {
	if fc, ok := m.Interface().(*pg.FuncCall); ok && len(fc.Funcname) > 0 {
		name := fc.Funcname[len(fc.Funcname)-1].GetString_().GetSval()
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Kind() != protoreflect.MessageKind:
		case fd.IsList():
			for i := 0; i < v.List().Len(); i++ {
				names = appendFunctions(names, v.List().Get(i).Message())
			}
		case !fd.IsMap():
			names = appendFunctions(names, v.Message())
		}
		return true
	})
	return names
}

// classifyMerge reads a MERGE: audited where the server returns the rows
// it changes with their old and new values (PostgreSQL 18's RETURNING OLD
// and NEW), refused by the dialect elsewhere.
func classifyMerge(a *Analysis, s *pg.MergeStmt) *Analysis {
	a.Table = rangeVar(s.Relation)
	if hasWritingCTE(s.WithClause) {
		return Refused(a.Text, "a data-modifying WITH query")
	}
	a.Kind, a.treeReturning, a.treeWith = Merge, len(s.ReturningList) > 0, s.WithClause != nil
	a.ReturningStar = hasBareStar(s.ReturningList)
	return a
}

func classifyDelete(a *Analysis, s *pg.DeleteStmt) *Analysis {
	a.Table = rangeVar(s.Relation)
	switch {
	case hasWritingCTE(s.WithClause):
		return Refused(a.Text, "a data-modifying WITH query")
	case s.WhereClause.GetCurrentOfExpr() != nil:
		return Refused(a.Text, "DELETE … WHERE CURRENT OF", a.Table)
	}
	a.Kind, a.treeWhere, a.treeReturning = Delete, s.WhereClause != nil, len(s.ReturningList) > 0
	a.ReturningStar = hasBareStar(s.ReturningList)
	a.treeWith, a.treeFrom = s.WithClause != nil, len(s.UsingClause) > 0
	return a
}

// droppedTables names the tables a DROP TABLE removes: on SQLite dropping a
// table deletes its rows first, firing foreign-key actions.
func droppedTables(s *pg.DropStmt) []TableRef {
	if s.RemoveType != pg.ObjectType_OBJECT_TABLE {
		return nil
	}
	var out []TableRef
	for _, o := range s.Objects {
		var parts []string
		for _, n := range o.GetList().GetItems() {
			parts = append(parts, n.GetString_().GetSval())
		}
		switch len(parts) {
		case 1:
			out = append(out, TableRef{Name: parts[0]})
		case 2:
			out = append(out, TableRef{Schema: parts[0], Name: parts[1]})
		}
	}
	return out
}

// hasBareStar reports an unqualified * in a RETURNING list.
func hasBareStar(list []*pg.Node) bool {
	for _, n := range list {
		if f := n.GetResTarget().GetVal().GetColumnRef().GetFields(); len(f) == 1 && f[0].GetAStar() != nil {
			return true
		}
	}
	return false
}
