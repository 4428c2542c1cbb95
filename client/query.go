package client

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/codec"
)

// FormatFilter renders a filter expression as OData $filter text, before
// percent-encoding. Every literal is formatted by codec.FormatLiteral, so
// caller text is never pasted into the expression. Not of an In renders
// as NotIn (and the reverse), since the Web API refuses not before its
// query functions.
func FormatFilter(e eventual.Expr) (string, error) {
	var b strings.Builder
	if err := writeExpr(&b, e, ""); err != nil {
		return "", fmt.Errorf("format filter: %w", err)
	}
	return b.String(), nil
}

// writeExpr writes e; prefix is the lambda variable fields take ("" at
// the top level).
func writeExpr(b *strings.Builder, e eventual.Expr, prefix string) error {
	switch x := e.(type) {
	case eventual.Compare:
		return writeCompare(b, x, prefix)
	case eventual.Match:
		return writeMatch(b, x, prefix)
	case eventual.In:
		return writeIn(b, x, prefix)
	case eventual.And:
		return writeBinary(b, "and", x.Left, x.Right, prefix)
	case eventual.Or:
		return writeBinary(b, "or", x.Left, x.Right, prefix)
	case eventual.Not:
		if in, ok := x.X.(eventual.In); ok {
			in.Not = !in.Not
			return writeIn(b, in, prefix)
		}
		if h, ok := x.X.(eventual.Hierarchy); ok && !h.Above && !h.OrEqual {
			return writeHierarchy(b, h, prefix, true)
		}
		b.WriteString("not (")
		if err := writeExpr(b, x.X, prefix); err != nil {
			return err
		}
		b.WriteString(")")
		return nil
	case eventual.Any:
		return writeAny(b, x, prefix)
	case eventual.Hierarchy:
		return writeHierarchy(b, x, prefix, false)
	case eventual.Const:
		b.WriteString(strconv.FormatBool(x.Value))
		return nil
	case nil:
		return errors.New("nil expression")
	}
	return fmt.Errorf("unsupported expression %T", e)
}

func writeBinary(b *strings.Builder, op string, l, r eventual.Expr, prefix string) error {
	b.WriteString("(")
	if err := writeExpr(b, l, prefix); err != nil {
		return err
	}
	b.WriteString(" " + op + " ")
	if err := writeExpr(b, r, prefix); err != nil {
		return err
	}
	b.WriteString(")")
	return nil
}

// fieldPath returns the property path of a field: single-valued
// navigation properties, then the column's value property.
func fieldPath(f eventual.Field, prefix string) (string, error) {
	if f.Column == nil {
		return "", errors.New("field without a column")
	}
	var segs []string
	if prefix != "" {
		segs = append(segs, prefix)
	}
	for _, r := range f.Path {
		if r == nil || r.ReferencingNavigation == "" {
			return "", fmt.Errorf("field %s: a path relationship has no single-valued navigation property", f.Column.LogicalName)
		}
		segs = append(segs, r.ReferencingNavigation)
	}
	return strings.Join(append(segs, f.Column.ValueProperty()), "/"), nil
}

func writeOperand(b *strings.Builder, o eventual.Operand, other eventual.Operand, prefix string) error {
	switch x := o.(type) {
	case eventual.Field:
		p, err := fieldPath(x, prefix)
		if err != nil {
			return err
		}
		b.WriteString(p)
		return nil
	case eventual.Literal:
		f, ok := other.(eventual.Field)
		if !ok || f.Column == nil {
			return errors.New("a literal must be compared with a field")
		}
		s, err := literal(f.Column, x.Value)
		if err != nil {
			return err
		}
		b.WriteString(s)
		return nil
	}
	return fmt.Errorf("unsupported operand %T", o)
}

func writeCompare(b *strings.Builder, c eventual.Compare, prefix string) error {
	if c.Op < eventual.OpEq || c.Op > eventual.OpLe {
		return fmt.Errorf("unknown comparison operator %d", c.Op)
	}
	if err := writeOperand(b, c.Left, c.Right, prefix); err != nil {
		return err
	}
	b.WriteString(" " + c.Op.String() + " ")
	return writeOperand(b, c.Right, c.Left, prefix)
}

func writeMatch(b *strings.Builder, m eventual.Match, prefix string) error {
	name := map[eventual.MatchKind]string{eventual.MatchContains: "contains", eventual.MatchStartsWith: "startswith", eventual.MatchEndsWith: "endswith"}[m.Kind]
	if name == "" {
		return fmt.Errorf("unknown match kind %d", m.Kind)
	}
	p, err := fieldPath(m.Field, prefix)
	if err != nil {
		return err
	}
	if !m.Field.Column.Type.IsText() {
		return fmt.Errorf("%s on %s: not a text column", name, m.Field.Column.LogicalName)
	}
	s, err := literal(m.Field.Column, m.Pattern)
	if err != nil {
		return err
	}
	b.WriteString(name + "(" + p + "," + s + ")")
	return nil
}

