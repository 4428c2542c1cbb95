package webapi

import (
	"math/big"

	"github.com/eventual-pp/eventual"
)

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
		return nil, false, nil // codec.LiteralValue accepted it; nothing to refine
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
