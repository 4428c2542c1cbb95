package eventual

import (
	"errors"
	"fmt"
	"strconv"
)

// A ScalarKind is the kind of an untyped value as a wire or configuration
// form carries it, before it has a column's type.
type ScalarKind int

// The kinds of scalars.
const (
	ScalarString   ScalarKind = iota // a string
	ScalarNumber                     // a number, as its decimal text
	ScalarBool                       // true or false
	ScalarGUID                       // a GUID token (OData URL literals only)
	ScalarDateTime                   // a date or date-time token (OData URL literals only)
)

// A ScalarForm is the form a scalar comes in. The forms differ where
// Dataverse's formats differ; ConvertScalar documents each difference.
type ScalarForm int

// The forms of scalars.
const (
	FormJSON    ScalarForm = iota // a Web API JSON body
	FormLiteral                   // an OData URL literal ($filter, keys)
	FormConfig                    // a configuration value (YAML)
)

// A Scalar is an untyped value: its kind, its text and its form.
type Scalar struct {
	Kind ScalarKind
	Text string
	Form ScalarForm
}

// A ConvertError says why a scalar does not convert to a column's type.
// Mismatch is set when the scalar is of a kind the column does not take;
// otherwise Err says why its text is not a valid value, and OutOfRange
// tells a number too large for the column from one that is no number.
type ConvertError struct {
	Mismatch   bool
	OutOfRange bool
	Err        error
}

func (e *ConvertError) Error() string {
	if e.Mismatch {
		return "the value's type does not fit the column"
	}
	return e.Err.Error()
}

func (e *ConvertError) Unwrap() error { return e.Err }

var errMismatch = &ConvertError{Mismatch: true}

// ConvertScalar converts a scalar to a value of the column's type: string,
// int64, Decimal, float64, bool, time.Time or uuid.UUID. It is the one
// conversion of untyped values; the forms differ in that
//   - JSON and configuration strings carry dates and GUIDs; URL literals
//     have tokens of their own for them, and also take a quoted GUID;
//   - JSON takes Int64 and Decimal as strings (IEEE754Compatible), and
//     configuration takes decimals as strings;
//   - JSON reads a date-only column's value as an Edm.Date, a date alone;
//   - only URL literals give a lookup's GUID.
func ConvertScalar(c *Column, s Scalar) (any, error) {
	switch c.Type {
	case TypeString, TypeMemo:
		if s.Kind != ScalarString {
			return nil, errMismatch
		}
		return s.Text, nil
	case TypeInteger, TypeBigInt, TypeChoice:
		if !s.number(c.Type == TypeBigInt && s.Form == FormJSON) {
			return nil, errMismatch
		}
		n, err := strconv.ParseInt(s.Text, 10, 64)
		if err != nil {
			return nil, errMismatch
		}
		return n, nil
	case TypeDecimal, TypeMoney:
		if !s.number(s.Form != FormLiteral) {
			return nil, errMismatch
		}
		return convertDecimal(s.Text, c.Precision)
	case TypeDouble:
		if s.Kind != ScalarNumber {
			return nil, errMismatch
		}
		f, err := strconv.ParseFloat(s.Text, 64)
		if err != nil {
			return nil, &ConvertError{Err: err}
		}
		return f, nil
	case TypeBoolean:
		if s.Kind != ScalarBool {
			return nil, errMismatch
		}
		return s.Text == "true", nil
	case TypeDateTime:
		return convertDateTime(c, s)
	case TypeUniqueIdentifier, TypeLookup, TypeCustomer:
		return convertGUID(c, s)
	}
	return nil, errMismatch
}

// number reports whether s is a number, or a string that stands for one.
func (s Scalar) number(strings bool) bool {
	return s.Kind == ScalarNumber || (strings && s.Kind == ScalarString)
}

func convertDecimal(text string, scale int) (any, error) {
	d, outOfRange, err := parseDecimal(text, scale)
	if err != nil {
		return nil, &ConvertError{OutOfRange: outOfRange, Err: err}
	}
	return d, nil
}

func convertDateTime(c *Column, s Scalar) (any, error) {
	want := ScalarString
	if s.Form == FormLiteral {
		want = ScalarDateTime
	}
	if s.Kind != want {
		return nil, errMismatch
	}
	parse := func(text string) (any, error) { return ParseDateTime(text, c.Format) }
	if s.Form == FormJSON && c.Format == DateOnly {
		parse = func(text string) (any, error) { return ParseDate(text) }
	}
	t, err := parse(s.Text)
	if err != nil {
		return nil, &ConvertError{Err: err}
	}
	return t, nil
}

func convertGUID(c *Column, s Scalar) (any, error) {
	lookup := c.Type.IsLookup()
	switch {
	case s.Form == FormLiteral && s.Kind != ScalarGUID && s.Kind != ScalarString,
		s.Form != FormLiteral && (lookup || s.Kind != ScalarString):
		return nil, errMismatch
	}
	id, err := ParseGUID(s.Text)
	if err != nil {
		if s.Form == FormLiteral && s.Kind == ScalarString {
			return nil, errMismatch // a string, not a GUID
		}
		return nil, &ConvertError{Err: err}
	}
	return id, nil
}

// IsMismatch reports whether err is a ConvertError for a scalar of the
// wrong kind.
func IsMismatch(err error) bool {
	if err == nil {
		return false // before ce, which errors.As makes escape
	}
	var ce *ConvertError
	return errors.As(err, &ce) && ce.Mismatch
}

// ConvertValue converts a Go value of a configuration (string, bool, int,
// int64, float64) to a value of the column's type.
func ConvertValue(c *Column, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	s := Scalar{Form: FormConfig, Text: fmt.Sprint(v)}
	switch n := v.(type) {
	case string:
		s.Kind = ScalarString
	case bool:
		s.Kind = ScalarBool
	case int, int64:
		s.Kind = ScalarNumber
	case float64:
		s.Kind = ScalarNumber
		s.Text = strconv.FormatFloat(n, 'g', -1, 64)
		if c.Type != TypeDouble && n == float64(int64(n)) {
			s.Text = strconv.FormatInt(int64(n), 10)
		}
	default:
		return nil, errMismatch
	}
	return ConvertScalar(c, s)
}
