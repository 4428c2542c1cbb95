package eventual

import (
	"testing"
)

func TestParsePlainDecimal(t *testing.T) {
	tests := []struct {
		text  string
		scale int
		want  Decimal
		ok    bool
	}{
		{"12", 2, Decimal{1200, 2}, true},
		{"-0.5", 2, Decimal{-50, 2}, true},
		{"+3.14159", 4, Decimal{31416, 4}, true},
		{"2.5", 0, Decimal{3, 0}, true},
		{"-2.5", 0, Decimal{-3, 0}, true},
		{"2.4999", 0, Decimal{2, 0}, true},
		{"0.005", 2, Decimal{1, 2}, true},
		{"-0.004", 2, Decimal{0, 2}, true},
		{"000123.4500", 4, Decimal{1234500, 4}, true},
		{"922337203685477", 4, Decimal{9223372036854770000, 4}, false}, // 19 digits at scale 4
		{"1.25e3", 2, Decimal{}, false},
		{".5", 2, Decimal{}, false},
		{"5.", 2, Decimal{}, false},
		{"", 2, Decimal{}, false},
		{"-", 2, Decimal{}, false},
		{"1.2.3", 2, Decimal{}, false},
		{"1/2", 2, Decimal{}, false},
		{"0x10", 2, Decimal{}, false},
	}
	for _, tt := range tests {
		got, ok := parsePlainDecimal(tt.text, tt.scale)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("parsePlainDecimal(%q, %d) = %v, %v; want %v, %v", tt.text, tt.scale, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzParseDecimal checks the plain fast path against math/big: wherever
// it answers, it answers as parseRatDecimal does.
func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"12", "-0.5", "2.5", "-2.5", "0.005", "999999999999999999", "99999999999999.99995", "1e3", ".5", "00.10", "-0", "+7.77777"} {
		f.Add(s, 2)
		f.Add(s, 4)
	}
	f.Fuzz(func(t *testing.T, text string, scale int) {
		if scale < 0 || scale > 10 {
			return
		}
		got, ok := parsePlainDecimal(text, scale)
		if !ok {
			return
		}
		want, _, err := parseRatDecimal(text, scale)
		if err != nil {
			t.Fatalf("parsePlainDecimal(%q, %d) = %v; math/big refuses it: %v", text, scale, got, err)
		}
		if got != want {
			t.Fatalf("parsePlainDecimal(%q, %d) = %v; math/big gives %v", text, scale, got, want)
		}
	})
}

func BenchmarkParseDecimal(b *testing.B) {
	for _, bb := range []struct {
		name string
		fn   func(string, int) (Decimal, bool, error)
	}{{"plain", parseDecimal}, {"big", parseRatDecimal}} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := bb.fn("1250.75", 4); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
