package sqlbuild

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// Dialect is what differs between SQL databases.
type Dialect interface {
	// Placeholder returns the parameter marker for the n-th argument
	// (1-based): "?" or "$n".
	Placeholder(n int) string
	// ColumnType returns the SQL type of a column.
	ColumnType(c *eventual.Column) string
	// Encode converts a column value to the driver value stored for it.
	Encode(c *eventual.Column, v any) (any, error)
	// Decode converts a driver value read from a column to a column value.
	Decode(c *eventual.Column, v any) (any, error)
	// Text wraps an expression of a text column in the store's SQL form of
	// eventual.FoldCase, so that comparisons and ordering ignore case by
	// the one rule every store shares. The other side of a comparison is a
	// parameter folded in Go (Builder.TextArg) or another Text expression.
	Text(expr string) string
	// Like returns a LIKE test of the folded expr (Text) against a pattern
	// parameter that is folded already, with backslash as escape
	// character.
	Like(expr, pattern string) string
	// SetMatch returns a test of the folded expr against a wildcard
	// pattern with bracket sets (ParsePattern's parts, folded already),
	// binding what it needs through arg.
	SetMatch(expr string, parts []PatternPart, arg func(any) string) string
	// NullsOrder returns the suffix that puts nulls first in ascending
	// order and last in descending order ("" where that is the default).
	NullsOrder(desc bool) string
	// Bool returns the literal for a truth value.
	Bool(v bool) string
	// DatePart returns an integer expression of a part of a datetime
	// column's UTC date: "day" (of month), "doy" (day of year), "month",
	// "year", or "jan1dow" (the weekday of 1 January of its year, Sunday
	// 0).
	DatePart(expr, part string) string
	// Binary returns a text expression that compares by code point
	// (PostgreSQL's columns do already; SQLite's ignore ASCII case).
	Binary(expr string) string
}

// Quote quotes an identifier.
func Quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// TypeColumn returns the name of the SQL column that holds the target table
// of a customer lookup, as Dataverse names it ("parentcustomeridtype").
func TypeColumn(c *eventual.Column) string { return c.LogicalName + "type" }

// Builder accumulates SQL text and arguments.
type Builder struct {
	D    Dialect
	Args []any
	sb   strings.Builder
	next int
}

// New returns a builder for a dialect.
func New(d Dialect) *Builder { return &Builder{D: d} }

// String returns the SQL built so far.
func (b *Builder) String() string { return b.sb.String() }

// Write appends SQL text.
func (b *Builder) Write(s string) *Builder { b.sb.WriteString(s); return b }

// Arg appends a parameter and returns its placeholder.
func (b *Builder) Arg(v any) string {
	b.Args = append(b.Args, v)
	return b.D.Placeholder(len(b.Args))
}

// TextArg appends a parameter compared with a Text expression: a string is
// folded by eventual.FoldCase first, so both sides follow one rule.
func (b *Builder) TextArg(v any) string {
	if s, ok := v.(string); ok {
		v = eventual.FoldCase(s)
	}
	return b.Arg(v)
}

func (b *Builder) alias() string {
	b.next++
	return "t" + strconv.Itoa(b.next)
}

// ColumnList returns the SQL columns that hold the values of cols, in
// order: one per column, two for a customer lookup (id, then type).
func ColumnList(cols []*eventual.Column, alias string) []string {
	var out []string
	for _, c := range cols {
		out = append(out, qualify(alias, c.LogicalName))
		if c.Type == eventual.TypeCustomer {
			out = append(out, qualify(alias, TypeColumn(c)))
		}
	}
	return out
}

func qualify(alias, col string) string {
	if alias == "" {
		return Quote(col)
	}
	return alias + "." + Quote(col)
}

// Width returns the number of SQL columns ColumnList yields for cols.
func Width(cols []*eventual.Column) int {
	n := len(cols)
	for _, c := range cols {
		if c.Type == eventual.TypeCustomer {
			n++
		}
	}
	return n
}

