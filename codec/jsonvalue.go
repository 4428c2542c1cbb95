package codec

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/eventual-pp/eventual"
)

// JSONValue converts a JSON value, as DecodeJSON reads it, to a value of
// the column's type. Its errors are Dataverse's messages.
func JSONValue(c *eventual.Column, v any) (any, error) {
	s := eventual.Scalar{Form: eventual.FormJSON}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		s.Kind, s.Text = eventual.ScalarString, x
	case json.Number:
		s.Kind, s.Text = eventual.ScalarNumber, string(x)
	case bool:
		s.Kind, s.Text = eventual.ScalarBool, strconv.FormatBool(x)
	case map[string]any:
		return nil, errConvert("{...}", c)
	case []any:
		return nil, errConvert("[...]", c)
	default:
		return nil, errConvert(fmt.Sprint(x), c)
	}
	out, err := eventual.ConvertScalar(c, s)
	var ce *eventual.ConvertError
	if errors.As(err, &ce) && ce.OutOfRange {
		return nil, fmt.Errorf("The value '%s' is out of range for the column '%s'.", s.Text, c.LogicalName)
	}
	if err != nil {
		return nil, errConvert(s.Text, c)
	}
	return out, nil
}

func errConvert(text string, c *eventual.Column) error {
	return fmt.Errorf("Cannot convert the literal '%s' to the expected type '%s'.", text, EdmType(c))
}
