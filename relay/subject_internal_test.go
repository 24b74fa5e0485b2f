package relay

import "testing"

func TestTableSubjectKeepsDistinctTablesDistinctAndValid(t *testing.T) {
	for _, tc := range []struct{ table, want string }{
		{"orders", "orders"},
		{"billing.invoices", "billing.invoices"},
		{"order lines", "order%20lines"},
		{"a*b", "a%2Ab"},
		{"a>b", "a%3Eb"},
		{"a%b", "a%25b"},
		{"Ärger", "%C3%84rger"},
		{"x..y", "x.%00.y"},
	} {
		if got := tableSubject(tc.table); got != tc.want {
			t.Errorf("tableSubject(%q) = %q, want %q", tc.table, got, tc.want)
		}
	}
}

func TestSourceAndPrefixMustBeSubjectTokens(t *testing.T) {
	for _, tc := range []struct {
		source, prefix string
		ok             bool
	}{
		{"shop", "audit", true},
		{"shop-eu_1", "acme.audit", true},
		{"", "audit", false},
		{"a.b", "audit", false},
		{"shop", "audit.", false},
		{"sh op", "audit", false},
		{"shop", "au*dit", false},
	} {
		if err := checkNames(tc.source, tc.prefix); (err == nil) != tc.ok {
			t.Errorf("checkNames(%q, %q) = %v, want ok=%v", tc.source, tc.prefix, err, tc.ok)
		}
	}
}

func TestCoversTellsWhetherAStreamTakesTheSourcesSubjects(t *testing.T) {
	for _, tc := range []struct {
		filter, subjects string
		want             bool
	}{
		{"audit.>", "audit.shop.>", true},
		{">", "audit.shop.>", true},
		{"audit.shop.>", "audit.shop.>", true},
		{"audit.other.>", "audit.shop.>", false},
		{"audit.*", "audit.shop.>", false},
		{"other.>", "audit.shop.>", false},
	} {
		if got := covers(tc.filter, tc.subjects); got != tc.want {
			t.Errorf("covers(%q, %q) = %v", tc.filter, tc.subjects, got)
		}
	}
}
