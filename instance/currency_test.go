package instance

import (
	"testing"

	"github.com/eventual-pp/eventual"
)

// TestToBase: amount ÷ rate at the amount's scale, rounded half away
// from zero; the base currency's rate of 1 leaves it as it is.
func TestToBase(t *testing.T) {
	d := func(s string, scale int) eventual.Decimal {
		v, err := eventual.ParseDecimal(s, scale)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct{ amount, rate, want string }{
		{"100.00", "1", "100.00"},
		{"800.00", "0.8", "1000.00"},
		{"10.00", "3", "3.33"},
		{"0.05", "0.3", "0.17"},   // 0.1666… rounds up
		{"-0.05", "0.3", "-0.17"}, // half away from zero, below it too
		{"0.01", "2", "0.01"},     // 0.005 rounds away from zero
	} {
		if got := toBase(d(tc.amount, 2), d(tc.rate, eventual.ExchangeRatePrecision)); got.String() != tc.want {
			t.Errorf("%s / %s = %s, want %s", tc.amount, tc.rate, got, tc.want)
		}
	}
}
