package sqlbuild

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/eventual-pp/eventual"
)

// AggOutput says how to read one column of an aggregate's result: the
// alias it belongs to and what it holds.
type AggOutput struct {
	Alias  string
	Column *eventual.Column // the column whose values it holds, if any
	Func   eventual.AggregateFunc
	Group  bool
	Date   eventual.DatePart
	// Type marks the type column of a customer lookup's group; Count the
	// count half of an average (the sum comes first).
	Type, Count bool
}

// datePart renders a date grouping as an integer expression.
func (b *Builder) datePart(expr string, p eventual.DatePart) string {
	switch p {
	case eventual.DateDay:
		return b.D.DatePart(expr, "day")
	case eventual.DateWeek:
		// Weeks start on Sunday; the days of 1 January's week are week 1.
		return "((" + b.D.DatePart(expr, "doy") + " - 1 + " + b.D.DatePart(expr, "jan1dow") + ") / 7 + 1)"
	case eventual.DateMonth:
		return b.D.DatePart(expr, "month")
	case eventual.DateQuarter:
		return "((" + b.D.DatePart(expr, "month") + " + 2) / 3)"
	case eventual.DateYear:
		return b.D.DatePart(expr, "year")
	}
	return expr
}

// Aggregate renders a grouped query and returns how to read its columns.
// An average is rendered as its sum and its count, divided by the
// reader, so that decimals stay exact.
func (b *Builder) Aggregate(a *eventual.Aggregate) ([]AggOutput, error) {
	t := a.Table
	al := b.alias()
	var cols, groups []string
	var outs []AggOutput
	var joins []string
	// Joins are rendered in the order they are made, which is the order
	// of their arguments.
	joined := ""
	if j := a.Join; j != nil {
		r := j.Relationship
		if r.Lookup == nil || r.ReferencedTable != t {
			return nil, fmt.Errorf("sqlbuild: join of %s, not a one-to-many relationship of %s", r.SchemaName, t.LogicalName)
		}
		joined = b.alias()
		on := qualify(joined, r.Lookup.LogicalName) + " = " + qualify(al, t.PrimaryIDAttribute)
		if r.Lookup.Type == eventual.TypeCustomer {
			on += " AND " + qualify(joined, TypeColumn(r.Lookup)) + " = " + b.Arg(t.LogicalName)
		}
		if j.Filter != nil {
			w, err := b.expr(j.Filter, r.ReferencingTable, joined)
			if err != nil {
				return nil, err
			}
			on += " AND " + w
		}
		kind := " JOIN "
		if j.Outer {
			kind = " LEFT JOIN "
		}
		joins = append(joins, kind+Quote(r.ReferencingTable.LogicalName)+" AS "+joined+" ON "+on)
	}
	// source returns the alias a column's values are read from: the
	// table's, the joined table's, or a many-to-one path's end, joined
	// once per path.
	paths := map[string]string{}
	source := func(isJoined bool, path []*eventual.Relationship) (string, error) {
		src, key := al, ""
		if isJoined {
			if joined == "" {
				return "", fmt.Errorf("sqlbuild: a joined column without a join")
			}
			src, key = joined, "join"
		}
		for _, r := range path {
			if r.Lookup == nil {
				return "", fmt.Errorf("sqlbuild: grouping through %s, not a many-to-one relationship", r.SchemaName)
			}
			key += "/" + r.SchemaName
			if next, ok := paths[key]; ok {
				src = next
				continue
			}
			next := b.alias()
			on := qualify(next, r.ReferencedTable.PrimaryIDAttribute) + " = " + qualify(src, r.Lookup.LogicalName)
			if r.Lookup.Type == eventual.TypeCustomer {
				on += " AND " + qualify(src, TypeColumn(r.Lookup)) + " = " + b.Arg(r.ReferencedTable.LogicalName)
			}
			joins = append(joins, " LEFT JOIN "+Quote(r.ReferencedTable.LogicalName)+" AS "+next+" ON "+on)
			paths[key], src = next, next
		}
		return src, nil
	}
	pos := map[string]int{} // alias → 1-based select position
	for _, g := range a.GroupBy {
		src, err := source(g.Joined, g.Path)
		if err != nil {
			return nil, err
		}
		expr := qualify(src, g.Column.LogicalName)
		sel := expr
		if g.Column.Type.IsText() && g.Date == eventual.DateValue {
			// Text groups ignore case, as Dataverse's do: one group per
			// folded value, shown in the first of its spellings.
			sel, expr = "MIN("+b.D.Binary(expr)+")", b.D.Text(expr)
		}
		if g.Date != eventual.DateValue {
			if g.Column.Type != eventual.TypeDateTime {
				return nil, fmt.Errorf("sqlbuild: date grouping of %s, not a datetime", g.Column.LogicalName)
			}
			expr = b.datePart(expr, g.Date)
			sel = expr
		}
		pos[g.Alias] = len(cols) + 1
		cols, groups = append(cols, sel), append(groups, expr)
		outs = append(outs, AggOutput{Alias: g.Alias, Column: g.Column, Group: true, Date: g.Date})
		if g.Column.Type == eventual.TypeCustomer && g.Date == eventual.DateValue {
			te := qualify(src, TypeColumn(g.Column))
			cols, groups = append(cols, te), append(groups, te)
			outs = append(outs, AggOutput{Alias: g.Alias, Column: g.Column, Group: true, Type: true})
		}
	}
	for _, v := range a.Values {
		var expr string
		var col string
		if v.Column != nil {
			src, err := source(v.Joined, v.Path)
			if err != nil {
				return nil, err
			}
			col = qualify(src, v.Column.LogicalName)
		}
		switch v.Func {
		case eventual.AggCount:
			expr = "COUNT(*)"
		case eventual.AggCountColumn:
			expr = "COUNT(" + col + ")"
		case eventual.AggCountDistinct:
			expr = "COUNT(DISTINCT " + col + ")"
		case eventual.AggSum, eventual.AggAvg:
			expr = "SUM(" + col + ")"
		case eventual.AggMin:
			expr = "MIN(" + col + ")"
		case eventual.AggMax:
			expr = "MAX(" + col + ")"
		default:
			return nil, fmt.Errorf("sqlbuild: unknown aggregate %d", v.Func)
		}
		pos[v.Alias] = len(cols) + 1
		cols = append(cols, expr)
		outs = append(outs, AggOutput{Alias: v.Alias, Column: v.Column, Func: v.Func})
		if v.Func == eventual.AggAvg {
			cols = append(cols, "COUNT("+col+")")
			outs = append(outs, AggOutput{Alias: v.Alias, Column: v.Column, Func: v.Func, Count: true})
		}
	}
	b.Write("SELECT ").Write(strings.Join(cols, ", ")).Write(" FROM ").Write(Quote(t.LogicalName)).Write(" AS ").Write(al)
	b.Write(strings.Join(joins, ""))
	if a.Filter != nil {
		w, err := b.expr(a.Filter, t, al)
		if err != nil {
			return nil, err
		}
		b.Write(" WHERE ").Write(w)
	}
	if len(groups) > 0 {
		b.Write(" GROUP BY ").Write(strings.Join(groups, ", "))
	}
	var order []string
	for _, o := range a.OrderBy {
		p, ok := pos[o.Alias]
		if !ok {
			return nil, fmt.Errorf("sqlbuild: order by %q, which is no alias of the query", o.Alias)
		}
		dir := " ASC"
		if o.Desc {
			dir = " DESC"
		}
		order = append(order, strconv.Itoa(p)+dir+b.D.NullsOrder(o.Desc))
	}
	for _, g := range groups {
		order = append(order, g+" ASC"+b.D.NullsOrder(false))
	}
	if len(order) > 0 {
		b.Write(" ORDER BY ").Write(strings.Join(order, ", "))
	}
	if a.Limit > 0 {
		b.Write(" LIMIT ").Write(strconv.Itoa(a.Limit))
	}
	return outs, nil
}
