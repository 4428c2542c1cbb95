package eventual

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Values of columns, by type, as records carry them:
//
//	string, memo          string
//	integer, bigint       int64
//	choice                int64
//	decimal, money        Decimal
//	double                float64
//	boolean               bool
//	datetime              time.Time (UTC; midnight UTC for DateOnly)
//	uniqueidentifier      uuid.UUID
//	lookup, customer      EntityReference
//
// A nil value is SQL NULL.

// Decimal is an exact decimal number: Units × 10^-Scale. Decimal and money
// columns hold Decimals scaled to the column's precision.
type Decimal struct {
	Units int64
	Scale int
}

// ParseDecimal parses a decimal literal ("12", "-0.5", "1.25e3") and rounds
// it half away from zero to scale decimal places. It fails if the text is
// not a finite number or the rounded value does not fit.
func ParseDecimal(text string, scale int) (Decimal, error) {
	d, _, err := parseDecimal(text, scale)
	return d, err
}

// parseDecimal is ParseDecimal, also telling an out-of-range number from
// text that is no number.
func parseDecimal(text string, scale int) (d Decimal, outOfRange bool, err error) {
	if d, ok := parsePlainDecimal(text, scale); ok {
		return d, false, nil
	}
	return parseRatDecimal(text, scale)
}

// maxPlainDigits bounds the digits parsePlainDecimal reads: 10^18 fits an
// int64 with room for the rounding step.
const maxPlainDigits = 18

// parsePlainDecimal parses the common form of a decimal, digits with an
// optional sign and fraction ("-1250.75"), without math/big: a request's
// money values otherwise cost a big.Rat each. It reports false for any
// other text (exponents, a bare ".5", more than maxPlainDigits digits in
// all), which parseRatDecimal then reads; both round alike.
func parsePlainDecimal(text string, scale int) (Decimal, bool) {
	if scale < 0 || scale > maxPlainDigits {
		return Decimal{}, false
	}
	i, neg := 0, false
	if i < len(text) && (text[i] == '-' || text[i] == '+') {
		neg = text[i] == '-'
		i++
	}
	var units int64
	digits, frac, intDigits := 0, -1, 0
	roundUp := false
	for ; i < len(text); i++ {
		ch := text[i]
		switch {
		case ch == '.' && frac < 0:
			frac = 0
			continue
		case ch < '0' || ch > '9':
			return Decimal{}, false
		}
		if frac < 0 {
			intDigits++
		} else {
			frac++
			if frac > scale {
				// Beyond the scale: the first such digit rounds half away
				// from zero; the rest cannot change that.
				if frac == scale+1 {
					roundUp = ch >= '5'
				}
				continue
			}
		}
		if units == 0 && ch == '0' {
			continue // leading zeros count toward nothing
		}
		if digits++; digits > maxPlainDigits {
			return Decimal{}, false
		}
		units = units*10 + int64(ch-'0')
	}
	if intDigits == 0 || frac == 0 { // "", "-", ".5", "5."
		return Decimal{}, false
	}
	for f := max(frac, 0); f < scale; f++ {
		if digits++; units != 0 && digits > maxPlainDigits {
			return Decimal{}, false
		}
		units *= 10
	}
	if roundUp {
		units++
	}
	if neg {
		units = -units
	}
	return Decimal{Units: units, Scale: scale}, true
}

// parseRatDecimal is parseDecimal for any text math/big reads as a
// rational number, but a fraction.
func parseRatDecimal(text string, scale int) (d Decimal, outOfRange bool, err error) {
	r, ok := new(big.Rat).SetString(text)
	if !ok || strings.ContainsAny(text, "/") {
		return Decimal{}, false, fmt.Errorf("%q is not a decimal number", text)
	}
	d, err = DecimalFromRat(r, scale)
	return d, err != nil, err
}

// DecimalFromRat rounds r half away from zero to scale decimal places.
func DecimalFromRat(r *big.Rat, scale int) (Decimal, error) {
	pow := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)
	num := new(big.Int).Mul(r.Num(), pow)
	den := r.Denom()
	q, m := new(big.Int).QuoRem(num, den, new(big.Int))
	// Round half away from zero: compare 2|m| with den.
	m.Abs(m).Lsh(m, 1)
	if m.Cmp(den) >= 0 {
		if num.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	if !q.IsInt64() {
		return Decimal{}, fmt.Errorf("%s is out of range", r.FloatString(scale))
	}
	return Decimal{Units: q.Int64(), Scale: scale}, nil
}