// DecodeRow decodes the SQL values of cols (as laid out by ColumnList)
// into column values.
func DecodeRow(d Dialect, s *eventual.Schema, cols []*eventual.Column, raw []any) (eventual.Values, error) {
	vals := make(eventual.Values, len(cols))
	i := 0
	for _, c := range cols {
		switch c.Type {
		case eventual.TypeLookup, eventual.TypeCustomer:
			id, err := d.Decode(c, raw[i])
			if err != nil {
				return nil, err
			}
			i++
			target := c.Targets[0]
			if c.Type == eventual.TypeCustomer {
				typ, _ := raw[i].(string)
				if b, ok := raw[i].([]byte); ok {
					typ = string(b)
				}
				i++
				if typ != "" {
					target = typ
				}
			}
			if id == nil {
				vals[c.LogicalName] = nil
				continue
			}
			ref := id.(eventual.EntityReference)
			ref.Table = s.Table(target)
			vals[c.LogicalName] = ref
		default:
			v, err := d.Decode(c, raw[i])
			if err != nil {
				return nil, err
			}
			vals[c.LogicalName] = v
			i++
		}
	}
	return vals, nil
}

// EncodeScalar encodes the values whose stored form both SQL stores
// share: text, integers and choices, decimals and money (scaled units),
// doubles, GUIDs and lookups (GUID text). Dialects encode booleans and
// times themselves and hand the rest here. A value stored as it is
// comes back as v itself, which spares boxing it in a new interface.
func EncodeScalar(c *eventual.Column, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch c.Type {
	case eventual.TypeString, eventual.TypeMemo:
		if _, ok := v.(string); ok {
			return v, nil
		}
	case eventual.TypeInteger, eventual.TypeBigInt, eventual.TypeChoice:
		if _, ok := v.(int64); ok {
			return v, nil
		}
	case eventual.TypeDecimal, eventual.TypeMoney:
		if d, ok := v.(eventual.Decimal); ok {
			d, err := d.Rescale(c.Precision)
			if err != nil {
				return nil, err
			}
			return d.Units, nil
		}
	case eventual.TypeDouble:
		if _, ok := v.(float64); ok {
			return v, nil
		}
	case eventual.TypeUniqueIdentifier:
		if id, ok := v.(uuid.UUID); ok {
			return id.String(), nil
		}
	case eventual.TypeLookup, eventual.TypeCustomer:
		switch r := v.(type) {
		case eventual.EntityReference:
			return guidText(c, r.ID), nil
		case uuid.UUID:
			return guidText(c, r), nil
		}
	}
	return nil, fmt.Errorf("value %v (%T) does not fit a %s column", v, v, c.Type)
}

// stampTexts caches the text of the GUIDs stamp columns hold (createdby,
// modifiedby, ownerid, transactioncurrencyid): the few users and
// currencies nearly every write names again. A slot holds the last GUID
// that hashed to it; a hit costs no allocation.
var stampTexts [64]atomic.Pointer[stampText]

type stampText struct {
	id   uuid.UUID
	text any // a string, boxed once
}

// guidText is the stored text of a lookup's GUID, boxed: a stamp's
// comes from stampTexts with its box.
func guidText(c *eventual.Column, id uuid.UUID) any {
	if !c.Stamp {
		return id.String()
	}
	slot := &stampTexts[id[15]&63]
	if e := slot.Load(); e != nil && e.id == id {
		return e.text
	}
	e := &stampText{id: id, text: id.String()}
	slot.Store(e)
	return e.text
}

// EncodeValue encodes the value of a column as the SQL values of its
// columns (two for a customer lookup).
func EncodeValue(d Dialect, c *eventual.Column, v any) ([]any, error) {
	return AppendValue(d, nil, c, v)
}

// AppendValue appends the SQL values of a column's value to dst, as
// EncodeValue returns them, without a slice of its own.
func AppendValue(d Dialect, dst []any, c *eventual.Column, v any) ([]any, error) {
	enc, err := d.Encode(c, v)
	if err != nil {
		return dst, fmt.Errorf("encode %s: %w", c.LogicalName, err)
	}
	if c.Type != eventual.TypeCustomer {
		return append(dst, enc), nil
	}
	var typ any
	if ref, ok := v.(eventual.EntityReference); ok && ref.Table != nil {
		typ = ref.Table.LogicalName
	}
	return append(dst, enc, typ), nil
}

