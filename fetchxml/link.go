package fetchxml

import (
	"fmt"

	"github.com/eventual-pp/eventual"
)

// This file reads link-entity elements: the relationship or columns a
// link joins by, the condition it puts on its parent's rows for its link
// type, and the related rows it returns.

// link reads a link-entity and returns the condition it puts on its
// parent's rows (nil for outer). Links with columns are also kept in the
// parent's links for the rows; inFilter is true for a link inside a
// filter element, which takes the filter link types only.
func (p *parser) link(parent *scope, n *node, f *Fetch, inFilter bool) (eventual.Expr, error) {
	p.links++
	p.conditions++ // the limit of 500 counts link-entities too
	if p.conditions > MaxCondition {
		return nil, errorf(CodeTooManyConditions, "Number of conditions in query exceeded maximum limit (%d).", MaxCondition)
	}
	if p.links > MaxLinks {
		return nil, errorf(CodeTooManyLinks, "Number of link entities in query exceeded maximum limit (%d).", MaxLinks)
	}
	t, err := p.table(n)
	if err != nil {
		return nil, err
	}
	rel, collection, from, to, err := p.joinFor(parent.table, t, n)
	if err != nil {
		return nil, err
	}
	typ := n.attrs["link-type"]
	if typ == "" {
		typ = "inner"
	}
	filterType := false
	switch typ {
	case "inner", "outer", "exists", "in", "matchfirstrowusingcrossapply":
	case "any", "not any", "all", "not all":
		filterType = true
	default:
		return nil, errorf(CodeInvalidLinkType, "The only valid values for link-type attribute are 'natural', 'inner','in','exists','matchfirstrowusingcrossapply' and 'outer' (and any, not any, all, not all): not %q.", typ)
	}
	if inFilter && !filterType {
		return nil, invalidNode("a link-entity inside a filter takes a filter link type (any, not any, all or not all), not %q.", typ)
	}
	// Link-entities' aliases are unique among themselves; an attribute
	// may share one (order-rows.md names a link and its attribute
	// "parentaccount").
	alias := n.attrs["alias"]
	if alias != "" {
		if p.linkAliases[alias] || !validAlias(alias) {
			return nil, errorf(CodeDuplicateAlias, "FetchXML should have unique aliases: %q is used twice or is not a name.", alias)
		}
	} else {
		for {
			p.counts[t.LogicalName]++
			alias = fmt.Sprintf("%s%d", t.LogicalName, p.counts[t.LogicalName])
			if !p.linkAliases[alias] {
				break
			}
		}
	}
	p.linkAliases[alias] = true
	if rel == nil {
		return p.columnJoin(parent, n, f, t, from, to, typ, alias)
	}
	// The link's own scope: a many-to-one link reads its fields through
	// the parent's path; a one-to-many link starts afresh, relative to its
	// table, and becomes an any() on the relationship.
	sc := &scope{table: t, rel: rel, collection: collection, outer: typ == "outer"}
	first := typ == "matchfirstrowusingcrossapply"
	if !collection {
		sc.path, sc.base = append(append([]*eventual.Relationship{}, parent.path...), rel), parent.base
	} else if len(parent.path) > 0 {
		return nil, eventual.Errorf(eventual.KindNotSupported, eventual.CodeInvalidOperation, "A one-to-many link-entity under a many-to-one link-entity is not supported yet by eventual.")
	} else {
		sc.base = sc
	}
	if !inFilter {
		if name := n.attrs["alias"]; name != "" {
			p.named[name] = sc
		} else if p.named[t.LogicalName] == nil {
			p.named[t.LogicalName] = sc
		}
	}
	if p.agg != nil && collection && (typ == "inner" || sc.outer || first) {
		// An aggregate query groups the rows of a join: a row per
		// related record, as SQL's join makes them.
		if p.join != nil || parent != p.root || first {
			return nil, eventual.Errorf(eventual.KindNotSupported, eventual.CodeInvalidOperation, "An aggregate query joins one one-to-many link-entity of the entity (inner or outer) in eventual: use exists or any for the others.")
		}
		p.join = sc
		p.agg.Join = &eventual.AggregateJoin{Relationship: rel, Outer: sc.outer}
	}
	if err := p.entity(n, sc, f); err != nil {
		return nil, err
	}
	if p.join == sc {
		p.agg.Join.Filter = sc.filter
	}
	cond := linkCondition(parent, sc, typ)
	if typ != "inner" && !sc.outer && !first || p.agg != nil {
		// exists, in and the filter link types filter only: no columns,
		// no orders; in an aggregate query the link's attributes are
		// groupings.
		return cond, nil
	}
	orders := append(sc.order, sc.after...)
	if !collection {
		// A many-to-one link's orders (through its path) follow its
		// parent's.
		parent.after = append(parent.after, orders...)
	}
	if len(sc.columns) == 0 && sc.columns != nil && len(sc.links) == 0 {
		return cond, nil // no columns of its own or below it
	}
	if intersect, _ := boolAttr(n, "intersect"); intersect {
		sc.columns = []*eventual.Column{} // joins only (join-tables.md)
	}
	l := &Link{Alias: alias, Relationship: rel, Collection: collection, Outer: sc.outer, Table: t, Columns: sc.columns, Links: sc.links, Names: sc.names,
		First: first && collection, SchemaNames: first}
	if collection {
		l.OrderBy = orders
	}
	if collection || sc.outer {
		l.Filter = relative(sc)
	}
	parent.links = append(parent.links, l)
	return cond, nil
}

