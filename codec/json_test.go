package codec_test

import (
	"math"
	"testing"

	"github.com/eventual-pp/eventual/codec"
)

// TestAppendString: ODataLib's escaping, which leaves <, > and & alone.
func TestAppendString(t *testing.T) {
	for in, want := range map[string]string{
		"plain":        `"plain"`,
		`a"b\c`:        `"a\"b\\c"`,
		"\n\r\t\x01":   `"\n\r\t\u0001"`,
		"<a&b>":        `"<a&b>"`,
		"\u2028\u2029": `"\u2028\u2029"`,
		"bad\xffutf8":  `"bad\ufffdutf8"`,
		"é€😀":          `"é€😀"`,
	} {
		if got := string(codec.AppendString(nil, in)); got != want {
			t.Errorf("AppendString(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestAppendFloat: exponents only outside [1e-6, 1e21), as JavaScript.
func TestAppendFloat(t *testing.T) {
	for in, want := range map[float64]string{
		0: "0", 1.5: "1.5", -2: "-2", 1e20: "100000000000000000000", 1e21: "1e+21",
		1e-6: "0.000001", 1e-7: "1e-07", math.MaxFloat64: "1.7976931348623157e+308",
	} {
		if got := string(codec.AppendFloat(nil, in)); got != want {
			t.Errorf("AppendFloat(%v) = %s, want %s", in, got, want)
		}
	}
}