// Select renders a query: the columns of q (plus the primary key and
// versionnumber first, and the sort keys last), filter, keyset and order.
// It returns the number of sort-key columns appended to each row.
func (b *Builder) Select(q *eventual.Query) (sortKeys int, err error) {
	t := q.Table
	a := b.alias()
	cols := []string{qualify(a, t.PrimaryIDAttribute), qualify(a, "versionnumber")}
	cols = append(cols, ColumnList(q.Columns, a)...)
	orders := make([]string, len(q.OrderBy))
	for i, o := range q.OrderBy {
		orders[i] = b.orderExpr(a, o)
		cols = append(cols, orders[i])
	}
	b.Write("SELECT ").Write(strings.Join(cols, ", ")).Write(" FROM ").Write(Quote(t.LogicalName)).Write(" AS ").Write(a)
	var where []string
	if q.Filter != nil {
		w, err := b.expr(q.Filter, t, a)
		if err != nil {
			return 0, err
		}
		where = append(where, w)
	}
	if q.After != nil {
		w, err := b.keyset(q, a, orders)
		if err != nil {
			return 0, err
		}
		where = append(where, w)
	}
	if len(where) > 0 {
		b.Write(" WHERE ").Write(strings.Join(where, " AND "))
	}
	b.Write(" ORDER BY ")
	for i, o := range q.OrderBy {
		dir := " ASC"
		if o.Desc {
			dir = " DESC"
		}
		b.Write(orders[i]).Write(dir).Write(b.D.NullsOrder(o.Desc)).Write(", ")
	}
	b.Write(qualify(a, t.PrimaryIDAttribute)).Write(" ASC")
	if q.Limit > 0 {
		b.Write(" LIMIT ").Write(strconv.Itoa(q.Limit))
	}
	return len(q.OrderBy), nil
}

// Count renders a count of the rows of t that filter selects, counting at
// most limit+1 rows when limit is positive.
func (b *Builder) Count(t *eventual.Table, filter eventual.Expr, limit int) error {
	a := b.alias()
	b.Write("SELECT COUNT(*) FROM (SELECT 1 FROM ").Write(Quote(t.LogicalName)).Write(" AS ").Write(a)
	if filter != nil {
		w, err := b.expr(filter, t, a)
		if err != nil {
			return err
		}
		b.Write(" WHERE ").Write(w)
	}
	if limit > 0 {
		b.Write(" LIMIT ").Write(strconv.Itoa(limit + 1))
	}
	b.Write(") AS c")
	return nil
}

// orderExpr is the sort expression of an order: its column's (through
// the order's path, when it has one).
func (b *Builder) orderExpr(alias string, o eventual.Order) string {
	if o.Label && o.Column.Type == eventual.TypeChoice {
		return b.through(o.Path, alias, func(a string) string { return b.labelOrder(a, o.Column) })
	}
	return b.through(o.Path, alias, func(a string) string { return b.columnOrder(a, o.Column) })
}

// labelOrder is the sort expression of a choice by its labels: the label
// of the value, folded, as text literals (the expression is written more
// than once in a query, so it takes no parameters).
func (b *Builder) labelOrder(alias string, c *eventual.Column) string {
	if len(c.Options) == 0 {
		return qualify(alias, c.LogicalName)
	}
	var sb strings.Builder
	sb.WriteString("CASE " + qualify(alias, c.LogicalName))
	for _, o := range c.Options {
		sb.WriteString(" WHEN " + strconv.FormatInt(o.Value, 10) + " THEN '" + strings.ReplaceAll(o.Label, "'", "''") + "'")
	}
	sb.WriteString(" END")
	return b.D.Text(sb.String())
}

// columnOrder is the sort expression of a column: the column itself (case
// insensitive for text), or for a lookup the primary name of the record it
// references, as Dataverse sorts lookups.
func (b *Builder) columnOrder(alias string, c *eventual.Column) string {
	if !c.Type.IsLookup() {
		if c.Type.IsText() {
			return b.D.Text(qualify(alias, c.LogicalName))
		}
		return qualify(alias, c.LogicalName)
	}
	var parts []string
	for _, r := range c.Relationships() {
		rt := r.ReferencedTable
		pn := rt.PrimaryName()
		if pn == nil {
			continue
		}
		sub := fmt.Sprintf("(SELECT %s FROM %s AS r WHERE r.%s = %s.%s",
			Quote(pn.LogicalName), Quote(rt.LogicalName), Quote(rt.PrimaryIDAttribute), alias, Quote(c.LogicalName))
		if c.Type == eventual.TypeCustomer {
			sub += fmt.Sprintf(" AND %s.%s = '%s'", alias, Quote(TypeColumn(c)), rt.LogicalName)
		}
		parts = append(parts, sub+")")
	}
	switch len(parts) {
	case 0:
		return qualify(alias, c.LogicalName)
	case 1:
		return b.D.Text(parts[0])
	}
	return b.D.Text("COALESCE(" + strings.Join(parts, ", ") + ")")
}

