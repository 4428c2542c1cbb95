package odata_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/eventual-pp/eventual/odata"
)

func TestParseFilter(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"name eq 'x'", "(name eq 'x')"},
		{"lastname eq 'O''Bryan'", "(lastname eq 'O''Bryan')"},
		{"a eq 1 and b eq 2 or c eq 3", "(((a eq 1) and (b eq 2)) or (c eq 3))"},
		{"a eq 1 or b eq 2 and c eq 3", "((a eq 1) or ((b eq 2) and (c eq 3)))"},
		{"(a eq 1 or b eq 2) and c eq 3", "(((a eq 1) or (b eq 2)) and (c eq 3))"},
		{"not contains(name,'x')", "not (contains(name,'x'))"},
		{"not name eq 'x' and b ne null", "(not ((name eq 'x')) and (b ne null))"},
		{"revenue ne null", "(revenue ne null)"},
		{"revenue gt -5.25", "(revenue gt -5.25)"},
		{"revenue ge 1e3", "(revenue ge 1e3)"},
		{"_primarycontactid_value eq 5e3c0b7e-1f6a-4b43-9c1a-0c0e1d2f3a4b", "(_primarycontactid_value eq 5e3c0b7e-1f6a-4b43-9c1a-0c0e1d2f3a4b)"},
		{"createdon gt 2020-01-01T10:00:00Z", "(createdon gt 2020-01-01T10:00:00Z)"},
		{"birthdate eq 2020-01-01", "(birthdate eq 2020-01-01)"},
		{"primarycontactid/fullname eq 'a'", "(primarycontactid/fullname eq 'a')"},
		{"Account_Tasks/any(t:t/statecode eq 1)", "Account_Tasks/any(t:(t/statecode eq 1))"},
		{"Account_Tasks/any()", "Account_Tasks/any()"},
		{`Microsoft.Dynamics.CRM.In(PropertyName='lastname',PropertyValues=["OBrian","O'Brian"])`,
			`Microsoft.Dynamics.CRM.In(PropertyName='lastname',PropertyValues=["OBrian","O'Brian"])`},
		{"Microsoft.Dynamics.CRM.In(PropertyName=@p1,PropertyValues=@p2)", "Microsoft.Dynamics.CRM.In(PropertyName=@p1,PropertyValues=@p2)"},
		{"startswith(name, 'a') and endswith(name,'z')", "(startswith(name,'a') and endswith(name,'z'))"},
		{"firstname eq lastname", "(firstname eq lastname)"},
		{"creditonhold eq true", "(creditonhold eq true)"},
		{"amount eq 12.5M", "(amount eq 12.5)"},
	} {
		n, err := odata.ParseFilter(tc.in)
		if err != nil {
			t.Errorf("ParseFilter(%q): %v", tc.in, err)
			continue
		}
		if got := n.String(); got != tc.want {
			t.Errorf("ParseFilter(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestParseFilterErrors(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"lastname eq 'O'Bryan'", "There is an unterminated literal at position 21 in 'lastname eq 'O'Bryan''."},
		{"lastname eq 'abc", "There is an unterminated literal at position 16 in 'lastname eq 'abc'."},
		{"", "empty"},
		{"name eq", "Expression expected"},
		{"name eq 'a' and", "Expression expected"},
		{"(name eq 'a'", "')' expected"},
		{"name eq 'a')", "unexpected"},
		{"name foo 'a'", "')' or operator expected; 'foo' is not a supported operator at position 5"},
		{"a eq b eq c", "cannot be chained"},
		{"contains(name 'a')", "',' or ')' expected"},
		{"name eq #", "character '#' is not valid"},
		{`Microsoft.Dynamics.CRM.In(PropertyName='a',PropertyValues=['a' 'b'])`, "A comma character ',' was expected in scope 'Array'"},
		{"x eq 12abc", "not a valid number"},
		{"Account_Tasks/all()", "all() needs a lambda"},
		{strings.Repeat("(", 100) + "a eq 1" + strings.Repeat(")", 100), "nesting depth"},
		{strings.Repeat("a eq 1 or ", 3000) + "a eq 1", "more than"},
		// NUL and invalid UTF-8 in literals, raw or as JSON escapes.
		{"contains(name,'\x00')", "contains a NUL character or invalid UTF-8 at position 14"},
		{"name eq 'a\xffb'", "contains a NUL character or invalid UTF-8 at position 8"},
		{`Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=["a","\u0000"])`, "contains a NUL character or invalid UTF-8"},
		{"Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=[\"\xc0\xaf\"])", "contains a NUL character or invalid UTF-8"},
	} {
		_, err := odata.ParseFilter(tc.in)
		if err == nil {
			t.Errorf("ParseFilter(%q) succeeded, want error containing %q", tc.in, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseFilter(%q) error = %q, want it to contain %q", tc.in, err, tc.want)
		}
	}
}

// FuzzParseFilter checks that the parser never panics and that printing a
// parsed filter gives text that parses to the same tree.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		"name eq 'x'", "a eq 1 and (b ne null or not contains(c,'d'))",
		`Microsoft.Dynamics.CRM.In(PropertyName='a',PropertyValues=["x","y\"z"])`,
		"Account_Tasks/any(t:t/subject eq 'x')", "createdon ge 2020-01-01T00:00:00.5+01:00",
		"_x_value eq 00000000-0000-0000-0000-000000000001", "x eq -1.5e-3", "a eq @p1",
		"contains(name,'\x00')", "name eq 'x\xffy'", `a eq "\u0000"`, `Microsoft.Dynamics.CRM.In(PropertyName='a',PropertyValues=["\u0000"])`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := odata.ParseFilter(s)
		if err != nil {
			return
		}
		printed := n.String()
		if strings.IndexByte(printed, 0) >= 0 || !utf8.ValidString(printed) {
			t.Fatalf("ParseFilter(%q) accepted NUL or invalid UTF-8: %q", s, printed)
		}
		n2, err := odata.ParseFilter(printed)
		if err != nil {
			t.Fatalf("printed filter %q (from %q) does not parse: %v", printed, s, err)
		}
		if again := n2.String(); again != printed {
			t.Fatalf("round trip changed the filter: %q -> %q", printed, again)
		}
	})
}
