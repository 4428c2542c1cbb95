package webapi

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/codec"
	"github.com/eventual-pp/eventual/odata"
	"github.com/google/uuid"
)

// This file binds parsed query options to the schema: $select, $filter,
// $orderby and $expand become eventual queries, rejecting what Dataverse
// rejects.

// bindSelect returns the columns a $select names; nil means all.
func bindSelect(t *eventual.Table, items []string) ([]*eventual.Column, error) {
	if items == nil {
		return nil, nil
	}
	cols := make([]*eventual.Column, 0, len(items))
	for _, it := range items {
		if it == "*" {
			return nil, nil
		}
		c := t.ColumnByProperty(it)
		if c == nil {
			return nil, errNoProperty(t, it)
		}
		dup := false
		for _, have := range cols {
			if have == c {
				dup = true
			}
		}
		if !dup {
			cols = append(cols, c)
		}
	}
	// A money column brings its record's currency along
	// (select-columns.md: "_transactioncurrencyid_value … is included
	// because revenue is a currency property").
	if cur := t.Column(eventual.ColumnCurrency); cur != nil && !slices.Contains(cols, cur) &&
		slices.ContainsFunc(cols, func(c *eventual.Column) bool { return c.Type == eventual.TypeMoney }) {
		cols = append(cols, cur)
	}
	return cols, nil
}

// scope is what names in a filter refer to: the table's columns and
// navigation properties, and lambda variables.
type scope struct {
	table *eventual.Table
	vars  map[string]*eventual.Table
}

var opKinds = map[string]string{"eq": "Equal", "ne": "NotEqual", "gt": "GreaterThan", "ge": "GreaterThanOrEqual", "lt": "LessThan", "le": "LessThanOrEqual"}

var compareOps = map[string]eventual.CompareOp{"eq": eventual.OpEq, "ne": eventual.OpNe, "gt": eventual.OpGt, "ge": eventual.OpGe, "lt": eventual.OpLt, "le": eventual.OpLe}

// bindFilter binds a $filter expression for a table.
func (q *request) bindFilter(t *eventual.Table, n odata.Node) (eventual.Expr, error) {
	if n == nil {
		return nil, nil
	}
	return q.filterExpr(scope{table: t}, n)
}

func (q *request) filterExpr(sc scope, n odata.Node) (eventual.Expr, error) {
	switch x := n.(type) {
	case *odata.Binary:
		switch x.Op {
		case "and", "or":
			l, err := q.filterExpr(sc, x.Left)
			if err != nil {
				return nil, err
			}
			r, err := q.filterExpr(sc, x.Right)
			if err != nil {
				return nil, err
			}
			if x.Op == "and" {
				return eventual.And{Left: l, Right: r}, nil
			}
			return eventual.Or{Left: l, Right: r}, nil
		}
		return q.comparison(sc, x)
	case *odata.Not:
		if c, ok := x.X.(*odata.Call); ok && strings.HasPrefix(c.Name, "Microsoft.Dynamics.CRM.") {
			return nil, errBadRequest("Not operator along with the Custom Named Condition operators is not allowed")
		}
		inner, err := q.filterExpr(sc, x.X)
		if err != nil {
			return nil, err
		}
		return eventual.Not{X: inner}, nil
	case *odata.Call:
		return q.call(sc, x)
	case *odata.Lambda:
		return q.lambda(sc, x)
	case *odata.Path:
		f, err := q.field(sc, x)
		if err != nil {
			return nil, err
		}
		if f.Column.Type != eventual.TypeBoolean {
			return nil, errBadRequest("The $filter expression must evaluate to a single boolean value; '%s' is %s.", x, codec.EdmType(f.Column))
		}
		return eventual.Compare{Op: eventual.OpEq, Left: f, Right: eventual.Literal{Value: true}}, nil
	case *odata.Literal:
		v, err := q.resolveAlias(x)
		if err != nil {
			return nil, err
		}
		if p, ok := v.(*odata.Path); ok {
			return q.filterExpr(sc, p) // an alias of a Boolean column
		}
		if l, ok := v.(*odata.Literal); ok && l.Kind == odata.LitBool {
			return eventual.Const{Value: l.Value == "true"}, nil
		}
	}
	return nil, errBadRequest("The $filter expression must evaluate to a single boolean value.")
}