// DecimalFromFloat converts a float to a Decimal with scale places.
func DecimalFromFloat(f float64, scale int) (Decimal, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return Decimal{}, fmt.Errorf("%v is not a finite number", f)
	}
	return ParseDecimal(strconv.FormatFloat(f, 'g', -1, 64), scale)
}

// Rescale returns d with another scale, rounding half away from zero.
func (d Decimal) Rescale(scale int) (Decimal, error) {
	if scale == d.Scale {
		return d, nil
	}
	if r, ok := d.rescaleInt(scale); ok {
		return r, nil
	}
	return DecimalFromRat(d.Rat(), scale)
}

// pow10 holds the powers of ten an int64 holds, 10^0 to 10^18.
var pow10 = func() (p [19]int64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// rescaleInt is Rescale in int64 arithmetic, for the scales and units it
// holds without overflow; ok is false otherwise (math/big then decides,
// out of range included).
func (d Decimal) rescaleInt(scale int) (Decimal, bool) {
	if d.Scale < 0 || scale < 0 {
		return Decimal{}, false
	}
	if scale > d.Scale {
		diff := scale - d.Scale
		if diff >= len(pow10) {
			return Decimal{}, false
		}
		m := pow10[diff]
		if d.Units > math.MaxInt64/m || d.Units < math.MinInt64/m {
			return Decimal{}, false
		}
		return Decimal{Units: d.Units * m, Scale: scale}, true
	}
	diff := d.Scale - scale
	if diff >= len(pow10) {
		return Decimal{}, false
	}
	m := pow10[diff]
	q, r := d.Units/m, d.Units%m
	// Half away from zero: |r| >= m/2 rounds |q| up. r and m-|r| do not
	// overflow: |r| < m <= 10^18.
	if r < 0 {
		r = -r
	}
	if r >= m-r {
		if d.Units < 0 {
			q--
		} else {
			q++
		}
	}
	return Decimal{Units: q, Scale: scale}, true
}

// Rat returns d as a rational number.
func (d Decimal) Rat() *big.Rat {
	den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.Scale)), nil)
	return new(big.Rat).SetFrac(big.NewInt(d.Units), den)
}

// Float64 returns d as the nearest float.
func (d Decimal) Float64() float64 {
	// Units and 10^Scale both exact as floats: their IEEE quotient is the
	// nearest float to the exact one, as math/big would give.
	const exact = 1 << 53
	if d.Scale >= 0 && d.Scale <= 22 && d.Units <= exact && d.Units >= -exact {
		return float64(d.Units) / float64pow10[d.Scale]
	}
	f, _ := d.Rat().Float64()
	return f
}

// float64pow10 holds 10^0 to 10^22, each exact as a float64.
var float64pow10 = func() (p [23]float64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// String formats d with exactly Scale decimal places, for example
// "5000000.0000".
func (d Decimal) String() string {
	if d.Scale <= 0 {
		return strconv.FormatInt(d.Units, 10)
	}
	neg := d.Units < 0
	u := new(big.Int).Abs(big.NewInt(d.Units)).String()
	if len(u) <= d.Scale {
		u = strings.Repeat("0", d.Scale-len(u)+1) + u
	}
	s := u[:len(u)-d.Scale] + "." + u[len(u)-d.Scale:]
	if neg {
		s = "-" + s
	}
	return s
}

// Cmp compares two decimals numerically.
func (d Decimal) Cmp(o Decimal) int { return d.Rat().Cmp(o.Rat()) }

// EntityReference identifies a record of a table, by primary key or by the
// values of an alternate key. Lookup values are EntityReferences with an ID.
type EntityReference struct {
	// Table is the referenced table.
	Table *Table
	// ID is the record's primary key; uuid.Nil when the reference is by key.
	ID uuid.UUID
	// Key and KeyValues identify the record by alternate key when ID is nil.
	// KeyValues are in Key.Columns order.
	Key       *Key
	KeyValues []any
}

// Ref returns a reference to a record of t by primary key.
func Ref(t *Table, id uuid.UUID) EntityReference { return EntityReference{Table: t, ID: id} }

// ByKey reports whether the reference names the record by alternate key.
func (r EntityReference) ByKey() bool { return r.ID == uuid.Nil && r.Key != nil }

// String formats the reference as a Web API key segment:
// "account(00000000-...)" or "account(accountnumber='A1')".
func (r EntityReference) String() string {
	name := "?"
	if r.Table != nil {
		name = r.Table.LogicalName
	}
	if !r.ByKey() {
		return name + "(" + r.ID.String() + ")"
	}
	parts := make([]string, len(r.Key.Columns))
	for i, c := range r.Key.Columns {
		parts[i] = c.LogicalName + "=" + FormatLiteral(r.KeyValues[i])
	}
	return name + "(" + strings.Join(parts, ",") + ")"
}

// FormatLiteral formats a value as an OData URL literal: strings quoted with
// doubled single quotes, GUIDs and numbers bare.
func FormatLiteral(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "'" + strings.ReplaceAll(x, "'", "''") + "'"
	case EntityReference:
		return x.ID.String()
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	default:
		return fmt.Sprint(x)
	}
}