// columnJoin reads a link-entity whose from and to follow no
// relationship (join-tables.md, No relationship): the linked rows whose
// from column equals the entity's to column, text ignoring case, as SQL
// Server's collation compares it. eventual joins so from the entity
// only, without link-entities or orders inside, outside aggregates.
func (p *parser) columnJoin(parent *scope, n *node, f *Fetch, t *eventual.Table, from, to *eventual.Column, typ, alias string) (eventual.Expr, error) {
	notYet := func(what string) error {
		return eventual.Errorf(eventual.KindNotSupported, eventual.CodeInvalidOperation, "The link-entity %s from %s to %s follows no relationship: eventual joins such links %s.", t.LogicalName, from.LogicalName, to.LogicalName, what)
	}
	switch {
	case parent != p.root:
		return nil, notYet("from the entity only, not from another link-entity")
	case p.agg != nil:
		return nil, notYet("outside aggregate queries only")
	case !joinable(from, to):
		return nil, errorf(CodeInvalidValue, "The link-entity %s joins %s (%s) with %s (%s): from and to must be of one type.", t.LogicalName, from.LogicalName, from.Type, to.LogicalName, to.Type)
	}
	sc := &scope{table: t, collection: true, outer: typ == "outer"}
	sc.base = sc
	if name := n.attrs["alias"]; name != "" {
		p.named[name] = sc
	}
	if err := p.entity(n, sc, f); err != nil {
		return nil, err
	}
	if len(sc.links) > 0 || len(sc.order) > 0 || len(sc.after) > 0 {
		return nil, notYet("without link-entities or orders inside")
	}
	exists := func(filter eventual.Expr) eventual.Expr {
		return eventual.Join{Table: t, From: from, To: parent.field(to), Filter: filter}
	}
	var cond eventual.Expr
	switch typ {
	case "outer":
	case "not any":
		cond = eventual.Not{X: exists(sc.filter)}
	case "all":
		cond = eventual.Const{Value: false}
		if sc.filter != nil {
			cond = eventual.And{Left: exists(nil), Right: eventual.Not{X: exists(sc.filter)}}
		}
	default:
		cond = exists(sc.filter)
	}
	rows := typ == "inner" || typ == "outer" || typ == "matchfirstrowusingcrossapply"
	if !rows || sc.columns != nil && len(sc.columns) == 0 {
		return cond, nil
	}
	first := typ == "matchfirstrowusingcrossapply"
	parent.links = append(parent.links, &Link{Alias: alias, Table: t, From: from, To: to, Outer: sc.outer, Columns: sc.columns, Names: sc.names,
		Filter: sc.filter, First: first, SchemaNames: first})
	return cond, nil
}

// joinable reports whether two columns can be joined: of one type, both
// text, or GUIDs (a key, a lookup).
func joinable(a, b *eventual.Column) bool {
	guid := func(c *eventual.Column) bool { return c.Type == eventual.TypeUniqueIdentifier || c.Type.IsLookup() }
	return a.Type == b.Type || a.Type.IsText() && b.Type.IsText() || guid(a) && guid(b)
}