// keyset renders the condition "strictly after q.After" in the order
// (orders..., primary key ASC), with nulls first in ascending order and
// last in descending order. Arguments are bound in the order their
// placeholders appear, so positional "?" markers work.
func (b *Builder) keyset(q *eventual.Query, alias string, orders []string) (string, error) {
	if len(q.After) != len(q.OrderBy)+1 {
		return "", fmt.Errorf("keyset has %d values, want %d", len(q.After), len(q.OrderBy)+1)
	}
	// equal renders "term i equals its keyset value".
	equal := func(i int) (string, error) {
		v := q.After[i]
		if v == nil {
			return orders[i] + " IS NULL", nil
		}
		arg, err := b.sortArg(q.OrderBy[i], v)
		if err != nil {
			return "", err
		}
		return orders[i] + " = " + arg, nil
	}
	var ors []string
	for k := 0; k <= len(q.OrderBy); k++ {
		if k < len(q.OrderBy) && q.After[k] == nil && q.OrderBy[k].Desc {
			// Nothing sorts after null in descending order. Skipped
			// before the equalities are rendered: they bind parameters,
			// and a parameter bound but not written shifts every later
			// positional one (SQLite) or has no type (PostgreSQL).
			continue
		}
		var ands []string
		for i := 0; i < k; i++ {
			e, err := equal(i)
			if err != nil {
				return "", err
			}
			ands = append(ands, e)
		}
		if k == len(q.OrderBy) {
			idArg, err := b.D.Encode(q.Table.PrimaryKey(), q.After[k])
			if err != nil {
				return "", err
			}
			ands = append(ands, qualify(alias, q.Table.PrimaryIDAttribute)+" > "+b.Arg(idArg))
			ors = append(ors, "("+strings.Join(ands, " AND ")+")")
			break
		}
		o, v := q.OrderBy[k], q.After[k]
		switch {
		case v == nil:
			ands = append(ands, orders[k]+" IS NOT NULL")
		case !o.Desc:
			arg, err := b.sortArg(o, v)
			if err != nil {
				return "", err
			}
			ands = append(ands, orders[k]+" > "+arg)
		default:
			arg, err := b.sortArg(o, v)
			if err != nil {
				return "", err
			}
			ands = append(ands, "("+orders[k]+" < "+arg+" OR "+orders[k]+" IS NULL)")
		}
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return "(" + strings.Join(ors, " OR ") + ")", nil
}

// sortArg encodes a sort-key value as a parameter. Sort keys of lookups
// are the referenced primary names (strings).
func (b *Builder) sortArg(o eventual.Order, v any) (string, error) {
	if o.SortsAsText() {
		return b.TextArg(v), nil
	}
	return b.literal(o.Column, v)
}

// field renders the SQL expression of a field: a column of the current
// table, or a scalar subquery following single-valued navigations.
func (b *Builder) field(f eventual.Field, t *eventual.Table, alias string) string {
	return b.through(f.Path, alias, func(a string) string { return qualify(a, f.Column.LogicalName) })
}

// through renders the expression inner renders on the alias of the last
// table of path, reached from alias through the path's single-valued
// navigations as nested scalar subqueries (null where a record has no
// related one).
func (b *Builder) through(path []*eventual.Relationship, alias string, inner func(alias string) string) string {
	if len(path) == 0 {
		return inner(alias)
	}
	r := path[0]
	a := b.alias()
	in := b.through(path[1:], a, inner)
	cond := fmt.Sprintf("%s.%s = %s", a, Quote(r.ReferencedTable.PrimaryIDAttribute), qualify(alias, r.Lookup.LogicalName))
	if r.Lookup.Type == eventual.TypeCustomer {
		cond += fmt.Sprintf(" AND %s = '%s'", qualify(alias, TypeColumn(r.Lookup)), r.ReferencedTable.LogicalName)
	}
	return fmt.Sprintf("(SELECT %s FROM %s AS %s WHERE %s)", in, Quote(r.ReferencedTable.LogicalName), a, cond)
}

// literal binds a value compared with column c: encoded for the column,
// and folded when c is text (the column side is then a Text expression).
func (b *Builder) literal(c *eventual.Column, v any) (string, error) {
	enc, err := b.D.Encode(c, v)
	if err != nil {
		return "", err
	}
	if c.Type.IsText() {
		return b.TextArg(enc), nil
	}
	return b.Arg(enc), nil
}

// outsideInt32 reports where v, compared with a column, lies against the
// Int32 range of a whole-number or choice column (Dataverse's Int32,
// PostgreSQL's integer): -1 below it, 1 above it, 0 within it or for any
// other column. No value of the column lies outside, and PostgreSQL cannot
// bind a parameter of its type there, so such a comparison is settled by
// the builder alike on both stores.
func outsideInt32(c *eventual.Column, v any) int {
	if c.Type != eventual.TypeInteger && c.Type != eventual.TypeChoice {
		return 0
	}
	n, ok := v.(int64)
	switch {
	case !ok:
		return 0
	case n > math.MaxInt32:
		return 1
	case n < math.MinInt32:
		return -1
	}
	return 0
}

var sqlOps = [...]string{"=", "<>", ">", ">=", "<", "<="}

// expr renders a filter expression on t's rows, as alias.
func (b *Builder) expr(e eventual.Expr, t *eventual.Table, alias string) (string, error) {
	switch x := e.(type) {
	case eventual.And:
		return b.binary(x.Left, x.Right, " AND ", t, alias)
	case eventual.Or:
		return b.binary(x.Left, x.Right, " OR ", t, alias)
	case eventual.Not:
		inner, err := b.expr(x.X, t, alias)
		if err != nil {
			return "", err
		}
		// Unknown (null) counts as false before negation, so that
		// "not (name eq 'x')" selects rows whose name is null, as OData's
		// two-valued logic requires.
		return "(NOT COALESCE(" + inner + ", " + b.D.Bool(false) + "))", nil
	case eventual.Const:
		return constSQL(x.Value), nil
	case eventual.Compare:
		return b.compare(x, t, alias)
	case eventual.Match:
		return b.match(x, t, alias), nil
	case eventual.In:
		return b.in(x, t, alias)
	case eventual.Any:
		return b.any(x, t, alias)
	case eventual.Hierarchy:
		return b.hierarchy(x, t, alias)
	case eventual.Join:
		return b.join(x, t, alias)
	}
	return "", fmt.Errorf("sqlbuild: unknown expression %T", e)
}

// constSQL renders a constant condition.
func constSQL(v bool) string {
	if v {
		return "(1 = 1)"
	}
	return "(1 = 0)"
}

// binary renders two expressions joined by AND or OR.
func (b *Builder) binary(left, right eventual.Expr, op string, t *eventual.Table, alias string) (string, error) {
	l, err := b.expr(left, t, alias)
	if err != nil {
		return "", err
	}
	r, err := b.expr(right, t, alias)
	if err != nil {
		return "", err
	}
	return "(" + l + op + r + ")", nil
}

// match renders contains, startswith, endswith and like as a LIKE on the
// folded text.
func (b *Builder) match(x eventual.Match, t *eventual.Table, alias string) string {
	expr := b.field(x.Field, t, alias)
	parts := ParsePattern(eventual.FoldCase(x.Pattern))
	switch x.Kind {
	case eventual.MatchContains:
		parts = append(append([]PatternPart{{Kind: '%'}}, parts...), PatternPart{Kind: '%'})
	case eventual.MatchStartsWith:
		parts = append(parts, PatternPart{Kind: '%'})
	case eventual.MatchEndsWith:
		parts = append([]PatternPart{{Kind: '%'}}, parts...)
	}
	if MatchesNothing(parts) {
		return constSQL(false)
	}
	if HasSet(parts) {
		return b.D.SetMatch(b.D.Text(expr), parts, b.Arg)
	}
	return b.D.Like(expr, b.Arg(LikePattern(parts)))
}

// in renders a field's membership in a list of values; NOT IN also selects
// nulls, as "not (x in ...)" does in OData.
func (b *Builder) in(x eventual.In, t *eventual.Table, alias string) (string, error) {
	expr := b.field(x.Field, t, alias)
	if len(x.Values) == 0 {
		return constSQL(x.Not), nil
	}
	args := make([]string, 0, len(x.Values))
	for _, v := range x.Values {
		if outsideInt32(x.Field.Column, v) != 0 {
			continue // no value of the column is v
		}
		a, err := b.literal(x.Field.Column, v)
		if err != nil {
			return "", err
		}
		args = append(args, a)
	}
	if len(args) == 0 {
		if x.Not {
			return constSQL(true), nil
		}
		return constSQL(false), nil
	}
	if x.Field.Column.Type.IsText() {
		expr = b.D.Text(expr)
	}
	if x.Not {
		return "(" + expr + " NOT IN (" + strings.Join(args, ", ") + ") OR " + expr + " IS NULL)", nil
	}
	return "(" + expr + " IN (" + strings.Join(args, ", ") + "))", nil
}

// any renders any/all over a one-to-many relationship as an EXISTS
// subquery on the related rows.
func (b *Builder) any(x eventual.Any, t *eventual.Table, alias string) (string, error) {
	r := x.Relationship
	child := r.ReferencingTable
	a := b.alias()
	cond := fmt.Sprintf("%s.%s = %s", a, Quote(r.Lookup.LogicalName), qualify(alias, t.PrimaryIDAttribute))
	if r.Lookup.Type == eventual.TypeCustomer {
		cond += fmt.Sprintf(" AND %s.%s = '%s'", a, Quote(TypeColumn(r.Lookup)), t.LogicalName)
	}
	sub := fmt.Sprintf("SELECT 1 FROM %s AS %s WHERE %s", Quote(child.LogicalName), a, cond)
	if x.Filter != nil {
		inner, err := b.expr(x.Filter, child, a)
		if err != nil {
			return "", err
		}
		if x.All {
			sub += " AND NOT COALESCE(" + inner + ", " + b.D.Bool(false) + ")"
		} else {
			sub += " AND " + inner
		}
	}
	if x.All {
		return "(NOT EXISTS (" + sub + "))", nil
	}
	return "(EXISTS (" + sub + "))", nil
}

// join renders a join on columns as an EXISTS subquery on the joined
// table's rows, text compared folded.
func (b *Builder) join(x eventual.Join, t *eventual.Table, alias string) (string, error) {
	a := b.alias()
	left, right := qualify(a, x.From.LogicalName), b.field(x.To, t, alias)
	if x.From.Type.IsText() {
		left, right = b.D.Text(left), b.D.Text(right)
	}
	sub := fmt.Sprintf("SELECT 1 FROM %s AS %s WHERE %s = %s", Quote(x.Table.LogicalName), a, left, right)
	if x.Filter != nil {
		inner, err := b.expr(x.Filter, x.Table, a)
		if err != nil {
			return "", err
		}
		sub += " AND " + inner
	}
	return "(EXISTS (" + sub + "))", nil
}

// hierarchy renders a hierarchy condition as membership of the field in
// a recursive walk of the self-referencing relationship from the record,
// down to its descendants or up to its ancestors, at most
// eventual.MaxHierarchyDepth levels.
func (b *Builder) hierarchy(x eventual.Hierarchy, t *eventual.Table, alias string) (string, error) {
	r := x.Relationship
	tbl := Quote(r.ReferencingTable.LogicalName)
	pk, fk := Quote(r.ReferencingTable.PrimaryIDAttribute), Quote(r.Lookup.LogicalName)
	id, err := b.D.Encode(r.ReferencingTable.PrimaryKey(), x.ID)
	if err != nil {
		return "", err
	}
	h, a := b.alias(), b.alias()
	// Down: the records whose lookup is the record, then theirs. Up: the
	// record's lookup, then that record's lookup.
	from, to := fk, pk
	if x.Above {
		from, to = pk, fk
	}
	f := b.field(x.Field, t, alias)
	sql := fmt.Sprintf("%s IN (WITH RECURSIVE %s(id, d) AS (SELECT %s, 1 FROM %s WHERE %s = %s UNION SELECT %s.%s, %s.d + 1 FROM %s AS %s JOIN %s ON %s.%s = %s.id WHERE %s.d < %d) SELECT id FROM %s WHERE id IS NOT NULL)",
		f, h, to, tbl, from, b.Arg(id), a, to, h, tbl, a, h, a, from, h, h, eventual.MaxHierarchyDepth, h)
	if x.OrEqual {
		sql += " OR " + f + " = " + b.Arg(id)
	}
	return "(" + sql + ")", nil
}

func (b *Builder) compare(x eventual.Compare, t *eventual.Table, alias string) (string, error) {
	lf, lok := x.Left.(eventual.Field)
	rf, rok := x.Right.(eventual.Field)
	op := sqlOps[x.Op]
	switch {
	case lok && rok:
		l, r := b.field(lf, t, alias), b.field(rf, t, alias)
		if lf.Column.Type.IsText() {
			l, r = b.D.Text(l), b.D.Text(r)
		}
		return "(" + l + " " + op + " " + r + ")", nil
	case !lok && rok:
		// literal op field: flip.
		flip := map[eventual.CompareOp]eventual.CompareOp{eventual.OpEq: eventual.OpEq, eventual.OpNe: eventual.OpNe,
			eventual.OpGt: eventual.OpLt, eventual.OpGe: eventual.OpLe, eventual.OpLt: eventual.OpGt, eventual.OpLe: eventual.OpGe}
		return b.compare(eventual.Compare{Op: flip[x.Op], Left: x.Right, Right: x.Left}, t, alias)
	case !lok && !rok:
		l, r := x.Left.(eventual.Literal).Value, x.Right.(eventual.Literal).Value
		eq := eventual.EqualValues(l, r)
		switch x.Op {
		case eventual.OpEq:
			return map[bool]string{true: "(1 = 1)", false: "(1 = 0)"}[eq], nil
		case eventual.OpNe:
			return map[bool]string{true: "(1 = 0)", false: "(1 = 1)"}[eq], nil
		}
		return "", fmt.Errorf("sqlbuild: cannot order two constants")
	}
	expr := b.field(lf, t, alias)
	v := x.Right.(eventual.Literal).Value
	if v == nil {
		switch x.Op {
		case eventual.OpEq:
			return "(" + expr + " IS NULL)", nil
		case eventual.OpNe:
			return "(" + expr + " IS NOT NULL)", nil
		}
		return "(1 = 0)", nil
	}
	if side := outsideInt32(lf.Column, v); side != 0 {
		// Every value of the column lies on the other side of v.
		some := "(" + expr + " IS NOT NULL)"
		switch x.Op {
		case eventual.OpEq:
			return constSQL(false), nil
		case eventual.OpNe:
			return constSQL(true), nil // null ne v is true too
		case eventual.OpGt, eventual.OpGe:
			if side < 0 {
				return some, nil
			}
			return constSQL(false), nil
		default: // lt, le
			if side > 0 {
				return some, nil
			}
			return constSQL(false), nil
		}
	}
	arg, err := b.literal(lf.Column, v)
	if err != nil {
		return "", err
	}
	if lf.Column.Type.IsText() {
		expr = b.D.Text(expr)
	}
	if ref, ok := v.(eventual.EntityReference); ok && ref.Table != nil && lf.Column.Type == eventual.TypeCustomer && len(lf.Path) == 0 {
		// A customer lookup matches a reference only on the same table.
		typ := qualify(alias, TypeColumn(lf.Column)) + " = '" + ref.Table.LogicalName + "'"
		if x.Op == eventual.OpEq {
			return "(" + expr + " = " + arg + " AND " + typ + ")", nil
		}
		if x.Op == eventual.OpNe {
			return "(NOT (" + expr + " = " + arg + " AND " + typ + ") OR " + expr + " IS NULL)", nil
		}
	}
	if x.Op == eventual.OpNe {
		// OData: null ne 'x' is true.
		return "(" + expr + " <> " + arg + " OR " + expr + " IS NULL)", nil
	}
	return "(" + expr + " " + op + " " + arg + ")", nil
}
