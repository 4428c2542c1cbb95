package eventual_test

import (
	"strings"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// TestConvertScalar: one table for the three forms, where they agree and
// where Dataverse's formats differ.
func TestConvertScalar(t *testing.T) {
	col := func(typ eventual.ColumnType) *eventual.Column {
		return &eventual.Column{LogicalName: "c", Type: typ, Precision: 2}
	}
	dateOnly := &eventual.Column{LogicalName: "d", Type: eventual.TypeDateTime, Format: eventual.DateOnly}
	str := func(s string, f eventual.ScalarForm) eventual.Scalar {
		return eventual.Scalar{Kind: eventual.ScalarString, Text: s, Form: f}
	}
	num := func(s string, f eventual.ScalarForm) eventual.Scalar {
		return eventual.Scalar{Kind: eventual.ScalarNumber, Text: s, Form: f}
	}
	id := uuid.MustParse("11111111-2222-3333-4444-555555555555")
	json, lit, cfg := eventual.FormJSON, eventual.FormLiteral, eventual.FormConfig
	for _, tc := range []struct {
		name string
		c    *eventual.Column
		s    eventual.Scalar
		want any
		err  string // "mismatch", or a part of the parse error
	}{
		{"String", col(eventual.TypeString), str("x", json), "x", ""},
		{"StringFromNumber", col(eventual.TypeString), num("1", lit), nil, "mismatch"},
		{"Integer", col(eventual.TypeInteger), num("42", json), int64(42), ""},
		{"IntegerNotWhole", col(eventual.TypeInteger), num("4.2", cfg), nil, "mismatch"},
		{"IntegerFromStringJSON", col(eventual.TypeInteger), str("42", json), nil, "mismatch"},
		{"BigIntFromStringJSON", col(eventual.TypeBigInt), str("42", json), int64(42), ""},
		{"BigIntFromStringConfig", col(eventual.TypeBigInt), str("42", cfg), nil, "mismatch"},
		{"Decimal", col(eventual.TypeDecimal), num("1.005", lit), eventual.Decimal{Units: 101, Scale: 2}, ""},
		{"DecimalFromStringJSON", col(eventual.TypeMoney), str("2.5", json), eventual.Decimal{Units: 250, Scale: 2}, ""},
		{"DecimalFromStringLiteral", col(eventual.TypeMoney), str("2.5", lit), nil, "mismatch"},
		{"DecimalNoNumber", col(eventual.TypeDecimal), str("x", json), nil, "not a decimal number"},
		{"DecimalOutOfRange", col(eventual.TypeDecimal), num("1e30", json), nil, "out of range"},
		{"Double", col(eventual.TypeDouble), num("1e3", json), 1000.0, ""},
		{"DoubleOverflow", col(eventual.TypeDouble), num("1e999", lit), nil, "out of range"},
		{"Boolean", col(eventual.TypeBoolean), eventual.Scalar{Kind: eventual.ScalarBool, Text: "true"}, true, ""},
		{"DateTimeJSON", col(eventual.TypeDateTime), str("2024-01-02T03:04:05Z", json), time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), ""},
		{"DateTimeLiteralToken", col(eventual.TypeDateTime), eventual.Scalar{Kind: eventual.ScalarDateTime, Text: "2024-01-02", Form: lit}, time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC), ""},
		{"DateTimeLiteralString", col(eventual.TypeDateTime), str("2024-01-02", lit), nil, "mismatch"},
		{"DateOnlyJSONIsEdmDate", dateOnly, str("2024-01-02T00:00:00Z", json), nil, "2024-01-02T00:00:00Z"},
		{"DateOnlyConfig", dateOnly, str("2024-01-02T10:00:00Z", cfg), time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC), ""},
		{"GUID", col(eventual.TypeUniqueIdentifier), str(id.String(), json), id, ""},
		{"GUIDBad", col(eventual.TypeUniqueIdentifier), str("x", cfg), nil, "not a valid GUID"},
		{"GUIDQuotedLiteralBad", col(eventual.TypeUniqueIdentifier), str("x", lit), nil, "mismatch"},
		{"LookupLiteral", col(eventual.TypeLookup), eventual.Scalar{Kind: eventual.ScalarGUID, Text: id.String(), Form: lit}, id, ""},
		{"LookupJSON", col(eventual.TypeLookup), str(id.String(), json), nil, "mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := eventual.ConvertScalar(tc.c, tc.s)
			switch {
			case tc.err == "mismatch":
				if !eventual.IsMismatch(err) {
					t.Fatalf("got %v, %v; want a mismatch", got, err)
				}
			case tc.err != "":
				if err == nil || eventual.IsMismatch(err) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, %v; want an error with %q", got, err, tc.err)
				}
			case err != nil:
				t.Fatal(err)
			case !eventual.EqualValues(got, tc.want):
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

// TestConvertValue: configuration values, as YAML gives them.
func TestConvertValue(t *testing.T) {
	for _, tc := range []struct {
		typ  eventual.ColumnType
		in   any
		want any
		ok   bool
	}{
		{eventual.TypeInteger, 3, int64(3), true},
		{eventual.TypeChoice, 3.0, int64(3), true},
		{eventual.TypeInteger, 3.5, nil, false},
		{eventual.TypeDouble, 3, 3.0, true},
		{eventual.TypeDouble, 0.1, 0.1, true},
		{eventual.TypeDecimal, "1.5", eventual.Decimal{Units: 150, Scale: 2}, true},
		{eventual.TypeDecimal, 1.5, eventual.Decimal{Units: 150, Scale: 2}, true},
		{eventual.TypeDecimal, true, nil, false},
		{eventual.TypeString, 1, nil, false},
		{eventual.TypeBoolean, false, false, true},
		{eventual.TypeString, nil, nil, true},
	} {
		c := &eventual.Column{LogicalName: "c", Type: tc.typ, Precision: 2}
		got, err := eventual.ConvertValue(c, tc.in)
		if (err == nil) != tc.ok || (tc.ok && !eventual.EqualValues(got, tc.want)) {
			t.Errorf("%s %#v: got %#v, %v", tc.typ, tc.in, got, err)
		}
	}
}