// linkCondition is the condition a link-entity of the type puts on its
// parent's rows (fetchxml/filter-rows.md, with its SQL): that a related
// row matching the link's filter exists (inner, exists, in,
// matchfirstrowusingcrossapply, any, and not all, which despite its name
// is any), that none does (not any), or that related rows exist but none
// matches (all); none for outer links.
func linkCondition(parent, sc *scope, typ string) eventual.Expr {
	if sc.outer {
		return nil
	}
	exists := func(filter eventual.Expr) eventual.Expr {
		if sc.collection {
			return eventual.Any{Relationship: sc.rel, Filter: filter}
		}
		// The lookup is set; a customer lookup's related key, through
		// the path, is also null when it names another table.
		related := parent.field(sc.rel.Lookup)
		if sc.rel.Lookup.Type == eventual.TypeCustomer {
			related = sc.field(sc.table.PrimaryKey())
		}
		var cond eventual.Expr = eventual.Compare{Op: eventual.OpNe, Left: related, Right: eventual.Literal{Value: nil}}
		if filter != nil {
			cond = eventual.And{Left: cond, Right: filter}
		}
		return cond
	}
	switch typ {
	case "not any":
		return eventual.Not{X: exists(sc.filter)}
	case "all":
		if sc.filter == nil {
			return eventual.Const{Value: false}
		}
		return eventual.And{Left: exists(nil), Right: eventual.Not{X: exists(sc.filter)}}
	}
	return exists(sc.filter)
}

// relative is a link's filter relative to its own table, for reading the
// related rows: a many-to-one link's fields carry the path from the root,
// which a read of the related rows does not walk.
func relative(sc *scope) eventual.Expr {
	if sc.filter == nil || len(sc.path) == 0 {
		return sc.filter
	}
	return trimPath(sc.filter, len(sc.path))
}

func trimPath(x eventual.Expr, n int) eventual.Expr {
	// Links under a link's own filter are conditions of paths (no Any:
	// a one-to-many link below a many-to-one one is refused).
	out, _ := eventual.MapFields(x, func(f eventual.Field) eventual.Field {
		if len(f.Path) >= n {
			f.Path = f.Path[n:]
		}
		return f
	})
	return out
}

// joinFor finds the relationship a link-entity follows: the one its from
// and to name, or when either is left out, the one relationship between
// the two tables that fits the other (reference/link-entity.md: to and
// from are not required).
func (p *parser) joinFor(parent, linked *eventual.Table, n *node) (rel *eventual.Relationship, collection bool, from, to *eventual.Column, err error) {
	_, hasFrom := n.attr("from")
	_, hasTo := n.attr("to")
	if hasFrom {
		if from, err = p.column(linked, n, "from"); err != nil {
			return nil, false, nil, nil, err
		}
	}
	if hasTo {
		if to, err = p.column(parent, n, "to"); err != nil {
			return nil, false, nil, nil, err
		}
	}
	if hasFrom && hasTo {
		if rel, collection = joinOf(parent, linked, from, to); rel == nil {
			// No relationship: a join on the columns (join-tables.md).
			return nil, false, from, to, nil
		}
		return rel, collection, from, to, nil
	}
	type candidate struct {
		rel        *eventual.Relationship
		collection bool
	}
	var found []candidate
	for _, r := range parent.ManyToOne() {
		if r.ReferencedTable == linked && r.Lookup != nil && (from == nil || from == linked.PrimaryKey()) && (to == nil || to == r.Lookup) {
			found = append(found, candidate{r, false})
		}
	}
	for _, r := range linked.ManyToOne() {
		if r.ReferencedTable == parent && r.Lookup != nil && (from == nil || from == r.Lookup) && (to == nil || to == parent.PrimaryKey()) {
			found = append(found, candidate{r, true})
		}
	}
	if len(found) != 1 {
		return nil, false, nil, nil, errorf(CodeNoEntity, "The link-entity %s leaves out from or to, and %d relationships between %s and %s fit: give from and to.", linked.LogicalName, len(found), parent.LogicalName, linked.LogicalName)
	}
	return found[0].rel, found[0].collection, from, to, nil
}

// joinOf finds the relationship a link-entity's from and to name: the
// parent's lookup to the linked table's key (many-to-one), or the linked
// table's lookup to the parent's key (one-to-many); nil for none.
func joinOf(parent, linked *eventual.Table, from, to *eventual.Column) (*eventual.Relationship, bool) {
	if to.Type.IsLookup() && from == linked.PrimaryKey() {
		if r := to.RelationshipTo(linked.LogicalName); r != nil {
			return r, false
		}
	}
	if from.Type.IsLookup() && to == parent.PrimaryKey() {
		if r := from.RelationshipTo(parent.LogicalName); r != nil {
			return r, true
		}
	}
	return nil, false
}
