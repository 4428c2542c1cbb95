package odata_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/eventual-pp/eventual/odata"
)

// TestParseApply: the transformations Dataverse supports, and the
// refusals of what it does not.
func TestParseApply(t *testing.T) {
	a, err := odata.ParseApply("filter(name eq 'a/b(c)' and revenue gt 1)/groupby((statecode, _parentaccountid_value),aggregate(revenue with sum as total,$count as n))")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Filters) != 1 || a.Filters[0].String() != "((name eq 'a/b(c)') and (revenue gt 1))" || !a.Grouped ||
		!reflect.DeepEqual(a.GroupBy, []string{"statecode", "_parentaccountid_value"}) ||
		!reflect.DeepEqual(a.Aggregates, []odata.Aggregation{{Path: "revenue", Method: "sum", Alias: "total"}, {Count: true, Alias: "n"}}) {
		t.Errorf("parsed %+v (filter %v)", a, a.Filters)
	}
	if a, err := odata.ParseApply("aggregate(revenue with average as avg)"); err != nil || a.Grouped || len(a.Aggregates) != 1 {
		t.Errorf("aggregate alone: %+v %v", a, err)
	}
	if a, err := odata.ParseApply("groupby((name))"); err != nil || !a.Grouped || a.Aggregates != nil {
		t.Errorf("groupby alone: %+v %v", a, err)
	}
	for _, tc := range []struct{ src, part string }{
		{"", "empty"},
		{"groupby((name))/filter(name eq 'x')", "last one"},
		{"aggregate(revenue with sum)", "not valid"},
		{"aggregate(revenue with sum as t", "unbalanced"},
		{"groupby(name)", "parenthesized"},
		{"groupby((name),filter(x eq 1))", "aggregate"},
		{"topcount(5,revenue)", "not supported"},
		{"filter(name eq)", ""},
		{"aggregate($count as n)/", "ends with"},
		{"aggregate($count as n) x", "separated"},
	} {
		if _, err := odata.ParseApply(tc.src); err == nil || !strings.Contains(err.Error(), tc.part) {
			t.Errorf("ParseApply(%q) = %v, want an error mentioning %q", tc.src, err, tc.part)
		}
	}
}

// FuzzParseApply: any text parses or fails with an error, never a panic,
// and what parses names properties and aliases only.
func FuzzParseApply(f *testing.F) {
	for _, s := range []string{"aggregate($count as n)", "filter(a eq 'x)')/groupby((a,b),aggregate(c with sum as d))", "groupby((a))", "aggregate(a with countdistinct as b, $count as c)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := odata.ParseApply(s)
		if err != nil {
			return
		}
		for _, g := range a.GroupBy {
			if g == "" || strings.ContainsAny(g, "() ,") {
				t.Fatalf("ParseApply(%q): group-by path %q", s, g)
			}
		}
		for _, x := range a.Aggregates {
			if x.Alias == "" || strings.ContainsAny(x.Alias, "() ,/") {
				t.Fatalf("ParseApply(%q): alias %q", s, x.Alias)
			}
		}
	})
}
