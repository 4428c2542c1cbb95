package sqlbuild

import (
	"fmt"
	"time"

	"github.com/eventual-pp/eventual"
)

// LikeFolded returns the LIKE test of an already folded expression (a
// Dialect's Text form) against a folded pattern parameter, with backslash
// as escape character: the Like both SQL stores render.
func LikeFolded(folded, pattern string) string {
	return "(" + folded + " LIKE " + pattern + ` ESCAPE '\')`
}

// StandardNullsOrder is the SQL standard's NullsOrder: NULLS FIRST in
// ascending order, NULLS LAST in descending order.
func StandardNullsOrder(desc bool) string {
	if desc {
		return " NULLS LAST"
	}
	return " NULLS FIRST"
}

// StandardBool is the SQL standard's Bool: TRUE or FALSE.
func StandardBool(v bool) string {
	if v {
		return "TRUE"
	}
	return "FALSE"
}

// EncodeWith is the Encode of a dialect that stores booleans by boolean
// and times by datetime, and every other type as EncodeScalar does. A value
// that does not fit its column is an error; nil stays nil.
func EncodeWith(c *eventual.Column, v any, boolean func(bool) any, datetime func(time.Time) any) (any, error) {
	switch c.Type {
	case eventual.TypeBoolean:
		if b, ok := v.(bool); ok {
			return boolean(b), nil
		}
	case eventual.TypeDateTime:
		if t, ok := v.(time.Time); ok {
			return datetime(t), nil
		}
	default:
		return EncodeScalar(c, v)
	}
	if v == nil {
		return nil, nil
	}
	return nil, fmt.Errorf("value %v (%T) does not fit a %s column", v, v, c.Type)
}

// DecodeScalar decodes the stored forms that every SQL store's driver
// hands back alike: text as string, integers and choices as int64,
// decimals and money as int64 scaled units, doubles as float64. It
// reports false for any other column type or stored form, which the
// dialect then decodes itself (or rejects).
func DecodeScalar(c *eventual.Column, v any) (any, bool) {
	switch c.Type {
	case eventual.TypeString, eventual.TypeMemo:
		if s, ok := v.(string); ok {
			return s, true
		}
	case eventual.TypeInteger, eventual.TypeBigInt, eventual.TypeChoice:
		if n, ok := v.(int64); ok {
			return n, true
		}
	case eventual.TypeDecimal, eventual.TypeMoney:
		if n, ok := v.(int64); ok {
			return eventual.Decimal{Units: n, Scale: c.Precision}, true
		}
	case eventual.TypeDouble:
		if f, ok := v.(float64); ok {
			return f, true
		}
	}
	return nil, false
}
