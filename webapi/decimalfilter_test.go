package webapi_test

import (
	"net/http"
	"testing"
)

// TestDecimalFilterIsExact: a literal with more decimal places than a
// money or decimal column keeps is compared exactly, not after rounding it
// to the column's precision (revenue is money with two decimal places;
// most literals below carry five).
func TestDecimalFilterIsExact(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		s.create("accounts", map[string]any{"name": "A", "revenue": 12.3500})
		s.create("accounts", map[string]any{"name": "B", "revenue": 12.3400})
		s.create("accounts", map[string]any{"name": "C"})
		for _, tc := range []struct {
			filter string
			want   int
		}{
			{"revenue gt 12.34500", 1},
			{"revenue ge 12.34500", 1},
			{"revenue lt 12.34500", 1},
			{"revenue le 12.34500", 1},
			{"revenue eq 12.34501", 0},
			{"revenue ne 12.34501", 3}, // null ne x is true in OData
			{"12.34999 lt revenue", 1},
			{"12.34001 gt revenue", 1},
			{"revenue gt -0.00001", 2},
			{"revenue lt -0.00001", 0},
			{"revenue eq 12.35", 1},
			{"revenue ge 12.34", 2},
		} {
			if got := s.count("accounts", tc.filter); got != tc.want {
				t.Errorf("$filter=%s matched %d accounts, want %d", tc.filter, got, tc.want)
			}
		}
		s.must(http.StatusOK, "GET", "accounts?$select=name&$filter="+urlEscape("revenue gt 12.345001 and revenue lt 99"), nil)
	})
}