// field resolves a property path: a column, a lookup's _x_value, a column
// reached through single-valued navigation properties, or a lambda
// variable's column.
func (q *request) field(sc scope, p *odata.Path) (eventual.Field, error) {
	segs := p.Segments
	t := sc.table
	if vt, ok := sc.vars[segs[0]]; ok {
		t = vt
		segs = segs[1:]
		if len(segs) == 0 {
			return eventual.Field{}, errBadRequest("The lambda variable '%s' must be followed by a property.", p.Segments[0])
		}
	}
	var path []*eventual.Relationship
	for _, s := range segs[:len(segs)-1] {
		r := t.Navigation(s)
		if r == nil {
			return eventual.Field{}, errNoProperty(t, s)
		}
		if t.IsCollectionNavigation(s) {
			return eventual.Field{}, errBadRequest("The navigation property '%s' is collection-valued; use any() or all() to filter on it.", s)
		}
		path = append(path, r)
		t = r.ReferencedTable
	}
	last := segs[len(segs)-1]
	c := t.ColumnByProperty(last)
	if c == nil {
		return eventual.Field{}, errNoProperty(t, last)
	}
	return eventual.Field{Path: path, Column: c}, nil
}

func (q *request) comparison(sc scope, x *odata.Binary) (eventual.Expr, error) {
	op, ok := compareOps[x.Op]
	if !ok {
		return nil, errBadRequest("The operator '%s' is not supported.", x.Op)
	}
	left, err := q.resolveAlias(x.Left)
	if err != nil {
		return nil, err
	}
	right, err := q.resolveAlias(x.Right)
	if err != nil {
		return nil, err
	}
	lp, lIsPath := left.(*odata.Path)
	rp, rIsPath := right.(*odata.Path)
	ll, lIsLit := left.(*odata.Literal)
	rl, rIsLit := right.(*odata.Literal)
	switch {
	case lIsPath && rIsPath:
		lf, err := q.field(sc, lp)
		if err != nil {
			return nil, err
		}
		rf, err := q.field(sc, rp)
		if err != nil {
			return nil, err
		}
		if codec.EdmType(lf.Column) != codec.EdmType(rf.Column) {
			return nil, errBadRequest("A binary operator with incompatible types was detected. Found operand types '%s' and '%s' for operator kind '%s'.", codec.EdmType(lf.Column), codec.EdmType(rf.Column), opKinds[x.Op])
		}
		return eventual.Compare{Op: op, Left: lf, Right: rf}, nil
	case lIsPath && rIsLit:
		return q.compareLiteral(sc, op, x.Op, lp, rl, false)
	case lIsLit && rIsPath:
		return q.compareLiteral(sc, op, x.Op, rp, ll, true)
	}
	return nil, errBadRequest("Comparisons in $filter need a property on at least one side of '%s'.", x.Op)
}

func (q *request) compareLiteral(sc scope, op eventual.CompareOp, name string, p *odata.Path, l *odata.Literal, flipped bool) (eventual.Expr, error) {
	f, err := q.field(sc, p)
	if err != nil {
		return nil, err
	}
	v, err := codec.LiteralValue(f.Column, l)
	if err != nil {
		var le *codec.LiteralError
		if errors.As(err, &le) {
			return nil, errBadRequest("%s", strings.Replace(le.Msg, "'Equal'", "'"+opKinds[name]+"'", 1))
		}
		return nil, err
	}
	if v == nil && op != eventual.OpEq && op != eventual.OpNe {
		return eventual.Const{Value: false}, nil
	}
	if f.Column.Type == eventual.TypeDecimal || f.Column.Type == eventual.TypeMoney {
		// Compare exactly with a literal finer than the column's
		// precision: stored values are multiples of 10^-precision.
		if flipped {
			op, flipped = flipOp(op), false
		}
		if e, ok, err := inexactDecimal(f, op, l.Value); err != nil {
			return nil, err
		} else if ok {
			return e, nil
		}
	}
	if flipped {
		return eventual.Compare{Op: op, Left: eventual.Literal{Value: v}, Right: f}, nil
	}
	return eventual.Compare{Op: op, Left: f, Right: eventual.Literal{Value: v}}, nil
}

