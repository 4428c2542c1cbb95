package codec_test

import (
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/codec"
	"github.com/eventual-pp/eventual/odata"
)

// literal parses "x eq <text>" and returns its right operand.
func literal(t testing.TB, text string) *odata.Literal {
	t.Helper()
	n, err := odata.ParseFilter("x eq " + text)
	if err != nil {
		t.Fatalf("ParseFilter(%q): %v", text, err)
	}
	l, ok := n.(*odata.Binary).Right.(*odata.Literal)
	if !ok {
		t.Fatalf("%q is not a literal", text)
	}
	return l
}

// TestLiteralValue: URL literals to column values, with Dataverse's
// messages for the ones that do not fit.
func TestLiteralValue(t *testing.T) {
	for _, tc := range []struct {
		column, text string
		want         any
		err          string
	}{
		{"new_name", "'it''s'", "it's", ""},
		{"new_name", "1", nil, "A binary operator with incompatible types was detected. Found operand types 'Edm.String' and 'Edm.Int32' for operator kind 'Equal'."},
		{"new_quantity", "1.5", nil, "A binary operator with incompatible types was detected. Found operand types 'Edm.Int32' and 'Edm.Decimal' for operator kind 'Equal'."},
		{"new_sequence", "9007199254740993", int64(9007199254740993), ""},
		{"new_unitprice", "12.34565", eventual.Decimal{Units: 123457, Scale: 4}, ""},
		{"new_amount", "1e30", nil, "The literal '1e30' is not a valid Edm.Decimal value: 1000000000000000000000000000000.0000 is out of range."},
		{"new_weight", "1e999", nil, "The literal '1e999' is not a valid Edm.Double value: strconv.ParseFloat: parsing \"1e999\": value out of range."},
		{"new_shipped", "true", true, ""},
		{"new_orderdate", "'2024-01-01'", nil, "A binary operator with incompatible types was detected. Found operand types 'Edm.DateTimeOffset' and 'Edm.String' for operator kind 'Equal'."},
		{"new_externalid", "'x'", nil, "A binary operator with incompatible types was detected. Found operand types 'Edm.Guid' and 'Edm.String' for operator kind 'Equal'."},
		{"new_customer", "'11111111-2222-3333-4444-555555555555'", nil, ""},
		{"new_name", "null", nil, ""},
	} {
		got, err := codec.LiteralValue(col(t, "new_order", tc.column), literal(t, tc.text))
		if tc.err != "" {
			if _, ok := err.(*codec.LiteralError); !ok || err.Error() != tc.err {
				t.Errorf("%s %s: got %v, %v; want %q", tc.column, tc.text, got, err, tc.err)
			}
			continue
		}
		if err != nil || (tc.want != nil && !eventual.EqualValues(got, tc.want)) {
			t.Errorf("%s %s: got %#v, %v; want %#v", tc.column, tc.text, got, err, tc.want)
		}
	}
}
