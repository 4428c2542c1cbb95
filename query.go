package eventual

import (
	"fmt"

	"github.com/google/uuid"
)

// Query selects records of one table: a filter, an order and a window.
// The binder in the Web API builds queries from $filter, $orderby and
// paging; stores execute them.
type Query struct {
	// Table is the table queried.
	Table *Table
	// Columns limits the values read; nil reads every column.
	Columns []*Column
	// Filter selects rows; nil selects all.
	Filter Expr
	// OrderBy orders rows. Stores always break ties by primary key
	// ascending, so the order is total and keyset paging is stable.
	OrderBy []Order
	// Limit bounds the number of rows returned; 0 means no bound.
	Limit int
	// After continues a previous page: the values of the OrderBy columns of
	// the last row returned, followed by its primary key. Only rows strictly
	// after it in the query's order are returned, so rows inserted or
	// deleted meanwhile never shift the pages.
	After []any
}

// Expand asks for related records along a navigation property: the
// record a lookup references (single-valued) or the records that reference
// this one (collection-valued).
type Expand struct {
	// Navigation is the navigation property's name.
	Navigation string
	// Relationship is the relationship behind it.
	Relationship *Relationship
	// Collection is true for a one-to-many (collection-valued) navigation.
	Collection bool
	// Columns limits the related columns; nil reads all.
	Columns []*Column
	// Filter selects related records (for a single-valued navigation, the
	// related record is left out unless it matches). OrderBy and Top shape
	// a collection-valued expansion; Top 0 means no bound and a negative
	// Top means none at all ($top=0).
	Filter  Expr
	OrderBy []Order
	Top     int
	// Expand nests further expansions.
	Expand []Expand
}

// Order is one term of an ORDER BY: a column of the queried table, or of
// a table reached through single-valued navigations (Path, outermost
// first; a record without a related one sorts as null).
type Order struct {
	Path   []*Relationship
	Column *Column
	Desc   bool
	// Label sorts a choice column by its options' labels instead of
	// their values, as FetchXML does unless useraworderby is set
	// (fetchxml/order-rows.md; the Web API's $orderby sorts by value).
	Label bool
}

// SortsAsText reports whether the order's sort keys are text: a lookup
// sorts by the referenced record's primary name, a labelled choice by its
// label.
func (o Order) SortsAsText() bool {
	return o.Column.Type.IsLookup() || o.Label && o.Column.Type == TypeChoice
}

// Field is the field the order sorts by.
func (o Order) Field() Field { return Field{Path: o.Path, Column: o.Column} }

// Expr is a boolean filter expression.
type Expr interface{ isExpr() }

// Operand is a side of a comparison: a Field or a Literal.
type Operand interface{ isOperand() }

// Field names a column of the queried table, or of a table reached through
// single-valued navigation properties (Path, outermost first).
type Field struct {
	Path   []*Relationship
	Column *Column
}

// Literal is a constant of the type of the column it is compared with.
type Literal struct{ Value any }

// CompareOp is a comparison operator.
type CompareOp int

// Comparison operators.
const (
	OpEq CompareOp = iota
	OpNe
	OpGt
	OpGe
	OpLt
	OpLe
)

// String returns the OData name of the operator.
func (o CompareOp) String() string {
	return [...]string{"eq", "ne", "gt", "ge", "lt", "le"}[o]
}

// Compare compares two operands. Comparing with a null Literal tests for
// null (eq) or not null (ne). String comparisons ignore case, as Dataverse's
// do.
type Compare struct {
	Op          CompareOp
	Left, Right Operand
}

// MatchKind is a string-matching function.
type MatchKind int

// String-matching functions.
const (
	MatchContains MatchKind = iota
	MatchStartsWith
	MatchEndsWith
	// MatchLike matches the whole text against the pattern as given
	// (Microsoft.Dynamics.CRM.Like, FetchXML's like).
	MatchLike
)

// Match tests a string column against a pattern, ignoring case. The
// pattern keeps SQL LIKE wildcards (% and _), as Dataverse honours them.
type Match struct {
	Kind    MatchKind
	Field   Field
	Pattern string
}

// In tests membership of a column value in a list (Not negates it).
type In struct {
	Field  Field
	Values []any
	Not    bool
}

// And is a conjunction.
type And struct{ Left, Right Expr }

// Or is a disjunction.
type Or struct{ Left, Right Expr }

// Not negates an expression.
type Not struct{ X Expr }

// Any tests the records related through a one-to-many relationship: at
// least one matches Filter (All false), or all of them do (All true). A nil
// Filter with All false tests that at least one related record exists.
type Any struct {
	Relationship *Relationship
	Filter       Expr
	All          bool
}

