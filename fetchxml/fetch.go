package fetchxml

import (
	"encoding/xml"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// Limits of a query. Dataverse allows 15 link-entities per query and
// pages of at most 5000 rows.
const (
	MaxLength    = 64 << 10 // characters of FetchXML read
	MaxLinks     = 15
	MaxDepth     = 32 // nesting of elements
	MaxPageSize  = 5000
	MaxValues    = 2000 // <value> elements of one condition
	MaxCondition = 500  // conditions of one query
)

// Fetch is a parsed FetchXML query.
type Fetch struct {
	// Query is the root entity's query: its columns (nil for
	// all-attributes), the filter (link-entities that only filter are in
	// it: inner links as exists conditions) and the order.
	Query *eventual.Query
	// Links are the link-entities whose columns the rows carry, in
	// document order, nested as in the query.
	Links []*Link
	// Top bounds the rows (0: no top); Count is the page size (0: the
	// default, 5000), Page the page number (from 1) and PagingCookie the
	// cookie of the previous page, as the fetch element gives them.
	Top, Count, Page int
	PagingCookie     string
	// Distinct asks for distinct rows; TotalRecordCount for the count
	// of all matching rows (returntotalrecordcount).
	Distinct, TotalRecordCount bool
	// Names are the names root columns are returned under besides, or
	// instead of, their own (<attribute name="createdby" alias="whocreated"/>).
	Names Names
	// CountChildren are the aliases of rowaggregate="CountChildren"
	// attributes: each row carries, under each, the number of its
	// children in its table's hierarchy.
	CountChildren []string
	// Aggregate is the grouped query of aggregate="true" (nil
	// otherwise): its group-by terms and aggregates named by their
	// aliases, the root's filter, the order by alias, top or count as its
	// limit.
	Aggregate *eventual.Aggregate
}

// Link is a link-entity whose columns each row carries, as
// "alias.column".
type Link struct {
	// Alias names the columns' prefix: the alias given, or
	// "<table><n>" numbered in document order, as Dataverse names them.
	Alias string
	// Relationship joins the link to its parent; Collection is true when
	// the link's table references the parent (one-to-many from the
	// parent), false when the parent references it (many-to-one).
	Relationship *eventual.Relationship
	Collection   bool
	// From and To join a link that follows no relationship (Relationship
	// nil): the rows of Table whose From equals the parent's To.
	From, To *eventual.Column
	// Outer keeps the parent's row when no related row matches.
	Outer bool
	// Table is the linked table; Columns its columns asked for (nil for
	// all-attributes).
	Table   *eventual.Table
	Columns []*eventual.Column
	// Filter selects the related rows (fields relative to Table).
	Filter eventual.Expr
	// OrderBy orders a one-to-many link's related rows within each row
	// of its parent (the link's order elements); First keeps the first
	// of them only (matchfirstrowusingcrossapply).
	OrderBy []eventual.Order
	First   bool
	// Links nests further link-entities.
	Links []*Link
	// Names are the names columns are returned under besides, or
	// instead of, "alias.column"; SchemaNames returns them under their
	// schema names instead (matchfirstrowusingcrossapply, as Dataverse
	// names them).
	Names       Names
	SchemaNames bool
}

// Names are the aliases of the attributes of an entity or link-entity:
// a column comes back under each alias an attribute gave it, and under
// its own name unless only aliased attributes named it.
type Names struct {
	Aliases   map[*eventual.Column][]string
	AliasOnly map[*eventual.Column]bool
}

// hide marks a column read but not returned, unless an attribute asks
// for it.
func (n *Names) hide(c *eventual.Column) {
	if n.Aliases == nil {
		n.Aliases, n.AliasOnly = map[*eventual.Column][]string{}, map[*eventual.Column]bool{}
	}
	if _, seen := n.AliasOnly[c]; !seen {
		n.AliasOnly[c] = true
	}
}

func (n *Names) add(c *eventual.Column, alias string) {
	if n.Aliases == nil {
		n.Aliases, n.AliasOnly = map[*eventual.Column][]string{}, map[*eventual.Column]bool{}
	}
	if alias == "" {
		n.AliasOnly[c] = false
		return
	}
	if _, seen := n.AliasOnly[c]; !seen {
		n.AliasOnly[c] = true
	}
	n.Aliases[c] = append(n.Aliases[c], alias)
}

// Env is what conditions may refer to besides the query: the time the
// date operators count from, and the caller (eq-userid).
type Env struct {
	Now    time.Time
	UserID uuid.UUID
}

// Error codes of malformed FetchXML, as Dataverse answers them
// (data-service-error-codes.md: the QueryBuilder codes).
const (
	// CodeInvalidXML is InvalidXml: text that is no FetchXML.
	CodeInvalidXML = "0x80040201"
	// CodeInvalidNode is QueryBuilderDeserializeInvalidNode: an element
	// or attribute FetchXML does not have there.
	CodeInvalidNode = "0x8004111c"
	// CodeNoEntity is QueryBuilderNoEntity: an entity that does not exist.
	CodeNoEntity = "0x80041102"
	// CodeNoAttribute is QueryBuilderNoAttribute: a column that does not
	// exist.
	CodeNoAttribute = "0x80041103"
	// CodeInvalidConditionOperator is QueryBuilderInvalidConditionOperator:
	// an operator that does not exist, or not with these values.
	CodeInvalidConditionOperator = "0x80041120"
	// CodeInvalidValue is QueryBuilderInvalid_Value: a value that does not
	// fit its column's type.
	CodeInvalidValue = "0x80041108"
	// CodeInvalidFilterType is QueryBuilderInvalidFilterType.
	CodeInvalidFilterType = "0x80041122"
	// CodeInvalidLinkType is QueryBuilderDeserializeInvalidLinkType.
	CodeInvalidLinkType = "0x80041117"
	// CodeDuplicateAlias is QueryBuilderDuplicateAlias.
	CodeDuplicateAlias = "0x80041130"
	// CodeEntitiesDontMatch is QueryBuilderEntitiesDontMatch: the query's
	// entity is not the entity set's.
	CodeEntitiesDontMatch = "0x80041128"
	// CodeTooManyLinks is the limit of 15 link-entities.
	CodeTooManyLinks = "0x8004430D"
	// CodeTooManyConditions is TooManyConditionsInQuery: more than 500
	// conditions and link-entities.
	CodeTooManyConditions = "0x8004430C"
	// CodeInvalidPagingCookie is QueryBuilderInvalidPagingCookie.
	CodeInvalidPagingCookie = "0x8004112A"
	// CodeAliasInOrder is QueryBuilderAliasNotAllowedForNonAggregateOrderBy.
	CodeAliasInOrder = "0x80041132"
)

func errorf(code, format string, args ...any) error {
	return eventual.Errorf(eventual.KindInvalid, code, format, args...)
}

func invalid(format string, args ...any) error {
	return errorf(CodeInvalidXML, "Invalid XML. "+format, args...)
}

func invalidNode(format string, args ...any) error {
	return errorf(CodeInvalidNode, "The element node encountered is invalid: "+format, args...)
}

// node is an element of the document, read whole.
type node struct {
	name     string
	attrs    map[string]string
	children []*node
	text     strings.Builder
}

func (n *node) attr(name string) (string, bool) {
	v, ok := n.attrs[name]
	return v, ok
}

// read parses the document into nodes, refusing what is not one fetch
// element of bounded size and depth.
func read(src string) (*node, error) {
	if len(src) > MaxLength {
		return nil, invalid("the query is longer than %d characters.", MaxLength)
	}
	dec := xml.NewDecoder(strings.NewReader(src))
	dec.Strict = true
	var stack []*node
	var root *node
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, invalid("%v.", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, invalid("the document has more than one root element.")
			}
			if len(stack) >= MaxDepth {
				return nil, invalid("elements are nested deeper than %d.", MaxDepth)
			}
			if t.Name.Space != "" {
				return nil, invalidNode("element <%s:%s> is not FetchXML.", t.Name.Space, t.Name.Local)
			}
			n := &node{name: t.Name.Local, attrs: map[string]string{}}
			for _, a := range t.Attr {
				if a.Name.Space != "" && a.Name.Space != "xmlns" {
					continue
				}
				if _, dup := n.attrs[a.Name.Local]; dup {
					return nil, invalid("attribute %s is given twice on <%s>.", a.Name.Local, n.name)
				}
				n.attrs[a.Name.Local] = a.Value
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			} else if strings.TrimSpace(string(t)) != "" {
				return nil, invalid("text outside the fetch element.")
			}
		case xml.Directive:
			return nil, invalid("directives (<!DOCTYPE …>) are not allowed.")
		}
	}
	if root == nil {
		return nil, invalid("the document is empty.")
	}
	if root.name != "fetch" {
		return nil, invalidNode("the root element is <%s>, not <fetch>.", root.name)
	}
	return root, nil
}