func (q *request) stringArg(sc scope, n odata.Node, fn string) (string, error) {
	v, err := q.resolveAlias(n)
	if err != nil {
		return "", err
	}
	l, ok := v.(*odata.Literal)
	if !ok || l.Kind != odata.LitString {
		return "", errBadRequest("The function '%s' needs a string literal argument.", fn)
	}
	return l.Value, nil
}

// MaxInValues bounds the values of an In condition.
const MaxInValues = 5000

func (q *request) call(sc scope, c *odata.Call) (eventual.Expr, error) {
	switch c.Name {
	case "contains", "startswith", "endswith":
		return q.matchCall(sc, c)
	}
	name, ok := strings.CutPrefix(c.Name, "Microsoft.Dynamics.CRM.")
	if !ok {
		return nil, errBadRequest("An unknown function with name '%s' was found. This may also be a function import or a key lookup on a navigation property, which is not allowed.", c.Name)
	}
	fc, err := q.newFunctionCall(sc, c)
	if err != nil {
		return nil, err
	}
	switch name {
	case "In", "NotIn":
		vs, err := fc.values()
		if err != nil {
			return nil, err
		}
		return eventual.In{Field: fc.f, Values: vs, Not: name == "NotIn"}, nil
	case "Between", "NotBetween":
		vs, err := fc.values()
		if err != nil {
			return nil, err
		}
		if len(vs) != 2 {
			return nil, errBadRequest("The function '%s' needs exactly two PropertyValues.", c.Name)
		}
		between := eventual.And{Left: fc.cmp(eventual.OpGe, vs[0]), Right: fc.cmp(eventual.OpLe, vs[1])}
		if name == "NotBetween" {
			return eventual.Not{X: between}, nil
		}
		return between, nil
	case "Null":
		return fc.cmp(eventual.OpEq, nil), nil
	case "NotNull":
		return fc.cmp(eventual.OpNe, nil), nil
	case "Equal", "NotEqual", "GreaterThan", "GreaterEqual", "LessThan", "LessEqual", "Like", "NotLike", "BeginsWith", "EndsWith":
		return fc.compare(name)
	}
	if _, ok := eventual.HierarchyOperators[name]; ok {
		return fc.hierarchy(name)
	}
	if fc.f.Column.Type != eventual.TypeDateTime {
		return nil, errBadRequest("An unknown function with name '%s' was found. This may also be a function import or a key lookup on a navigation property, which is not allowed.", c.Name)
	}
	return q.dateFunction(c, name, fc.params, fc.f, fc.value)
}

// matchCall binds contains, startswith and endswith on a text property.
func (q *request) matchCall(sc scope, c *odata.Call) (eventual.Expr, error) {
	if len(c.Args) != 2 || len(c.Named) > 0 {
		return nil, errBadRequest("The function '%s' takes two arguments.", c.Name)
	}
	p, ok := c.Args[0].(*odata.Path)
	if !ok {
		return nil, errBadRequest("The first argument of '%s' must be a property.", c.Name)
	}
	f, err := q.field(sc, p)
	if err != nil {
		return nil, err
	}
	if !f.Column.Type.IsText() {
		return nil, errBadRequest("No function signature for the function with name '%s' matches the specified arguments. The function signatures considered are: %s(Edm.String Nullable=true, Edm.String Nullable=true).", c.Name, c.Name)
	}
	s, err := q.stringArg(sc, c.Args[1], c.Name)
	if err != nil {
		return nil, err
	}
	kind := map[string]eventual.MatchKind{"contains": eventual.MatchContains, "startswith": eventual.MatchStartsWith, "endswith": eventual.MatchEndsWith}[c.Name]
	return eventual.Match{Kind: kind, Field: f, Pattern: s}, nil
}

// functionCall is a call of a Dataverse query function
// (Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=[...])): its
// named parameters, aliases resolved, and the property it applies to.
type functionCall struct {
	c      *odata.Call
	params map[string]odata.Node
	pn     string // PropertyName
	f      eventual.Field
}