// Const is a constant truth value.
type Const struct{ Value bool }

// Join tests that records of Table exist whose column From equals the
// field To of the record tested, and that match Filter (whose fields are
// Table's): FetchXML's link-entity on columns no relationship joins
// (join-tables.md, No relationship). Text compares ignoring case.
type Join struct {
	Table  *Table
	From   *Column
	To     Field
	Filter Expr
}

// MaxHierarchyDepth bounds the levels a hierarchy condition walks, as
// Dataverse limits hierarchical queries to 100 recursions.
const MaxHierarchyDepth = 100

// Hierarchy tests a record's place in its table's hierarchy, the
// self-referencing Relationship (Table.Hierarchical): below the record ID
// (Above false: its children, their children, …) or above it (its
// parent, the parent's parent, …), and the record itself when OrEqual.
// Field is the primary key of the records tested.
type Hierarchy struct {
	Field        Field
	Relationship *Relationship
	ID           uuid.UUID
	Above        bool
	OrEqual      bool
}

// HierarchyOperators are the hierarchy conditions by their Web API names
// (Microsoft.Dynamics.CRM.Under, …); FetchXML's operators are their
// kebab-case forms (under, eq-or-under, not-under, above, eq-or-above).
var HierarchyOperators = map[string]struct{ Above, OrEqual, Not bool }{
	"Under": {}, "UnderOrEqual": {OrEqual: true}, "NotUnder": {Not: true},
	"Above": {Above: true}, "AboveOrEqual": {Above: true, OrEqual: true},
}

// HierarchyCondition builds the hierarchy condition named op (a key of
// HierarchyOperators) on the field f, which must be the primary key of a
// table with a hierarchical relationship.
func HierarchyCondition(op string, f Field, id uuid.UUID) (Expr, error) {
	spec, ok := HierarchyOperators[op]
	if !ok {
		return nil, fmt.Errorf("%s is no hierarchy operator", op)
	}
	t := f.Column.Table()
	if t == nil || t.PrimaryKey() != f.Column {
		return nil, fmt.Errorf("the hierarchy operator %s applies to the primary key of a table, not to %s", op, f.Column.LogicalName)
	}
	r := t.Hierarchical()
	if r == nil {
		return nil, fmt.Errorf("the hierarchy operator %s applies to a table with a hierarchical relationship, which %s has not", op, t.LogicalName)
	}
	var x Expr = Hierarchy{Field: f, Relationship: r, ID: id, Above: spec.Above, OrEqual: spec.OrEqual}
	if spec.Not {
		x = Not{X: x}
	}
	return x, nil
}

func (Compare) isExpr()   {}
func (Match) isExpr()     {}
func (In) isExpr()        {}
func (And) isExpr()       {}
func (Or) isExpr()        {}
func (Not) isExpr()       {}
func (Any) isExpr()       {}
func (Const) isExpr()     {}
func (Hierarchy) isExpr() {}
func (Join) isExpr()      {}

func (Field) isOperand()   {}
func (Literal) isOperand() {}

// MapFields returns x with fn applied to each of its fields. It reports
// false, and returns x unchanged, when x holds an Any: the fields of an
// Any's filter belong to the related table, which fn does not know.
func MapFields(x Expr, fn func(Field) Field) (Expr, bool) {
	switch e := x.(type) {
	case Compare:
		if f, ok := e.Left.(Field); ok {
			e.Left = fn(f)
		}
		if f, ok := e.Right.(Field); ok {
			e.Right = fn(f)
		}
		return e, true
	case Match:
		e.Field = fn(e.Field)
		return e, true
	case In:
		e.Field = fn(e.Field)
		return e, true
	case Hierarchy:
		e.Field = fn(e.Field)
		return e, true
	case Join:
		e.To = fn(e.To) // the filter's fields are the joined table's
		return e, true
	case And:
		l, ok1 := MapFields(e.Left, fn)
		r, ok2 := MapFields(e.Right, fn)
		if !ok1 || !ok2 {
			return x, false
		}
		return And{Left: l, Right: r}, true
	case Or:
		l, ok1 := MapFields(e.Left, fn)
		r, ok2 := MapFields(e.Right, fn)
		if !ok1 || !ok2 {
			return x, false
		}
		return Or{Left: l, Right: r}, true
	case Not:
		inner, ok := MapFields(e.X, fn)
		if !ok {
			return x, false
		}
		return Not{X: inner}, true
	case Const, nil:
		return x, true
	}
	return x, false
}
