package fetchxml

import (
	"strings"

	"github.com/eventual-pp/eventual"
)

// The error codes of aggregate queries.
const (
	// CodeInvalidAggregate is QueryBuilderDeserializeInvalidAggregate.
	CodeInvalidAggregate = "0x8004111a"
	// CodeAttributeWithAggregate is QueryBuilderAttribute_With_Aggregate.
	CodeAttributeWithAggregate = "0x80041107"
	// CodeInvalidAggregateAlias is QueryBuilderInvalid_Alias.
	CodeInvalidAggregateAlias = "0x80041109"
	// CodeInvalidAggregateAttribute is QueryBuilderInvalidAggregateAttribute.
	CodeInvalidAggregateAttribute = "0x8004112F"
	// CodeGroupByAndAggregate is QueryBuilderAttributeCannotBeGroupByAndAggregate.
	CodeGroupByAndAggregate = "0x80041137"
	// CodeInvalidDateGrouping is QueryBuilderInvalidDateGrouping.
	CodeInvalidDateGrouping = "0x80041135"
	// CodeAttributeInAggregateOrder is QueryBuilderAttributeNotAllowedForAggregateOrderBy.
	CodeAttributeInAggregateOrder = "0x80041131"
	// CodeAliasRequiredInAggregateOrder is QueryBuilderAliasRequiredForAggregateOrderBy.
	CodeAliasRequiredInAggregateOrder = "0x80041134"
)

var aggregates = map[string]eventual.AggregateFunc{
	"count": eventual.AggCount, "countcolumn": eventual.AggCountColumn, "sum": eventual.AggSum,
	"avg": eventual.AggAvg, "min": eventual.AggMin, "max": eventual.AggMax,
}

var dateGroupings = map[string]eventual.DatePart{
	"day": eventual.DateDay, "week": eventual.DateWeek, "month": eventual.DateMonth,
	"quarter": eventual.DateQuarter, "year": eventual.DateYear,
}

// aggregateAttr reads an attribute of an aggregate query: a group-by term
// or an aggregate, named by its alias.
func (p *parser) aggregateAttr(sc *scope, n *node, c *eventual.Column) error {
	// The entity's columns and its many-to-one links' are the grouped
	// rows'; a one-to-many link's are its join's (p.join).
	joined := false
	switch {
	case sc.base == p.root:
	case p.join != nil && sc.base == p.join:
		joined = true
	default:
		return eventual.Errorf(eventual.KindNotSupported, eventual.CodeInvalidOperation, "Aggregates or groups of columns of a one-to-many link-entity under another one are not supported yet by eventual.")
	}
	for name := range n.attrs {
		switch name {
		case "name", "alias", "aggregate", "groupby", "dategrouping", "distinct", "usertimezone", "build", "addedby":
		case "rowaggregate":
			return errorf(CodeInvalidAggregate, "An error occurred while processing Aggregates in Query: rowaggregate applies to a query without aggregate=\"true\".")
		default:
			return invalidNode("<attribute> has no attribute %s.", name)
		}
	}
	alias, ok := n.attr("alias")
	if !ok || !validAlias(alias) {
		return errorf(CodeInvalidAggregateAlias, "Invalid alias for aggregate operation: the attribute %s of an aggregate query needs an alias.", c.LogicalName)
	}
	if p.aliases[alias] {
		return errorf(CodeDuplicateAlias, "FetchXML should have unique aliases: %q is used twice.", alias)
	}
	p.aliases[alias] = true
	fn, hasAgg := n.attr("aggregate")
	groupby, err := boolAttr(n, "groupby")
	if err != nil {
		return err
	}
	switch {
	case hasAgg && groupby:
		return errorf(CodeGroupByAndAggregate, "An attribute can either be an aggregate or a Group By but not both: %s.", alias)
	case groupby:
		g := eventual.Grouping{Joined: joined, Path: sc.path, Column: c, Alias: alias}
		if dg, ok := n.attr("dategrouping"); ok {
			part, ok := dateGroupings[strings.ToLower(dg)]
			if strings.HasPrefix(strings.ToLower(dg), "fiscal-") && c.Type == eventual.TypeDateTime {
				return eventual.Errorf(eventual.KindNotSupported, eventual.CodeInvalidOperation, "The dategrouping %s is not supported by eventual: it needs the organization's fiscal year settings, which eventual does not have.", dg)
			}
			if !ok || c.Type != eventual.TypeDateTime {
				return errorf(CodeInvalidDateGrouping, "An invalid value was specified for dategrouping: %q on %s (day, week, month, quarter or year, on a date and time column).", dg, c.LogicalName)
			}
			g.Date = part
		}
		p.agg.GroupBy = append(p.agg.GroupBy, g)
		return nil
	case !hasAgg:
		return errorf(CodeAttributeWithAggregate, "Attributes can not be returned when aggregate operation is specified: %s needs aggregate or groupby.", c.LogicalName)
	}
	f, ok := aggregates[strings.ToLower(fn)]
	if !ok {
		return errorf(CodeInvalidAggregateAttribute, "Aggregate %s is not supported for attribute of type %s.", fn, c.Type)
	}
	distinct, err := boolAttr(n, "distinct")
	if err != nil {
		return err
	}
	if distinct {
		if f != eventual.AggCountColumn {
			return errorf(CodeInvalidAggregateAttribute, "distinct applies to the countcolumn aggregate only, not to %s.", fn)
		}
		f = eventual.AggCountDistinct
	}
	v := eventual.AggregateValue{Func: f, Joined: joined, Path: sc.path, Column: c, Alias: alias}
	if f == eventual.AggCount {
		v.Column, v.Joined, v.Path = nil, false, nil
	}
	if !v.Fits() {
		return errorf(CodeInvalidAggregateAttribute, "Aggregate %s is not supported for attribute of type %s.", fn, c.Type)
	}
	p.agg.Values = append(p.agg.Values, v)
	return nil
}

// aggregateOrder reads an order of an aggregate query: by alias.
func (p *parser) aggregateOrder(sc *scope, n *node) error {
	if _, ok := n.attr("attribute"); ok {
		return errorf(CodeAttributeInAggregateOrder, "An attribute cannot be specified for an order clause for an aggregate Query. Use an alias.")
	}
	alias, ok := n.attr("alias")
	if !ok || alias == "" {
		return errorf(CodeAliasRequiredInAggregateOrder, "An alias is required for an order clause for an aggregate Query.")
	}
	desc, err := boolAttr(n, "descending")
	if err != nil {
		return err
	}
	for name := range n.attrs {
		if name != "alias" && name != "descending" {
			return invalidNode("<order> has no attribute %s.", name)
		}
	}
	p.agg.OrderBy = append(p.agg.OrderBy, eventual.AggregateOrder{Alias: alias, Desc: desc})
	return nil
}