func (q *request) newFunctionCall(sc scope, c *odata.Call) (*functionCall, error) {
	if len(c.Args) > 0 {
		return nil, errBadRequest("The function '%s' takes named parameters (PropertyName=..., PropertyValue=...).", c.Name)
	}
	fc := &functionCall{c: c, params: map[string]odata.Node{}}
	for _, a := range c.Named {
		v, err := q.resolveAlias(a.Value)
		if err != nil {
			return nil, err
		}
		fc.params[a.Name] = v
	}
	pn, err := q.stringArg(sc, fc.params["PropertyName"], c.Name)
	if err != nil {
		return nil, errBadRequest("The function '%s' needs a PropertyName parameter.", c.Name)
	}
	fc.pn = pn
	if fc.f, err = q.field(sc, &odata.Path{Segments: strings.Split(pn, "/")}); err != nil {
		return nil, err
	}
	return fc, nil
}

// value converts a parameter value for the property. Query functions take
// values as strings whatever the property's type.
func (fc *functionCall) value(n odata.Node) (any, error) {
	l, ok := n.(*odata.Literal)
	if !ok {
		return nil, errBadRequest("The function '%s' needs literal values.", fc.c.Name)
	}
	col := fc.f.Column
	lit := *l
	if lit.Kind == odata.LitString {
		switch {
		case col.Type.IsNumeric():
			lit.Kind = odata.LitNumber
		case col.Type == eventual.TypeBoolean:
			lit.Kind = odata.LitBool
			if lit.Value == "1" {
				lit.Value = "true"
			} else if lit.Value == "0" {
				lit.Value = "false"
			}
		case col.Type == eventual.TypeDateTime:
			lit.Kind = odata.LitDateTime
		}
	}
	v, err := codec.LiteralValue(col, &lit)
	if err != nil {
		return nil, errBadRequest("The value %s is not valid for the property '%s' in function '%s': %v", l.String(), fc.pn, fc.c.Name, err)
	}
	return v, nil
}

