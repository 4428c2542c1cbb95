package webapi

import (
	"fmt"
	"math/big"
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

// flipOp returns the operator that compares the operands the other way
// round ("5 lt x" is "x gt 5").
func flipOp(op eventual.CompareOp) eventual.CompareOp {
	switch op {
	case eventual.OpGt:
		return eventual.OpLt
	case eventual.OpGe:
		return eventual.OpLe
	case eventual.OpLt:
		return eventual.OpGt
	case eventual.OpLe:
		return eventual.OpGe
	}
	return op
}

// inexactDecimal renders "field op text" for a decimal or money field when
// the number has more decimal places than the column keeps, so that the
// comparison is exact rather than against the rounded literal: a stored
// value v (a multiple of 10^-precision) is gt x exactly when it is gt
// floor(x), ge x when ge ceil(x), lt x when lt ceil(x), le x when le
// floor(x); it never equals x, and always differs from it. It reports
// false when the literal is exact at the column's precision.
func inexactDecimal(f eventual.Field, op eventual.CompareOp, text string) (eventual.Expr, bool, error) {
	scale := f.Column.Precision
	r, ok := new(big.Rat).SetString(text)
	if !ok {
		return nil, false, nil // literalValue accepted it; nothing to refine
	}
	units := new(big.Rat).Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)))
	if units.IsInt() {
		return nil, false, nil
	}
	floor := new(big.Int).Div(units.Num(), units.Denom()) // Euclidean: rounds toward -inf for a positive divisor
	ceil := new(big.Int).Add(floor, big.NewInt(1))
	bound := func(n *big.Int) (eventual.Literal, error) {
		if !n.IsInt64() {
			return eventual.Literal{}, errBadRequest("The number %s is out of range for the column '%s'.", text, f.Column.LogicalName)
		}
		return eventual.Literal{Value: eventual.Decimal{Units: n.Int64(), Scale: scale}}, nil
	}
	var n *big.Int
	switch op {
	case eventual.OpEq:
		return eventual.Const{Value: false}, true, nil
	case eventual.OpNe:
		return eventual.Const{Value: true}, true, nil
	case eventual.OpGt, eventual.OpLe:
		n = floor
	default: // ge, lt
		n = ceil
	}
	lit, err := bound(n)
	if err != nil {
		return nil, false, err
	}
	return eventual.Compare{Op: op, Left: f, Right: lit}, true, nil
}