// EqualValues reports whether two column values are equal.
func EqualValues(a, b any) bool {
	switch x := a.(type) {
	case Decimal:
		y, ok := b.(Decimal)
		return ok && x.Cmp(y) == 0
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case EntityReference:
		y, ok := b.(EntityReference)
		return ok && x.ID == y.ID && (x.Table == nil || y.Table == nil || x.Table == y.Table)
	}
	return a == b
}

// DateTimeLayout is the layout of datetime values in payloads and URLs.
const DateTimeLayout = "2006-01-02T15:04:05Z07:00"

// DateOnlyLayout is the layout of DateOnly values.
const DateOnlyLayout = "2006-01-02"

// ParseDateTime parses a datetime literal for a column: RFC 3339 with or
// without fractional seconds, or a date alone. The result is UTC, truncated
// to whole seconds as Dataverse stores datetimes; DateOnly columns keep the
// date alone.
func ParseDateTime(s string, format DateTimeFormat) (time.Time, error) {
	var t time.Time
	var err error
	switch {
	case len(s) == len(DateOnlyLayout):
		t, err = time.Parse(DateOnlyLayout, s)
	default:
		t, err = time.Parse(time.RFC3339Nano, s)
		if err != nil {
			// Dataverse accepts datetimes without an offset as UTC.
			t, err = time.Parse("2006-01-02T15:04:05.999999999", s)
		}
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a valid date and time", s)
	}
	t = t.UTC().Truncate(time.Second)
	if format == DateOnly {
		t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	}
	if t.Year() < 1753 || t.Year() > 9999 {
		return time.Time{}, fmt.Errorf("%q is outside the supported range of dates (1753-01-01 to 9999-12-31)", s)
	}
	return t, nil
}

// ParseDate parses an Edm.Date literal: a calendar date "2006-01-02" and
// nothing else. The Web API exposes DateOnly columns as Edm.Date
// (powerapps-docs developer/data-platform/behavior-format-date-time-attribute.md),
// so a body value with a time or an offset ("2024-01-01T23:30:00-05:00",
// even "2024-01-01T00:00:00Z") is not a date: converting it would pick a
// calendar day the client may not mean. The result is midnight UTC.
func ParseDate(s string) (time.Time, error) {
	t, err := time.Parse(DateOnlyLayout, s)
	if err != nil || len(s) != len(DateOnlyLayout) {
		return time.Time{}, fmt.Errorf("%q is not a valid date", s)
	}
	if t.Year() < 1753 {
		return time.Time{}, fmt.Errorf("%q is outside the supported range of dates (1753-01-01 to 9999-12-31)", s)
	}
	return t, nil
}

// FormatDateTime formats a datetime value for a column.
func FormatDateTime(t time.Time, format DateTimeFormat) string {
	if format == DateOnly {
		return t.UTC().Format(DateOnlyLayout)
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

// ParseGUID parses a GUID in the bare 8-4-4-4-12 form the Web API uses.
// Upper and lower case are accepted; braces, URNs and the 32-digit form are
// not.
func ParseGUID(s string) (uuid.UUID, error) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return uuid.Nil, fmt.Errorf("%q is not a valid GUID", s)
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, fmt.Errorf("%q is not a valid GUID", s)
	}
	return id, nil
}
