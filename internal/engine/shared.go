package engine

import (
	"encoding/json"
	"strings"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/sqlaudit/sqlaudit/internal/sqlstmt"
)

// Shared is what every connection of one database shares: the dialect, the
// table filter, the audit and seal tables, and the caches that make the
// steady state cheap — statement analyses by text, plans by statement and
// catalog entry, and the catalog entries themselves (interned, so that
// connections that see the same table share one entry and its plans).
//
// The caches are bounded and evict the least recently used entry, so an
// application that builds statement texts with literals inside keeps its
// hot statements cached.
type Shared struct {
	Dialect   Dialect
	Filter    Filter
	AuditName string           // the audit table as configured
	AuditRef  sqlstmt.TableRef // the audit table as configured
	Audit     string           // the audit table, quoted for SQL
	SealRef   sqlstmt.TableRef // the seal table: the audit table's name + "_seal"
	Seal      string           // the seal table, quoted for SQL

	analyses *lru.Cache[string, *sqlstmt.Analysis]
	plans    *lru.Cache[PlanKey, any]
	tables   *lru.Cache[string, *TableInfo]
	ddlGen   atomic.Uint64 // moves on with every DDL statement: catalogs are stale
}

// Cache sizes: distinct statement texts, plans, and catalog entries.
const (
	MaxAnalyses = 4096
	MaxPlans    = 4096
	maxTables   = 1024
)

// NewShared returns the shared state of a database audited by d into the
// audit table named table (optionally schema-qualified).
func NewShared(d Dialect, f Filter, table string) *Shared {
	sh := &Shared{Dialect: d, Filter: f, AuditName: table}
	if i := strings.LastIndexByte(table, '.'); i >= 0 {
		sh.AuditRef = sqlstmt.TableRef{Schema: table[:i], Name: table[i+1:]}
	} else {
		sh.AuditRef = sqlstmt.TableRef{Name: table}
	}
	sh.SealRef = sqlstmt.TableRef{Schema: sh.AuditRef.Schema, Name: sh.AuditRef.Name + "_seal"}
	sh.Audit, sh.Seal = sh.quote(sh.AuditRef), sh.quote(sh.SealRef)
	sh.analyses, _ = lru.New[string, *sqlstmt.Analysis](MaxAnalyses)
	sh.plans, _ = lru.New[PlanKey, any](MaxPlans)
	sh.tables, _ = lru.New[string, *TableInfo](maxTables)
	return sh
}

// Qualify names the audit and seal tables in schema from now on. The
// wrapper calls it on the database's first connection, before any other
// exists, so no connection ever sees the names change.
func (sh *Shared) Qualify(schema string) {
	sh.AuditRef.Schema, sh.SealRef.Schema = schema, schema
	sh.Audit, sh.Seal = sh.quote(sh.AuditRef), sh.quote(sh.SealRef)
}

func (sh *Shared) quote(r sqlstmt.TableRef) string {
	if r.Schema != "" {
		return sh.Dialect.Ident(r.Schema) + "." + sh.Dialect.Ident(r.Name)
	}
	return sh.Dialect.Ident(r.Name)
}

// Analysis returns the cached analysis of q, analysing it on a miss. A hit
// allocates nothing.
func (sh *Shared) Analysis(q string) *sqlstmt.Analysis {
	if a, ok := sh.analyses.Get(q); ok {
		return a
	}
	a := sh.Dialect.Analyse(q)
	if prev, found, _ := sh.analyses.PeekOrAdd(q, a); found {
		return prev // another connection analysed it first: one analysis per text
	}
	return a
}

// Analyses is the number of cached analyses.
func (sh *Shared) Analyses() int { return sh.analyses.Len() }

// Plan returns the cached plan for key, building it on a miss.
func (sh *Shared) Plan(key PlanKey, build func() any) any {
	if p, ok := sh.plans.Get(key); ok {
		return p
	}
	p := build()
	if prev, found, _ := sh.plans.PeekOrAdd(key, p); found {
		return prev
	}
	return p
}

// Plans is the number of cached plans.
func (sh *Shared) Plans() int { return sh.plans.Len() }

// DDLRan notes DDL sent through any connection: every catalog is stale.
func (sh *Shared) DDLRan() { sh.ddlGen.Add(1) }

// Generation moves on with every DDL statement sent through the wrapper.
func (sh *Shared) Generation() uint64 { return sh.ddlGen.Load() }

// intern returns the one shared entry with t's contents. Entries are
// immutable, and a connection's view of a table is all in its entry, so
// equal entries are interchangeable.
func (sh *Shared) intern(t *TableInfo) *TableInfo {
	b, err := json.Marshal(t)
	if err != nil {
		return t // cannot tell it apart: keep it to this connection
	}
	if prev, found, _ := sh.tables.PeekOrAdd(string(b), t); found {
		return prev
	}
	return t
}