// values converts the PropertyValues array.
func (fc *functionCall) values() ([]any, error) {
	arr, ok := fc.params["PropertyValues"].(*odata.Array)
	if !ok {
		return nil, errBadRequest("The function '%s' needs a PropertyValues array.", fc.c.Name)
	}
	if len(arr.Items) > MaxInValues {
		return nil, errBadRequest("The function '%s' accepts at most %d values.", fc.c.Name, MaxInValues)
	}
	out := make([]any, len(arr.Items))
	for i, it := range arr.Items {
		v, err := fc.value(it)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (fc *functionCall) cmp(op eventual.CompareOp, v any) eventual.Expr {
	return eventual.Compare{Op: op, Left: fc.f, Right: eventual.Literal{Value: v}}
}

// hierarchy binds Under, UnderOrEqual, NotUnder, Above and AboveOrEqual:
// PropertyName the table's primary key, PropertyValue a record's id.
func (fc *functionCall) hierarchy(name string) (eventual.Expr, error) {
	l, ok := fc.params["PropertyValue"].(*odata.Literal)
	if !ok {
		return nil, errBadRequest("The function '%s' needs a PropertyValue parameter.", fc.c.Name)
	}
	id, err := uuid.Parse(strings.Trim(l.Value, "{}"))
	if err != nil {
		return nil, errBadRequest("The PropertyValue %s of '%s' is not a valid Guid.", l.String(), fc.c.Name)
	}
	x, err := eventual.HierarchyCondition(name, fc.f, id)
	if err != nil {
		return nil, errBadRequest("The function '%s' cannot be used here: %v.", fc.c.Name, err)
	}
	return x, nil
}

// functionOps are the comparison functions and their operators.
var functionOps = map[string]eventual.CompareOp{
	"Equal": eventual.OpEq, "NotEqual": eventual.OpNe, "GreaterThan": eventual.OpGt,
	"GreaterEqual": eventual.OpGe, "LessThan": eventual.OpLt, "LessEqual": eventual.OpLe,
}

// compare binds the functions of one PropertyValue: the comparisons, and
// the text matches Like, NotLike, BeginsWith and EndsWith.
func (fc *functionCall) compare(name string) (eventual.Expr, error) {
	pv, ok := fc.params["PropertyValue"]
	if !ok {
		return nil, errBadRequest("The function '%s' needs a PropertyValue parameter.", fc.c.Name)
	}
	v, err := fc.value(pv)
	if err != nil {
		return nil, err
	}
	if op, ok := functionOps[name]; ok {
		return fc.cmp(op, v), nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, errBadRequest("The function '%s' applies to text properties only.", fc.c.Name)
	}
	switch name {
	case "Like":
		return eventual.Match{Kind: eventual.MatchLike, Field: fc.f, Pattern: s}, nil
	case "NotLike":
		return eventual.Not{X: eventual.Match{Kind: eventual.MatchLike, Field: fc.f, Pattern: s}}, nil
	case "BeginsWith":
		return eventual.Match{Kind: eventual.MatchStartsWith, Field: fc.f, Pattern: s}, nil
	}
	return eventual.Match{Kind: eventual.MatchEndsWith, Field: fc.f, Pattern: s}, nil
}

// dateFunction binds the date query functions (eventual.DateFunction).
// Times are UTC.
func (q *request) dateFunction(c *odata.Call, name string, params map[string]odata.Node, f eventual.Field, value func(odata.Node) (any, error)) (eventual.Expr, error) {
	fn, ok := eventual.LookupDateFunction(name)
	if !ok {
		return nil, errBadRequest("An unknown function with name '%s' was found. This may also be a function import or a key lookup on a navigation property, which is not allowed.", c.Name)
	}
	var n int
	var d time.Time
	switch fn.Arg {
	case eventual.DateArgCount:
		l, ok := params["PropertyValue"].(*odata.Literal)
		if !ok {
			return nil, errBadRequest("The function '%s' needs a PropertyValue parameter.", c.Name)
		}
		var err error
		n, err = strconv.Atoi(l.Value)
		if err != nil || n < 0 || n > eventual.MaxDateCount {
			return nil, errBadRequest("The PropertyValue of '%s' must be a non-negative whole number.", c.Name)
		}
	case eventual.DateArgDate:
		pv, ok := params["PropertyValue"]
		if !ok {
			return nil, errBadRequest("The function '%s' needs a PropertyValue parameter.", c.Name)
		}
		v, err := value(pv)
		if err != nil {
			return nil, err
		}
		if d, ok = v.(time.Time); !ok {
			return nil, errBadRequest("The function '%s' needs a date as PropertyValue.", c.Name)
		}
	}
	return fn.Filter(f, q.s.now(), n, d), nil
}

func (q *request) lambda(sc scope, l *odata.Lambda) (eventual.Expr, error) {
	if len(l.Collection.Segments) != 1 {
		return nil, errBadRequest("Lambda operators apply to a collection-valued navigation property of the queried table.")
	}
	nav := l.Collection.Segments[0]
	t := sc.table
	r := t.Navigation(nav)
	if r == nil {
		return nil, errNoProperty(t, nav)
	}
	if !t.IsCollectionNavigation(nav) {
		return nil, errBadRequest("The any/all operators apply to collection-valued navigation properties; '%s' is single-valued.", nav)
	}
	x := eventual.Any{Relationship: r, All: l.Op == "all"}
	if r.ManyToMany != nil {
		// Through the intersect: its records of this one whose other
		// record matches.
		x.Relationship = r.ManyToMany.From
	}
	if l.Body == nil {
		return x, nil
	}
	vars := map[string]*eventual.Table{l.Var: r.ReferencingTable}
	inner, err := q.filterExpr(scope{table: r.ReferencingTable, vars: vars}, l.Body)
	if err != nil {
		return nil, err
	}
	if r.ManyToMany != nil {
		if inner, err = throughIntersect(inner, r.ManyToMany.To); err != nil {
			return nil, err
		}
	}
	x.Filter = inner
	return x, nil
}

// bindOrderBy binds $orderby. Lookups sort by the referenced record's
// primary name, as Dataverse sorts them.
func bindOrderBy(t *eventual.Table, items []odata.OrderItem) ([]eventual.Order, error) {
	var out []eventual.Order
	for _, it := range items {
		if len(it.Path) != 1 {
			return nil, errBadRequest("$orderby on a property of a related table ('%s') is not supported.", strings.Join(it.Path, "/"))
		}
		c := t.ColumnByProperty(it.Path[0])
		if c == nil {
			return nil, errNoProperty(t, it.Path[0])
		}
		if c.Type == eventual.TypeMemo {
			return nil, errBadRequest("The property '%s' is a multiline text column and cannot be used in $orderby.", c.LogicalName)
		}
		out = append(out, eventual.Order{Column: c, Desc: it.Desc})
	}
	return out, nil
}

// expandSpec is a bound $expand item with what rendering needs.
type expandSpec struct {
	eventual.Expand
	ref        bool
	selectText []string // the $select items, for the context URL
	query      []string // the options as given, for the collection's nextLink
	children   []expandSpec
}

func domainExpands(specs []expandSpec) []eventual.Expand {
	if len(specs) == 0 {
		return nil
	}
	out := make([]eventual.Expand, 0, len(specs))
	for _, s := range specs {
		if s.Relationship == nil || s.Relationship.ManyToMany != nil {
			continue // read apart: a FetchXML join on columns, or by expandManyToMany
		}
		x := s.Expand
		x.Expand = domainExpands(s.children)
		out = append(out, x)
	}
	return out
}

// bindExpand binds $expand items for table t. nested is true below the
// first level.
func (q *request) bindExpand(t *eventual.Table, items []odata.ExpandItem, underCollection bool, depth int) ([]expandSpec, error) {
	var out []expandSpec
	for _, it := range items {
		r := t.Navigation(it.Path)
		if r == nil {
			return nil, errNoProperty(t, it.Path)
		}
		collection := t.IsCollectionNavigation(it.Path)
		spec := expandSpec{Expand: eventual.Expand{Navigation: it.Path, Relationship: r, Collection: collection}, ref: it.Ref}
		target := r.ReferencedTable
		if collection {
			target = r.ReferencingTable
		}
		if it.Ref {
			if collection {
				return nil, errBadRequest("Expand with $ref is only supported on lookup type navigation property.")
			}
			spec.Columns = []*eventual.Column{}
			out = append(out, spec)
			continue
		}
		if collection && underCollection {
			return nil, errBadRequest("The navigation property '%s' cannot be expanded. Only many-to-one relationships are supported for nested expansion under a collection.", it.Path)
		}
		if r.ManyToMany != nil && (depth > 0 || it.Options.Expand != nil || it.Options.OrderBy != nil || it.Options.Top != nil) {
			return nil, errBadRequest("The many-to-many navigation property '%s' can be expanded at the first level only, with $select and $filter.", it.Path)
		}
		o := it.Options
		// join-tables.md: $top and $orderby are supported on a single
		// $expand only, not on a many-to-one expansion or a collection
		// with a nested $expand under it or above it.
		if (!collection || depth > 0 || len(o.Expand) > 0) && (o.OrderBy != nil || o.Top != nil) {
			return nil, errBadRequest("Only $select and $filter clause can be provided while doing $expand on many-to-one relationship or nested one-to-many relationship.")
		}
		cols, err := bindSelect(target, o.Select)
		if err != nil {
			return nil, err
		}
		spec.Columns, spec.selectText, spec.query = cols, o.Select, it.Query
		if o.Filter != nil {
			f, err := q.bindFilter(target, o.Filter)
			if err != nil {
				return nil, err
			}
			spec.Filter = f
		}
		if spec.OrderBy, err = bindOrderBy(target, o.OrderBy); err != nil {
			return nil, err
		}
		if o.Top != nil {
			spec.Top = *o.Top
			if spec.Top == 0 {
				spec.Top = -1
			}
		}
		if len(o.Expand) > 0 {
			if spec.children, err = q.bindExpand(target, o.Expand, collection || underCollection, depth+1); err != nil {
				return nil, err
			}
		}
		out = append(out, spec)
	}
	return out, nil
}