// parser holds the state of one Parse.
type parser struct {
	schema      *eventual.Schema
	env         Env
	links       int
	conditions  int
	aliases     map[string]bool // of attributes
	linkAliases map[string]bool
	counts      map[string]int      // generated aliases per table
	agg         *eventual.Aggregate // the query's, when aggregate="true"
	root        *scope
	// inEntityFilter is set while a condition with entityname is read:
	// it stands in the entity's filter though it reads a link's columns.
	inEntityFilter bool
	// rawOrder sorts choices by value (useraworderby), not by label.
	rawOrder bool
	// join is the one-to-many link an aggregate query joins.
	join *scope
	// named are the link-entities conditions and orders of the entity
	// may name (entityname, valueof="alias.column"): by alias, and by
	// table name for links without one.
	named map[string]*scope
}

// Parse reads a FetchXML query against a schema.
func Parse(src string, s *eventual.Schema, env Env) (*Fetch, error) {
	root, err := read(src)
	if err != nil {
		return nil, err
	}
	p := &parser{schema: s, env: env, aliases: map[string]bool{}, linkAliases: map[string]bool{}, counts: map[string]int{}, named: map[string]*scope{}}
	f := &Fetch{}
	if err := p.fetchAttrs(root, f); err != nil {
		return nil, err
	}
	p.agg = f.Aggregate
	var entity *node
	for _, c := range root.children {
		if c.name != "entity" {
			return nil, invalidNode("<fetch> holds one <entity>, not <%s>.", c.name)
		}
		if entity != nil {
			return nil, invalidNode("<fetch> holds one <entity>.")
		}
		entity = c
	}
	if entity == nil {
		return nil, invalidNode("<fetch> holds no <entity>.")
	}
	t, err := p.table(entity)
	if err != nil {
		return nil, err
	}
	f.Query = &eventual.Query{Table: t}
	if f.Aggregate != nil {
		f.Aggregate.Table = t
	}
	scope := &scope{table: t}
	scope.base, p.root = scope, scope
	if err := p.entity(entity, scope, f); err != nil {
		return nil, err
	}
	// Dataverse applies the orders of link-entities after the entity's.
	f.Query.Columns, f.Query.Filter, f.Query.OrderBy = scope.columns, scope.filter, append(scope.order, scope.after...)
	f.Links, f.Names = scope.links, scope.names
	if a := f.Aggregate; a != nil {
		if len(a.GroupBy) == 0 && len(a.Values) == 0 {
			return nil, errorf(CodeInvalidAggregateAlias, "Invalid alias for aggregate operation: an aggregate query needs attributes with an alias and aggregate or groupby.")
		}
		a.Table, a.Filter = t, f.Query.Filter
		known := map[string]bool{}
		for _, g := range a.GroupBy {
			known[g.Alias] = true
		}
		for _, v := range a.Values {
			known[v.Alias] = true
		}
		for _, o := range a.OrderBy {
			if !known[o.Alias] {
				return nil, errorf(CodeInvalidAggregateAlias, "Invalid alias for aggregate operation: the order's alias %q names no attribute of the query.", o.Alias)
			}
		}
		a.Limit = max(f.Top, f.Count)
	}
	return f, nil
}

