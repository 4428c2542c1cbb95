package codec

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/odata"
)

// EdmType returns the OData type of a column's values.
func EdmType(c *eventual.Column) string {
	switch c.Type {
	case eventual.TypeString, eventual.TypeMemo:
		return "Edm.String"
	case eventual.TypeInteger, eventual.TypeChoice:
		return "Edm.Int32"
	case eventual.TypeBigInt:
		return "Edm.Int64"
	case eventual.TypeDecimal, eventual.TypeMoney:
		return "Edm.Decimal"
	case eventual.TypeDouble:
		return "Edm.Double"
	case eventual.TypeBoolean:
		return "Edm.Boolean"
	case eventual.TypeDateTime:
		if c.Format == eventual.DateOnly {
			return "Edm.Date"
		}
		return "Edm.DateTimeOffset"
	}
	return "Edm.Guid"
}

// LiteralType returns the OData type of a literal, for error messages.
func LiteralType(l *odata.Literal) string {
	switch l.Kind {
	case odata.LitString:
		return "Edm.String"
	case odata.LitNumber:
		if strings.ContainsAny(l.Value, "eE") {
			return "Edm.Double"
		}
		if strings.Contains(l.Value, ".") {
			return "Edm.Decimal"
		}
		if _, err := strconv.ParseInt(l.Value, 10, 32); err == nil {
			return "Edm.Int32"
		}
		return "Edm.Int64"
	case odata.LitGUID:
		return "Edm.Guid"
	case odata.LitDateTime:
		if len(l.Value) == len(eventual.DateOnlyLayout) {
			return "Edm.Date"
		}
		return "Edm.DateTimeOffset"
	case odata.LitBool:
		return "Edm.Boolean"
	}
	return "null"
}

// A LiteralError is a literal that does not fit a column's type. Its
// message is Dataverse's, for the operator kind 'Equal'; callers comparing
// with another operator put its kind in place of 'Equal'.
type LiteralError struct {
	Column  *eventual.Column
	Literal *odata.Literal
	Msg     string
}

func (e *LiteralError) Error() string { return e.Msg }

// scalarKinds are the scalar kinds of the literal kinds.
var scalarKinds = map[odata.LiteralKind]eventual.ScalarKind{
	odata.LitString:   eventual.ScalarString,
	odata.LitNumber:   eventual.ScalarNumber,
	odata.LitGUID:     eventual.ScalarGUID,
	odata.LitDateTime: eventual.ScalarDateTime,
	odata.LitBool:     eventual.ScalarBool,
}

// LiteralValue converts a literal to a value of the column's type.
func LiteralValue(c *eventual.Column, l *odata.Literal) (any, error) {
	if l.Kind == odata.LitNull {
		return nil, nil
	}
	kind, ok := scalarKinds[l.Kind]
	if !ok {
		return nil, mismatch(c, l)
	}
	v, err := eventual.ConvertScalar(c, eventual.Scalar{Kind: kind, Text: l.Value, Form: eventual.FormLiteral})
	if eventual.IsMismatch(err) {
		return nil, mismatch(c, l)
	}
	if err != nil {
		return nil, &LiteralError{Column: c, Literal: l, Msg: fmt.Sprintf("The literal '%s' is not a valid %s value: %v.", l.String(), EdmType(c), err)}
	}
	return v, nil
}

func mismatch(c *eventual.Column, l *odata.Literal) error {
	return &LiteralError{Column: c, Literal: l, Msg: fmt.Sprintf("A binary operator with incompatible types was detected. Found operand types '%s' and '%s' for operator kind 'Equal'.", EdmType(c), LiteralType(l))}
}