// quote renders s as an OData string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// writeHierarchy writes a hierarchy condition as its query function
// (Microsoft.Dynamics.CRM.Under(PropertyName='accountid',PropertyValue='…')),
// or negated, an Under as NotUnder.
func writeHierarchy(b *strings.Builder, h eventual.Hierarchy, prefix string, not bool) error {
	if prefix != "" {
		return errors.New("a hierarchy condition inside any/all is not supported by the Web API's PropertyName")
	}
	p, err := fieldPath(h.Field, "")
	if err != nil {
		return err
	}
	name := "Under"
	switch {
	case not:
		name = "NotUnder"
	case h.Above:
		name = "Above"
	}
	if h.OrEqual {
		name += "OrEqual"
	}
	fmt.Fprintf(b, "Microsoft.Dynamics.CRM.%s(PropertyName=%s,PropertyValue=%s)", name, quote(p), quote(h.ID.String()))
	return nil
}

func writeIn(b *strings.Builder, in eventual.In, prefix string) error {
	if prefix != "" {
		return errors.New("In inside any/all is not supported by the Web API's PropertyName")
	}
	p, err := fieldPath(in.Field, "")
	if err != nil {
		return err
	}
	name := "In"
	if in.Not {
		name = "NotIn"
	}
	vals := make([]string, len(in.Values))
	for i, v := range in.Values {
		if v == nil {
			return fmt.Errorf("%s on %s: a null value", name, p)
		}
		s, err := literal(in.Field.Column, v)
		if err != nil {
			return err
		}
		if str, ok := v.(string); ok {
			s = str // the value itself, not its OData literal
		}
		// Dataverse reads PropertyValues as a JSON array of strings: a
		// single-quoted 'O''Brian' is "Invalid JSON" there, "O'Brian"
		// is not (filter-rows.md, Manage single quotes).
		vals[i] = string(codec.AppendString(nil, s))
	}
	fmt.Fprintf(b, "Microsoft.Dynamics.CRM.%s(PropertyName=%s,PropertyValues=[%s])", name, quote(p), strings.Join(vals, ","))
	return nil
}

func writeAny(b *strings.Builder, a eventual.Any, prefix string) error {
	if a.Relationship == nil || a.Relationship.ReferencedNavigation == "" {
		return errors.New("any/all without a collection-valued navigation property")
	}
	if prefix != "" {
		return errors.New("any/all nested in a lambda is not supported")
	}
	op := "any"
	if a.All {
		op = "all"
	}
	b.WriteString(a.Relationship.ReferencedNavigation + "/" + op + "(")
	if a.Filter != nil {
		b.WriteString("o:")
		if err := writeExpr(b, a.Filter, "o"); err != nil {
			return err
		}
	} else if a.All {
		b.WriteString("o:true")
	}
	b.WriteString(")")
	return nil
}

// Escape percent-encodes an option value for a URL query string: like
// url.QueryEscape, but with spaces as %20, which every OData parser reads.
func Escape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// Encode encodes query options as a URL query string with Escape, keys
// sorted; use it rather than url.Values.Encode, which writes spaces as +.
func Encode(v url.Values) string {
	return strings.ReplaceAll(v.Encode(), "+", "%20")
}

// QueryOptions returns the $select, $filter, $orderby and $expand options
// of a query. q.Limit is a page size, which the Web API takes as the
// header Prefer: odata.maxpagesize, so it is not written; top, when
// positive, is written as $top. q.After is not written either: continue
// with AfterFilter.
func QueryOptions(q *eventual.Query, expand []eventual.Expand, top int) (url.Values, error) {
	v := url.Values{}
	if len(q.Columns) > 0 {
		v.Set("$select", selectList(q.Columns))
	}
	if q.Filter != nil {
		f, err := FormatFilter(q.Filter)
		if err != nil {
			return nil, fmt.Errorf("query options: %w", err)
		}
		v.Set("$filter", f)
	}
	if len(q.OrderBy) > 0 {
		v.Set("$orderby", orderList(q.OrderBy))
	}
	if top > 0 {
		v.Set("$top", strconv.Itoa(top))
	}
	if len(expand) > 0 {
		s, err := expandList(expand)
		if err != nil {
			return nil, fmt.Errorf("query options: %w", err)
		}
		v.Set("$expand", s)
	}
	return v, nil
}

