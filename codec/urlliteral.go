package codec

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// FormatLiteral formats a value of the column's type as an OData URL
// literal that LiteralValue reads back to the same value: strings in
// single quotes with each ' doubled, GUIDs and lookups bare, dates in the
// column's format, numbers and booleans as they are, nil as null. The text
// is a literal of $filter or a key, before percent-encoding. A value of
// another type than the column's, or a float with no literal (NaN, ±Inf),
// is an error.
func FormatLiteral(c *eventual.Column, v any) (string, error) {
	if v == nil {
		return "null", nil
	}
	bad := fmt.Errorf("format literal for %s: a %T is not a %s value", c.LogicalName, v, c.Type)
	switch c.Type {
	case eventual.TypeString, eventual.TypeMemo:
		if s, ok := v.(string); ok {
			return "'" + strings.ReplaceAll(s, "'", "''") + "'", nil
		}
	case eventual.TypeInteger, eventual.TypeBigInt, eventual.TypeChoice:
		if n, ok := v.(int64); ok {
			return strconv.FormatInt(n, 10), nil
		}
	case eventual.TypeDecimal, eventual.TypeMoney:
		if d, ok := v.(eventual.Decimal); ok {
			return d.String(), nil
		}
	case eventual.TypeDouble:
		if f, ok := v.(float64); ok {
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return "", fmt.Errorf("format literal for %s: %v has no OData literal", c.LogicalName, f)
			}
			return strconv.FormatFloat(f, 'g', -1, 64), nil
		}
	case eventual.TypeBoolean:
		if b, ok := v.(bool); ok {
			return strconv.FormatBool(b), nil
		}
	case eventual.TypeDateTime:
		if t, ok := v.(time.Time); ok {
			return eventual.FormatDateTime(t, c.Format), nil
		}
	case eventual.TypeUniqueIdentifier, eventual.TypeLookup, eventual.TypeCustomer:
		switch x := v.(type) {
		case uuid.UUID:
			return x.String(), nil
		case eventual.EntityReference:
			if !c.Type.IsLookup() {
				return "", bad
			}
			return x.ID.String(), nil
		}
	}
	return "", bad
}
