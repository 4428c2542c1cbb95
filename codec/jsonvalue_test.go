package codec_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/codec"
	"github.com/google/uuid"
)

// TestJSONValue: body values to column values, with Dataverse's messages.
func TestJSONValue(t *testing.T) {
	id := uuid.MustParse("11111111-2222-3333-4444-555555555555")
	for _, tc := range []struct {
		table, column string
		in            any
		want          any
		err           string
	}{
		{"new_order", "new_name", "x", "x", ""},
		{"new_order", "new_name", json.Number("1"), nil, "Cannot convert the literal '1' to the expected type 'Edm.String'."},
		{"new_order", "new_quantity", json.Number("5"), int64(5), ""},
		{"new_order", "new_quantity", "5", nil, "Cannot convert the literal '5' to the expected type 'Edm.Int32'."},
		{"new_order", "new_sequence", "9007199254740993", int64(9007199254740993), ""},
		{"new_order", "new_unitprice", json.Number("1.23456"), eventual.Decimal{Units: 12346, Scale: 4}, ""},
		{"new_order", "new_amount", "12.5", eventual.Decimal{Units: 125000, Scale: 4}, ""},
		{"new_order", "new_amount", json.Number("1e30"), nil, "The value '1e30' is out of range for the column 'new_amount'."},
		{"new_order", "new_amount", "1/2", nil, "Cannot convert the literal '1/2' to the expected type 'Edm.Decimal'."},
		{"new_order", "new_weight", json.Number("2.5"), 2.5, ""},
		{"new_order", "new_weight", json.Number("1e999"), nil, "Cannot convert the literal '1e999' to the expected type 'Edm.Double'."},
		{"new_order", "new_shipped", true, true, ""},
		{"new_order", "new_orderdate", "2024-05-06T07:08:09Z", time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC), ""},
		{"contact", "birthdate", "2024-05-06", time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC), ""},
		{"contact", "birthdate", "2024-05-06T00:00:00Z", nil, "Cannot convert the literal '2024-05-06T00:00:00Z' to the expected type 'Edm.Date'."},
		{"new_order", "new_externalid", id.String(), id, ""},
		{"new_order", "new_externalid", map[string]any{}, nil, "Cannot convert the literal '{...}' to the expected type 'Edm.Guid'."},
		{"new_order", "new_notes", []any{}, nil, "Cannot convert the literal '[...]' to the expected type 'Edm.String'."},
		{"new_order", "new_customer", id.String(), nil, "Cannot convert the literal '" + id.String() + "' to the expected type 'Edm.Guid'."},
		{"new_order", "new_name", nil, nil, ""},
	} {
		got, err := codec.JSONValue(col(t, tc.table, tc.column), tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%s %#v: got %v, %v; want %q", tc.column, tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !eventual.EqualValues(got, tc.want) {
			t.Errorf("%s %#v: got %#v, %v; want %#v", tc.column, tc.in, got, err, tc.want)
		}
	}
}
