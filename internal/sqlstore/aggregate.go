package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/sqlbuild"
)

// Aggregate implements eventual.ReadTx.
func (tx *Tx) Aggregate(ctx context.Context, a *eventual.Aggregate) ([]eventual.AggregateRow, error) {
	b := sqlbuild.New(tx.D)
	outs, err := b.Aggregate(a)
	if err != nil {
		return nil, fmt.Errorf("aggregate %s: %w", a.Table.LogicalName, err)
	}
	rows, err := tx.Q.QueryContext(ctx, b.String(), b.Args...)
	if err != nil {
		return nil, aggregateError(a, err)
	}
	defer rows.Close()
	var out []eventual.AggregateRow
	raw := make([]any, len(outs))
	ptrs := make([]any, len(outs))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, aggregateError(a, err)
		}
		row := eventual.AggregateRow{}
		for i := 0; i < len(outs); i++ {
			o := outs[i]
			v, err := tx.aggValue(o, raw[i])
			if err != nil {
				return nil, aggregateError(a, fmt.Errorf("%s: %w", o.Alias, err))
			}
			if o.Func == eventual.AggAvg && !o.Group {
				v, err = average(o.Column, raw[i], raw[i+1])
				if err != nil {
					return nil, aggregateError(a, fmt.Errorf("%s: %w", o.Alias, err))
				}
				i++ // the count that follows
			}
			if o.Group && o.Column.Type == eventual.TypeCustomer && o.Date == eventual.DateValue && i+1 < len(outs) && outs[i+1].Type {
				if ref, ok := v.(eventual.EntityReference); ok {
					if name, ok := text(raw[i+1]); ok {
						if r := o.Column.RelationshipTo(name); r != nil {
							ref.Table = r.ReferencedTable
						}
					}
					v = ref
				}
				i++
			}
			row[o.Alias] = v
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, aggregateError(a, err)
	}
	return out, nil
}

// errSumOverflow is a sum beyond the 64-bit integers that whole numbers,
// decimals and money are summed in.
var errSumOverflow = errors.New("the sum is outside the range of a 64-bit integer")

// aggregateError words an aggregate's failure. A sum beyond 64 bits is the
// request's fault, not the store's: SQLite's SUM fails with "integer
// overflow" and PostgreSQL's numeric sum is caught when it is read, and
// both become the same 400 (SQL Server, under Dataverse, refuses such a
// sum with an arithmetic overflow error).
func aggregateError(a *eventual.Aggregate, err error) error {
	if errors.Is(err, errSumOverflow) || strings.Contains(err.Error(), "integer overflow") {
		return eventual.Errorf(eventual.KindInvalid, eventual.CodeOutOfRange,
			"The aggregate of %s cannot be computed: a sum is outside the range of a 64-bit integer (arithmetic overflow).", a.Table.LogicalName)
	}
	return fmt.Errorf("aggregate %s: %w", a.Table.LogicalName, err)
}

// aggValue reads one result column.
func (tx *Tx) aggValue(o sqlbuild.AggOutput, raw any) (any, error) {
	if raw == nil {
		return nil, nil
	}
	switch {
	case o.Group && o.Date != eventual.DateValue:
		return integer(raw)
	case !o.Group && (o.Func == eventual.AggCount || o.Func == eventual.AggCountColumn || o.Func == eventual.AggCountDistinct):
		return integer(raw)
	case !o.Group && o.Func == eventual.AggAvg:
		return nil, nil // average() reads it with its count
	}
	c := o.Column
	if o.Func == eventual.AggSum && !o.Group {
		switch c.Type {
		case eventual.TypeInteger, eventual.TypeBigInt, eventual.TypeDecimal, eventual.TypeMoney:
			n, err := integer(raw) // PostgreSQL sums bigints as numeric
			if err != nil {
				return nil, err
			}
			raw = n
		}
	}
	v, err := tx.D.Decode(c, raw)
	if err != nil {
		return nil, err
	}
	if ref, ok := v.(eventual.EntityReference); ok && ref.Table == nil && len(c.Relationships()) == 1 {
		ref.Table = c.Relationships()[0].ReferencedTable
		v = ref
	}
	return v, nil
}

// average divides a sum by its count: an int64 (truncated) for whole
// numbers, a float64 for doubles, a Decimal of the column's precision
// (rounded half away from zero) for decimals and money.
func average(c *eventual.Column, sum, count any) (any, error) {
	if sum == nil {
		return nil, nil
	}
	n, err := integer(count)
	if err != nil || n == 0 {
		return nil, err
	}
	switch c.Type {
	case eventual.TypeInteger, eventual.TypeBigInt:
		// Whole numbers average to a whole number, truncated, as SQL
		// Server's AVG does for Dataverse.
		s, err := integer(sum)
		if err != nil {
			return nil, err
		}
		return s / n, nil
	case eventual.TypeDecimal, eventual.TypeMoney:
		s, err := integer(sum)
		if err != nil {
			return nil, err
		}
		q := math.Round(float64(s) / float64(n))
		return eventual.Decimal{Units: int64(q), Scale: c.Precision}, nil
	}
	f, err := float(sum)
	if err != nil {
		return nil, err
	}
	return f / float64(n), nil
}

func text(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), true
	}
	return "", false
}

// integer reads a whole number a driver returns as an integer, a float
// or numeric text.
func integer(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int32:
		return int64(x), nil
	case float64:
		return roundInt(x)
	}
	if s, ok := text(v); ok {
		n, err := strconv.ParseInt(s, 10, 64)
		if err == nil {
			return n, nil
		}
		if errors.Is(err, strconv.ErrRange) {
			return 0, errSumOverflow // PostgreSQL's numeric sum of bigints
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, fmt.Errorf("not a number: %q", s)
		}
		return roundInt(f)
	}
	return 0, fmt.Errorf("not a number: %T", v)
}

// roundInt rounds f to an int64, or fails with errSumOverflow when it
// lies outside.
func roundInt(f float64) (int64, error) {
	r := math.Round(f)
	if !(r >= -(1<<63) && r < 1<<63) {
		return 0, errSumOverflow
	}
	return int64(r), nil
}

func float(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case int64:
		return float64(x), nil
	}
	if s, ok := text(v); ok {
		return strconv.ParseFloat(s, 64)
	}
	return 0, fmt.Errorf("not a number: %T", v)
}
