package codec

import (
	"strconv"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// AppendValue appends a column value as JSON, as the Web API writes it: a
// lookup as its GUID, a date in the column's format, a decimal exactly.
func AppendValue(b []byte, c *eventual.Column, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return AppendString(b, x)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case eventual.Decimal:
		return append(b, x.String()...)
	case float64:
		return AppendFloat(b, x)
	case bool:
		return strconv.AppendBool(b, x)
	case time.Time:
		return AppendString(b, eventual.FormatDateTime(x, c.Format))
	case uuid.UUID:
		return AppendString(b, x.String())
	case eventual.EntityReference:
		return AppendString(b, x.ID.String())
	}
	return append(b, "null"...)
}
