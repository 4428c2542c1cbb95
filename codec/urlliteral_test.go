package codec_test

import (
	"math"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/codec"
	"github.com/google/uuid"
)

// roundTrip formats v as a literal for c, parses it as $filter does and
// converts it back with LiteralValue, as the server would.
func roundTrip(t testing.TB, c *eventual.Column, v any) (string, any) {
	t.Helper()
	text, err := codec.FormatLiteral(c, v)
	if err != nil {
		t.Fatalf("FormatLiteral(%s, %#v): %v", c.LogicalName, v, err)
	}
	got, err := codec.LiteralValue(c, literal(t, text))
	if err != nil {
		t.Fatalf("LiteralValue(%s, %s): %v", c.LogicalName, text, err)
	}
	return text, got
}

// TestFormatLiteral: the literal of each type, and that the server's
// parsing reads it back to the value.
func TestFormatLiteral(t *testing.T) {
	id := uuid.MustParse("11111111-2222-3333-4444-555555555555")
	accounts := schema.Table("account")
	for _, tc := range []struct {
		table, column string
		v             any
		text          string
	}{
		{"new_order", "new_name", "it's", "'it''s'"},
		{"new_order", "new_name", "", "''"},
		{"new_order", "new_quantity", int64(-3), "-3"},
		{"new_order", "new_sequence", int64(math.MaxInt64), "9223372036854775807"},
		{"new_order", "new_unitprice", eventual.Decimal{Units: -5, Scale: 4}, "-0.0005"},
		{"new_order", "new_weight", 1e21, "1e+21"},
		{"new_order", "new_weight", 0.1, "0.1"},
		{"new_order", "new_shipped", false, "false"},
		{"new_order", "new_orderdate", time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC), "2024-05-06T07:08:09Z"},
		{"contact", "birthdate", time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC), "2024-05-06"},
		{"new_order", "new_externalid", id, id.String()},
		{"new_order", "new_customer", eventual.Ref(accounts, id), id.String()},
		{"new_order", "new_stage", int64(100000001), "100000001"},
		{"new_order", "new_name", nil, "null"},
	} {
		c := col(t, tc.table, tc.column)
		text, got := roundTrip(t, c, tc.v)
		if text != tc.text {
			t.Errorf("FormatLiteral(%s, %#v) = %s, want %s", tc.column, tc.v, text, tc.text)
		}
		want := tc.v
		if ref, ok := want.(eventual.EntityReference); ok {
			want = ref.ID // a lookup's literal is its GUID
		}
		if !eventual.EqualValues(got, want) {
			t.Errorf("%s: %s reads back as %#v, want %#v", tc.column, text, got, want)
		}
	}
}

func TestFormatLiteralRejects(t *testing.T) {
	for _, tc := range []struct {
		column string
		v      any
	}{
		{"new_name", 1}, {"new_quantity", 1}, {"new_weight", math.NaN()}, {"new_weight", math.Inf(1)},
		{"new_externalid", eventual.EntityReference{}}, {"new_amount", 1.5}, {"new_shipped", "true"},
	} {
		if text, err := codec.FormatLiteral(col(t, "new_order", tc.column), tc.v); err == nil {
			t.Errorf("FormatLiteral(%s, %#v) = %s, want an error", tc.column, tc.v, text)
		}
	}
}

// FuzzLiteralRoundTrip: every value FormatLiteral formats reads back, by
// odata.ParseFilter and LiteralValue, to the same value.
func FuzzLiteralRoundTrip(f *testing.F) {
	f.Add("it's", int64(42), 2.5, true, int64(-12345), int64(0), []byte("0123456789abcdef"))
	f.Add("", int64(math.MinInt64), 1e-7, false, int64(math.MaxInt64), int64(253402300799), []byte{})
	f.Add("''' eq 'x", int64(-1), -0.0, true, int64(5), int64(-6847804800), []byte{0xff})
	f.Add("héllo\u2028 ~!*()", int64(7), math.MaxFloat64, false, int64(0), int64(1700000000), []byte("x"))
	cols := map[string]*eventual.Column{}
	for _, n := range []string{"new_name", "new_sequence", "new_unitprice", "new_weight", "new_shipped", "new_orderdate", "new_externalid"} {
		cols[n] = col(f, "new_order", n)
	}
	birthdate := col(f, "contact", "birthdate")
	f.Fuzz(func(t *testing.T, s string, n int64, x float64, b bool, units, secs int64, raw []byte) {
		var id uuid.UUID
		copy(id[:], raw)
		const minSec, maxSec = -6847804800, 253402300799 // 1753-01-01 and 9999-12-31T23:59:59
		when := time.Unix(minSec+int64(uint64(secs)%uint64(maxSec-minSec+1)), 0).UTC()
		cases := []struct {
			c *eventual.Column
			v any
		}{
			{cols["new_sequence"], n},
			{cols["new_unitprice"], eventual.Decimal{Units: units, Scale: cols["new_unitprice"].Precision}},
			{cols["new_shipped"], b},
			{cols["new_orderdate"], when},
			{birthdate, time.Date(when.Year(), when.Month(), when.Day(), 0, 0, 0, 0, time.UTC)},
			{cols["new_externalid"], id},
		}
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			cases = append(cases, struct {
				c *eventual.Column
				v any
			}{cols["new_weight"], x})
		}
		if eventual.ValidText(s) == nil {
			cases = append(cases, struct {
				c *eventual.Column
				v any
			}{cols["new_name"], s})
		}
		for _, tc := range cases {
			text, got := roundTrip(t, tc.c, tc.v)
			if !eventual.EqualValues(got, tc.v) {
				t.Fatalf("%s: %#v formats as %s and reads back as %#v", tc.c.LogicalName, tc.v, text, got)
			}
		}
	})
}
