package eventual

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

// Order is one term of an ORDER BY.
type Order struct {
	Column *Column
	Desc   bool
}

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

func (Compare) isExpr() {}
func (Match) isExpr()   {}
func (In) isExpr()      {}
func (And) isExpr()     {}
func (Or) isExpr()      {}
func (Not) isExpr()     {}
func (Any) isExpr()     {}
func (Const) isExpr()   {}

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
