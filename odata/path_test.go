package odata_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/eventual-pp/eventual/odata"
)

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"accounts", []string{"accounts"}},
		{"/accounts/", []string{"accounts"}},
		{"accounts(5e3c0b7e-1f6a-4b43-9c1a-0c0e1d2f3a4b)", []string{"accounts(5e3c0b7e-1f6a-4b43-9c1a-0c0e1d2f3a4b)"}},
		{"accounts(accountid=5e3c0b7e-1f6a-4b43-9c1a-0c0e1d2f3a4b)/name", []string{"accounts(accountid=5e3c0b7e-1f6a-4b43-9c1a-0c0e1d2f3a4b)", "name"}},
		{"accounts(accountnumber='A1')", []string{"accounts(accountnumber='A1')"}},
		{"accounts(accountnumber='A%2F1')/primarycontactid/$ref", []string{"accounts(accountnumber='A/1')", "primarycontactid", "$ref"}},
		{"accounts(accountnumber='a/b')", []string{"accounts(accountnumber='a/b')"}},
		{"accounts(accountnumber=%27O''Neil%27)", []string{"accounts(accountnumber='O''Neil')"}},
		{"contacts(firstname='Joe',emailaddress1='abc%40example.com')", []string{"contacts(firstname='Joe',emailaddress1='abc@example.com')"}},
		{"example_records(example_key1=2,example_key2=2)", []string{"example_records(example_key1=2,example_key2=2)"}},
		{"WhoAmI()", []string{"WhoAmI()"}},
		{"$metadata", []string{"$metadata"}},
		{"accounts/$count", []string{"accounts", "$count"}},
		{"EntityDefinitions(LogicalName='account')/Attributes", []string{"EntityDefinitions(LogicalName='account')", "Attributes"}},
		{"accounts(accountnumber='a,b)c')", []string{"accounts(accountnumber='a,b)c')"}},
	} {
		segs, err := odata.ParsePath(tc.in)
		if err != nil {
			t.Errorf("ParsePath(%q): %v", tc.in, err)
			continue
		}
		var got []string
		for _, s := range segs {
			got = append(got, s.String())
		}
		if strings.Join(got, " | ") != strings.Join(tc.want, " | ") {
			t.Errorf("ParsePath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParsePathErrors(t *testing.T) {
	for _, in := range []string{
		"accounts(", "accounts(accountnumber='A1'", "accounts(accountnumber='A1')x",
		"accounts(accountnumber=)", "accounts(a=1,2)", "accounts//name", "accounts(%zz)",
		"accounts(accountnumber='abc)", ")", strings.Repeat("a/", 40),
		// NUL and invalid UTF-8, escaped and raw, in keys and names.
		"accounts(accountnumber='a%00b')", "accounts(accountnumber='x%FFy')", "accounts(accountnumber='a\x00b')",
		"accounts(accountnumber='\xff')", "accounts(accountnumber=%27%C0%AF%27)", "acc%00ounts", "acc%FFounts",
		"contacts(firstname='Joe',emailaddress1='a%00')", "f(p=@p1)/x%00",
	} {
		if segs, err := odata.ParsePath(in); err == nil {
			t.Errorf("ParsePath(%q) = %v, want an error", in, segs)
		}
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{
		"accounts(5e3c0b7e-1f6a-4b43-9c1a-0c0e1d2f3a4b)/name", "contacts(firstname='Joe',emailaddress1='x')",
		"accounts(accountnumber='A%2F1')/primarycontactid/$ref", "WhoAmI()", "f(p={'@odata.id':'contacts(1)'})",
		"x(PropertyValues=[\"a\",1])",
		"accounts(accountnumber='a%00b')", "accounts(accountnumber='x%FFy')", "accounts(accountnumber='a\x00b')",
		"x(PropertyValues=[\"\\u0000\"])", "acc\xffounts",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		segs, err := odata.ParsePath(s)
		if err != nil {
			return
		}
		for _, seg := range segs {
			printed := seg.String()
			if strings.IndexByte(printed, 0) >= 0 || !utf8.ValidString(printed) {
				t.Fatalf("ParsePath(%q) accepted NUL or invalid UTF-8: %q", s, printed)
			}
			again, err := odata.ParseSegment(printed)
			if err != nil {
				t.Fatalf("segment %q printed as %q does not parse: %v", s, printed, err)
			}
			if again.String() != printed {
				t.Fatalf("round trip changed the segment: %q -> %q", printed, again.String())
			}
		}
	})
}
