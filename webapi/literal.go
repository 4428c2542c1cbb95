package webapi

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/odata"
)

// edmType returns the OData type of a column's values.
func edmType(c *eventual.Column) string {
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

// literalType returns the OData type of a literal, for error messages.
func literalType(l *odata.Literal) string {
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

// errLiteral is returned when a literal does not fit a column's type.
type errLiteral struct {
	column  *eventual.Column
	literal *odata.Literal
	msg     string
}

func (e *errLiteral) Error() string { return e.msg }

// literalValue converts a literal to a value of the column's type.
func literalValue(c *eventual.Column, l *odata.Literal) (any, error) {
	if l.Kind == odata.LitNull {
		return nil, nil
	}
	mismatch := func() error {
		return &errLiteral{column: c, literal: l, msg: fmt.Sprintf("A binary operator with incompatible types was detected. Found operand types '%s' and '%s' for operator kind 'Equal'.", edmType(c), literalType(l))}
	}
	invalid := func(err error) error {
		return &errLiteral{column: c, literal: l, msg: fmt.Sprintf("The literal '%s' is not a valid %s value: %v.", l.String(), edmType(c), err)}
	}
	switch c.Type {
	case eventual.TypeString, eventual.TypeMemo:
		if l.Kind != odata.LitString {
			return nil, mismatch()
		}
		return l.Value, nil
	case eventual.TypeInteger, eventual.TypeBigInt, eventual.TypeChoice:
		if l.Kind != odata.LitNumber {
			return nil, mismatch()
		}
		n, err := strconv.ParseInt(l.Value, 10, 64)
		if err != nil {
			return nil, mismatch()
		}
		return n, nil
	case eventual.TypeDecimal, eventual.TypeMoney:
		if l.Kind != odata.LitNumber {
			return nil, mismatch()
		}
		d, err := eventual.ParseDecimal(l.Value, c.Precision)
		if err != nil {
			return nil, invalid(err)
		}
		return d, nil
	case eventual.TypeDouble:
		if l.Kind != odata.LitNumber {
			return nil, mismatch()
		}
		f, err := strconv.ParseFloat(l.Value, 64)
		if err != nil {
			return nil, invalid(err)
		}
		return f, nil
	case eventual.TypeBoolean:
		if l.Kind != odata.LitBool {
			return nil, mismatch()
		}
		return l.Value == "true", nil
	case eventual.TypeDateTime:
		if l.Kind != odata.LitDateTime {
			return nil, mismatch()
		}
		t, err := eventual.ParseDateTime(l.Value, c.Format)
		if err != nil {
			return nil, invalid(err)
		}
		return t, nil
	case eventual.TypeUniqueIdentifier, eventual.TypeLookup, eventual.TypeCustomer:
		// Dataverse also accepts a quoted GUID for lookups.
		if l.Kind != odata.LitGUID && l.Kind != odata.LitString {
			return nil, mismatch()
		}
		id, err := eventual.ParseGUID(l.Value)
		if err != nil {
			if l.Kind == odata.LitString {
				return nil, mismatch()
			}
			return nil, invalid(err)
		}
		return id, nil
	}
	return nil, mismatch()
}