func (p *parser) fetchAttrs(n *node, f *Fetch) error {
	num := func(name string, lo, hi int) (int, error) {
		v, ok := n.attr(name)
		if !ok {
			return 0, nil
		}
		i, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || i < lo || i > hi {
			return 0, errorf(CodeInvalidValue, "Invalid value specified for type: the fetch attribute %s=%q must be a whole number from %d to %d.", name, v, lo, hi)
		}
		return i, nil
	}
	var err error
	if f.Top, err = num("top", 0, MaxPageSize); err != nil {
		return err
	}
	if f.Count, err = num("count", 0, MaxPageSize); err != nil {
		return err
	}
	if f.Page, err = num("page", 1, 1<<30); err != nil {
		return err
	}
	if f.Top > 0 && (f.Count > 0 || f.Page > 0) {
		return invalidNode("The top attribute can't be specified with paging attribute page or count: use count and page to page results.")
	}
	f.PagingCookie = n.attrs["paging-cookie"]
	if f.Distinct, err = boolAttr(n, "distinct"); err != nil {
		return err
	}
	if f.TotalRecordCount, err = boolAttr(n, "returntotalrecordcount"); err != nil {
		return err
	}
	if f.Top > 0 && f.TotalRecordCount {
		return invalidNode("The top attribute can't be specified with returntotalrecordcount.")
	}
	if p.rawOrder, err = boolAttr(n, "useraworderby"); err != nil {
		return err
	}
	agg, err := boolAttr(n, "aggregate")
	if err != nil {
		return err
	}
	if agg {
		f.Aggregate = &eventual.Aggregate{}
		if f.Aggregate.RecordLimit, err = num("aggregatelimit", 1, eventual.MaxAggregateRecords); err != nil {
			return err
		}
		if f.Page > 1 || f.PagingCookie != "" {
			return invalidNode("an aggregate query returns one page: it takes no page or paging-cookie.")
		}
	}
	for name := range n.attrs {
		switch name {
		case "top", "count", "page", "paging-cookie", "distinct", "returntotalrecordcount", "aggregate",
			"version", "mapping", "output-format", "no-lock", "latematerialize", "useraworderby", "options", "datasource", "aggregatelimit":
		default:
			return invalidNode("the fetch element has no attribute %s.", name)
		}
	}
	return nil
}

