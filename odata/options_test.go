package odata_test

import (
	"strings"
	"testing"

	"github.com/eventual-pp/eventual/odata"
)

func TestParseOptions(t *testing.T) {
	o, err := odata.ParseOptions("$select=name,revenue&$filter=name%20eq%20%27a%27&$orderby=revenue%20desc,name&$top=5&$count=true" +
		"&$expand=primarycontactid($select=fullname),contact_customer_accounts($select=fullname;$filter=statecode%20eq%200;$top=3)&@p1=%27x%27&other=1")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(o.Select, ","), "name,revenue"; got != want {
		t.Errorf("Select = %q, want %q", got, want)
	}
	if o.Filter == nil || o.Filter.String() != "(name eq 'a')" {
		t.Errorf("Filter = %v", o.Filter)
	}
	if len(o.OrderBy) != 2 || !o.OrderBy[0].Desc || o.OrderBy[1].Desc || o.OrderBy[1].Path[0] != "name" {
		t.Errorf("OrderBy = %+v", o.OrderBy)
	}
	if o.Top == nil || *o.Top != 5 || !o.Count {
		t.Errorf("Top = %v, Count = %v", o.Top, o.Count)
	}
	if len(o.Expand) != 2 || o.Expand[0].Path != "primarycontactid" || o.Expand[1].Options.Top == nil || *o.Expand[1].Options.Top != 3 {
		t.Fatalf("Expand = %+v", o.Expand)
	}
	if o.Expand[1].Options.Filter.String() != "(statecode eq 0)" {
		t.Errorf("nested filter = %s", o.Expand[1].Options.Filter)
	}
	if o.Aliases["@p1"] != "'x'" {
		t.Errorf("Aliases = %v", o.Aliases)
	}
}

func TestParseOptionsErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"$foo=1", "The query parameter '$foo' is not supported."},
		{"$Filter=a eq 1", "case-sensitive"},
		{"$top=-1", "non-negative integer"},
		{"$top=abc", "non-negative integer"},
		{"$top=1&$top=2", "more than once"},
		{"$orderby=name sideways", "expected 'asc' or 'desc'"},
		{"$select=na me", "not a valid property name"},
		{"$expand=a($count=true)", "not supported inside $expand"},
		{"$expand=a(", "not valid"},
		{"$count=yes", "not a valid count option"},
		{"$filter=a eq", "Expression expected"},
		{"$expand=" + strings.Repeat("a($expand=", 7) + "b" + strings.Repeat(")", 7), "nested more than"},
		{"$filter=contains(name,'%00')", "The query option '$filter' contains a NUL character or invalid UTF-8."},
		{"$filter=name%20eq%20'x%FFy'", "contains a NUL character or invalid UTF-8"},
		{"$skiptoken=%00", "The query option '$skiptoken' contains a NUL character"},
		{"@p1='%00'", "The query option '@p1' contains a NUL character"},
		{"%24sel%00ect=name", "The query option '$sel%00ect' contains a NUL character"},
		{"cachebuster=%FF", "contains a NUL character or invalid UTF-8"},
	} {
		_, err := odata.ParseOptions(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseOptions(%q) error = %v, want it to contain %q", tc.in, err, tc.want)
		}
	}
}
