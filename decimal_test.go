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

// FuzzDecimalArith checks Float64's and Rescale's int64 paths against
// math/big: the same float, the same rescaled decimal or the same
// refusal.
func FuzzDecimalArith(f *testing.F) {
	for _, c := range []struct {
		units     int64
		scale, to int
	}{{125075, 2, 4}, {-5, 1, 0}, {15, 1, 0}, {-15, 1, 0}, {25, 1, 0}, {9223372036854775807, 0, 2}, {-9223372036854775808, 4, 0},
		{1 << 53, 3, 10}, {1<<53 + 1, 3, 1}, {999999999999999999, 18, 0}, {-500000000000000000, 18, 0}, {1, 22, 30}, {7, 0, 18}} {
		f.Add(c.units, c.scale, c.to)
	}
	f.Fuzz(func(t *testing.T, units int64, scale, to int) {
		if scale < 0 || scale > 30 || to < 0 || to > 30 {
			return
		}
		d := Decimal{Units: units, Scale: scale}
		want, _ := d.Rat().Float64()
		if got := d.Float64(); got != want {
			t.Fatalf("%v.Float64() = %v; math/big gives %v", d, got, want)
		}
		got, gotErr := d.Rescale(to)
		want2, wantErr := DecimalFromRat(d.Rat(), to)
		if (gotErr != nil) != (wantErr != nil) || got != want2 {
			t.Fatalf("%v.Rescale(%d) = %v, %v; math/big gives %v, %v", d, to, got, gotErr, want2, wantErr)
		}
	})
}

func BenchmarkDecimalFloat64(b *testing.B) {
	d := Decimal{Units: 125075, Scale: 2}
	b.ReportAllocs()
	for b.Loop() {
		if d.Float64() == 0 {
			b.Fatal("zero")
		}
	}
}