func boolAttr(n *node, name string) (bool, error) {
	v, ok := n.attr(name)
	if !ok {
		return false, nil
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, invalidNode("the only valid values for the %s attribute of <%s> are 'true', 'false', '1', and '0', not %q.", name, n.name, v)
}

func (p *parser) table(n *node) (*eventual.Table, error) {
	name, ok := n.attr("name")
	if !ok || name == "" {
		return nil, invalidNode("<%s> needs a name.", n.name)
	}
	t := p.schema.Table(name)
	if t == nil {
		return nil, errorf(CodeNoEntity, "The entity with a name = '%s' with namemapping = 'Logical' was not found in the MetadataCache.", name)
	}
	return t, nil
}

func (p *parser) column(t *eventual.Table, n *node, attr string) (*eventual.Column, error) {
	name, ok := n.attr(attr)
	if !ok || name == "" {
		return nil, invalidNode("<%s> needs %s.", n.name, attr)
	}
	c := t.Column(name)
	if c == nil {
		return nil, errorf(CodeNoAttribute, "'%s' entity doesn't contain attribute with Name = '%s' and NameMapping = 'Logical'.", t.LogicalName, name)
	}
	return c, nil
}

// scope is an entity or link-entity being read: its table, where its
// fields sit relative to the query's root (path, for many-to-one links
// folded into the root's filter) and what it collects.
type scope struct {
	table *eventual.Table
	path  []*eventual.Relationship
	// base is the scope path starts from: the root, or the one-to-many
	// link at or above this one (whose rows are read apart).
	base *scope
	// rel joins a link to its parent; collection and outer are its
	// kind (nil, false, false for the root).
	rel               *eventual.Relationship
	collection, outer bool
	columns           []*eventual.Column
	all               bool
	filter            eventual.Expr
	order             []eventual.Order
	// after are the orders of the many-to-one links below, which apply
	// after the scope's own.
	after []eventual.Order
	links []*Link
	names Names
}

func (sc *scope) and(x eventual.Expr) {
	if x == nil {
		return
	}
	if sc.filter == nil {
		sc.filter = x
		return
	}
	sc.filter = eventual.And{Left: sc.filter, Right: x}
}

func (sc *scope) field(c *eventual.Column) eventual.Field {
	return eventual.Field{Path: sc.path, Column: c}
}

// entity reads the children of an entity or link-entity.
func (p *parser) entity(n *node, sc *scope, f *Fetch) error {
	for name := range n.attrs {
		switch name {
		case "name", "alias", "from", "to", "link-type", "visible", "intersect", "enableprefiltering", "prefilterparametername":
		default:
			return invalidNode("<%s> has no attribute %s.", n.name, name)
		}
	}
	// Link-entities first, so that the entity's conditions and orders can
	// name them (entityname, valueof="alias.column") wherever they stand.
	for _, c := range n.children {
		if c.name == "link-entity" {
			x, err := p.link(sc, c, f, false)
			if err != nil {
				return err
			}
			sc.and(x)
		}
	}
	picked := false
	for _, c := range n.children {
		switch c.name {
		case "link-entity":
		case "attribute":
			col, err := p.column(sc.table, c, "name")
			if err != nil {
				return err
			}
			if p.agg != nil {
				if err := p.aggregateAttr(sc, c, col); err != nil {
					return err
				}
				picked = true
				continue
			}
			if _, ok := c.attr("rowaggregate"); ok {
				if err := p.rowAggregate(sc, c, col, f); err != nil {
					return err
				}
				continue
			}
			if err := attrCheck(c); err != nil {
				return err
			}
			picked = true
			if !slices.Contains(sc.columns, col) {
				sc.columns = append(sc.columns, col)
			}
			a, ok := c.attr("alias")
			if ok {
				if !validAlias(a) || p.aliases[a] {
					return errorf(CodeDuplicateAlias, "FetchXML should have unique aliases: %q is used twice or is not a name.", a)
				}
				p.aliases[a] = true
			}
			sc.names.add(col, a)
		case "all-attributes":
			picked, sc.all = true, true
		case "order":
			o, err := p.order(sc, c)
			if err != nil {
				return err
			}
			if p.agg == nil {
				sc.order = append(sc.order, o)
			}
		case "filter":
			x, err := p.filter(sc, c, 0, f)
			if err != nil {
				return err
			}
			sc.and(x)
		default:
			return invalidNode("<%s> cannot hold <%s>.", n.name, c.name)
		}
	}
	if sc.all && p.agg != nil {
		return errorf(CodeAttributeWithAggregate, "Attributes can not be returned when aggregate operation is specified: all-attributes in an aggregate query.")
	}
	switch {
	case sc.all:
		sc.columns = nil
		for c := range sc.names.AliasOnly {
			sc.names.AliasOnly[c] = false
		}
	case !picked && sc == p.root:
		// No attribute: every column (fetchxml/select-columns.md).
		sc.columns = nil
		for c := range sc.names.AliasOnly {
			sc.names.AliasOnly[c] = false
		}
	case !picked:
		// A link-entity without attributes returns none of its columns.
		sc.columns = []*eventual.Column{}
	}
	// The rows carry the columns links on columns join by, read but not
	// returned unless asked for.
	for _, l := range sc.links {
		if l.Relationship == nil && sc.columns != nil && !slices.Contains(sc.columns, l.To) {
			sc.columns = append(sc.columns, l.To)
			sc.names.hide(l.To)
		}
	}
	return nil
}

// rowAggregate reads an attribute with rowaggregate="CountChildren":
// the entity's primary key, aliased, in a table with a hierarchy.
func (p *parser) rowAggregate(sc *scope, n *node, c *eventual.Column, f *Fetch) error {
	if v := n.attrs["rowaggregate"]; !strings.EqualFold(v, "CountChildren") {
		return errorf(CodeInvalidAggregate, "An error occurred while processing Aggregates in Query: rowaggregate takes CountChildren, not %q.", v)
	}
	alias, ok := n.attr("alias")
	if !ok || !validAlias(alias) || p.aliases[alias] {
		return errorf(CodeInvalidAggregateAlias, "Invalid alias for aggregate operation: rowaggregate needs an alias of its own.")
	}
	if sc != p.root || c != sc.table.PrimaryKey() || sc.table.Hierarchical() == nil {
		return errorf(CodeInvalidAggregate, "An error occurred while processing Aggregates in Query: rowaggregate counts the children of the entity's records: it applies to the primary key of an entity with a hierarchical relationship.")
	}
	p.aliases[alias] = true
	f.CountChildren = append(f.CountChildren, alias)
	return nil
}

func attrCheck(n *node) error {
	for name := range n.attrs {
		switch name {
		case "name", "alias", "build", "addedby", "usertimezone":
		case "aggregate", "groupby", "dategrouping", "distinct", "rowaggregate":
			return errorf(CodeInvalidAggregate, "An error occurred while processing Aggregates in Query: the attribute %s applies in an aggregate query (<fetch aggregate=\"true\">) only.", name)
		default:
			return invalidNode("<attribute> has no attribute %s.", name)
		}
	}
	return nil
}

func (p *parser) order(sc *scope, n *node) (eventual.Order, error) {
	if p.agg != nil {
		return eventual.Order{}, p.aggregateOrder(sc, n)
	}
	if _, ok := n.attr("alias"); ok {
		return eventual.Order{}, errorf(CodeAliasInOrder, "An alias cannot be specified for an order clause for a non-aggregate Query. Use an attribute.")
	}
	if len(n.children) > 0 {
		return eventual.Order{}, invalidNode("<order> holds no elements.")
	}
	for name := range n.attrs {
		if name != "attribute" && name != "descending" && name != "entityname" {
			return eventual.Order{}, invalidNode("<order> has no attribute %s.", name)
		}
	}
	target := sc
	if en, ok := n.attr("entityname"); ok {
		var err error
		if target, err = p.linkNamed(sc, en, "An order"); err != nil {
			return eventual.Order{}, err
		}
	}
	c, err := p.column(target.table, n, "attribute")
	if err != nil {
		return eventual.Order{}, err
	}
	desc, err := boolAttr(n, "descending")
	if err != nil {
		return eventual.Order{}, err
	}
	return eventual.Order{Path: target.path, Column: c, Desc: desc, Label: c.Type == eventual.TypeChoice && !p.rawOrder}, nil
}

// linkNamed resolves the entityname of a condition or order (what) of
// the entity: a link-entity's alias, or its table's name when it has
// none. It must be a many-to-one link, or links, from the entity: a
// one-to-many link's rows are read apart from the entity's.
func (p *parser) linkNamed(sc *scope, name, what string) (*scope, error) {
	if sc != p.root {
		return nil, eventual.Errorf(eventual.KindNotSupported, eventual.CodeInvalidOperation, "%s with entityname inside a link-entity is not supported by eventual: put it in the entity's filter.", what)
	}
	target := p.named[name]
	if target == nil {
		return nil, errorf(CodeNoEntity, "%s names entityname '%s', which is the alias of no link-entity of the query.", what, name)
	}
	if target.base != p.root {
		return nil, eventual.Errorf(eventual.KindNotSupported, eventual.CodeInvalidOperation, "%s with the entityname of a one-to-many link-entity (%s) is not supported yet by eventual, but a null or not-null condition on its key.", what, name)
	}
	return target, nil
}

// filter reads a filter element: its conditions and nested filters
// joined by its type, and, or (and by default).
func (p *parser) filter(sc *scope, n *node, depth int, f *Fetch) (eventual.Expr, error) {
	or := false
	for name, v := range n.attrs {
		switch name {
		case "type":
			switch v {
			case "and":
			case "or":
				or = true
			default:
				return nil, errorf(CodeInvalidFilterType, "Unsupported filter type. Valid values are 'and', or 'or': not %q.", v)
			}
		case "isquickfindfields", "overridequickfindrecordlimitenabled", "overridequickfindrecordlimitdisabled", "hint":
		default:
			return nil, invalidNode("<filter> has no attribute %s.", name)
		}
	}
	var out eventual.Expr
	join := func(x eventual.Expr) {
		switch {
		case out == nil:
			out = x
		case or:
			out = eventual.Or{Left: out, Right: x}
		default:
			out = eventual.And{Left: out, Right: x}
		}
	}
	for _, c := range n.children {
		var x eventual.Expr
		var err error
		switch c.name {
		case "condition":
			x, err = p.condition(sc, c)
		case "filter":
			if depth >= MaxDepth {
				return nil, invalid("filters are nested deeper than %d.", MaxDepth)
			}
			x, err = p.filter(sc, c, depth+1, f)
		case "link-entity":
			// A filter link type: a condition on the related rows.
			x, err = p.link(sc, c, f, true)
		default:
			return nil, invalidNode("<filter> cannot hold <%s>.", c.name)
		}
		if err != nil {
			return nil, err
		}
		if x != nil {
			join(x)
		}
	}
	return out, nil
}

func validAlias(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