func selectList(cols []*eventual.Column) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.ValueProperty()
	}
	return strings.Join(names, ",")
}

func orderList(os []eventual.Order) string {
	terms := make([]string, len(os))
	for i, o := range os {
		terms[i], _ = fieldPath(o.Field(), "")
		if o.Desc {
			terms[i] += " desc"
		}
	}
	return strings.Join(terms, ",")
}

// expandList renders $expand items with their nested options.
func expandList(es []eventual.Expand) (string, error) {
	items := make([]string, len(es))
	for i, e := range es {
		var opts []string
		if len(e.Columns) > 0 {
			opts = append(opts, "$select="+selectList(e.Columns))
		}
		if e.Filter != nil {
			f, err := FormatFilter(e.Filter)
			if err != nil {
				return "", fmt.Errorf("expand %s: %w", e.Navigation, err)
			}
			opts = append(opts, "$filter="+f)
		}
		if len(e.OrderBy) > 0 {
			opts = append(opts, "$orderby="+orderList(e.OrderBy))
		}
		if e.Top > 0 {
			opts = append(opts, "$top="+strconv.Itoa(e.Top))
		} else if e.Top < 0 {
			opts = append(opts, "$top=0")
		}
		if len(e.Expand) > 0 {
			s, err := expandList(e.Expand)
			if err != nil {
				return "", fmt.Errorf("expand %s: %w", e.Navigation, err)
			}
			opts = append(opts, "$expand="+s)
		}
		items[i] = e.Navigation
		if len(opts) > 0 {
			items[i] += "(" + strings.Join(opts, ";") + ")"
		}
	}
	return strings.Join(items, ","), nil
}

// AfterFilter turns q.After (the OrderBy values of the last record read,
// then its primary key) into a filter selecting the records strictly after
// it in the query's order (OrderBy, then primary key ascending; nulls
// first ascending and last descending, as the stores sort), so a client
// continues a page without a skip token. It returns nil for no After.
// Lookup orders are refused: the server sorts them by the referenced
// record's name, which the filter cannot express.
func AfterFilter(q *eventual.Query) (eventual.Expr, error) {
	if len(q.After) == 0 {
		return nil, nil
	}
	if len(q.After) != len(q.OrderBy)+1 {
		return nil, fmt.Errorf("after filter: %d after values for %d orders and the primary key", len(q.After), len(q.OrderBy))
	}
	orders := append(append([]eventual.Order(nil), q.OrderBy...), eventual.Order{Column: q.Table.PrimaryKey()})
	var out eventual.Expr
	for i := len(orders) - 1; i >= 0; i-- {
		o := orders[i]
		if o.Column.Type.IsLookup() && i < len(orders)-1 {
			return nil, fmt.Errorf("after filter: order on lookup %s", o.Column.LogicalName)
		}
		f := o.Field()
		v := q.After[i]
		strict := after(f, v, o.Desc)
		if out == nil {
			out = strict
			continue
		}
		eq := eventual.Compare{Op: eventual.OpEq, Left: f, Right: eventual.Literal{Value: v}}
		out = eventual.Or{Left: strict, Right: eventual.And{Left: eq, Right: out}}
	}
	return out, nil
}

// after is the test for values strictly after v in one order term.
func after(f eventual.Field, v any, desc bool) eventual.Expr {
	notNull := eventual.Compare{Op: eventual.OpNe, Left: f, Right: eventual.Literal{}}
	switch {
	case v == nil && !desc:
		return notNull // nulls come first
	case v == nil:
		return eventual.Const{Value: false} // nothing after null descending
	case !desc:
		return eventual.Compare{Op: eventual.OpGt, Left: f, Right: eventual.Literal{Value: v}}
	}
	lt := eventual.Compare{Op: eventual.OpLt, Left: f, Right: eventual.Literal{Value: v}}
	return eventual.Or{Left: lt, Right: eventual.Compare{Op: eventual.OpEq, Left: f, Right: eventual.Literal{}}}
}

// literal formats v with codec.FormatLiteral, refusing strings the Web
// API's lexer refuses (NUL or invalid UTF-8) rather than sending them.
func literal(c *eventual.Column, v any) (string, error) {
	if s, ok := v.(string); ok && (!utf8.ValidString(s) || strings.ContainsRune(s, 0)) {
		return "", fmt.Errorf("literal for %s: NUL or invalid UTF-8 has no OData string literal", c.LogicalName)
	}
	s, err := codec.FormatLiteral(c, v)
	if err != nil {
		return "", fmt.Errorf("literal: %w", err)
	}
	return s, nil
}
