package webapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/codec"
)

// This file serves grouped queries: $apply on an entity set, and the rows
// of FetchXML's aggregate="true" (fetch.go builds the query).

// aggregateMethods are $apply's aggregation methods.
var aggregateMethods = map[string]eventual.AggregateFunc{
	"sum": eventual.AggSum, "average": eventual.AggAvg, "min": eventual.AggMin,
	"max": eventual.AggMax, "countdistinct": eventual.AggCountDistinct,
}

// apply serves $apply: filter, then groupby and aggregate.
func (q *request) apply(t *eventual.Table, nf *navFilter) error {
	o := q.opts
	if o.Select != nil || o.Expand != nil || o.HasSkipToken || o.Count || q.isTracking() {
		return errBadRequest("The query option $apply cannot be combined with $select, $expand, $count, $skiptoken or change tracking.")
	}
	agg, ok := q.ops.(eventual.Aggregator)
	if !ok {
		return eventual.Errorf(eventual.KindNotSupported, eventual.CodeInvalidOperation, "Aggregation is not supported by this service.")
	}
	a := &eventual.Aggregate{Table: t}
	filter, err := q.collectionFilter(t, nf)
	if err != nil {
		return err
	}
	a.Filter = filter
	for _, n := range o.Apply.Filters {
		f, err := q.bindFilter(t, n)
		if err != nil {
			return err
		}
		if a.Filter == nil {
			a.Filter = f
		} else {
			a.Filter = eventual.And{Left: a.Filter, Right: f}
		}
	}
	names, grouped := map[string]bool{}, map[string]bool{}
	pathAlias := map[string]string{} // "nav/…/column" → its alias, for $orderby
	for _, p := range o.Apply.GroupBy {
		if strings.Contains(p, "/") {
			// A column of the record lookups reference: grouped under
			// "<table>_<column>", as Dataverse names it.
			segs := strings.Split(p, "/")
			var path []*eventual.Relationship
			at := t
			for _, nav := range segs[:len(segs)-1] {
				r := at.Navigation(nav)
				if r == nil || at.IsCollectionNavigation(nav) || r.Lookup == nil {
					return errBadRequest("The groupby path '%s' must be lookups' navigation properties and a column of the table they reach.", p)
				}
				path, at = append(path, r), r.ReferencedTable
			}
			col := segs[len(segs)-1]
			c := at.Column(col)
			if c == nil {
				return errNoProperty(at, col)
			}
			if c.Type == eventual.TypeDateTime {
				return errBadRequest("groupby with datetime values is not supported.")
			}
			alias := at.LogicalName + "_" + c.LogicalName
			if names[alias] {
				return errBadRequest("The property '%s' is grouped by twice.", p)
			}
			names[alias], grouped[alias], pathAlias[p] = true, true, alias
			a.GroupBy = append(a.GroupBy, eventual.Grouping{Path: path, Column: c, Alias: alias})
			continue
		}
		c := t.Column(p)
		if c == nil {
			c = t.ColumnByProperty(p)
		}
		if c == nil {
			return errNoProperty(t, p)
		}
		if c.Type == eventual.TypeDateTime {
			return errBadRequest("groupby with datetime values is not supported.")
		}
		prop := c.ValueProperty()
		if names[prop] {
			return errBadRequest("The property '%s' is grouped by twice.", p)
		}
		names[prop], grouped[prop] = true, true
		a.GroupBy = append(a.GroupBy, eventual.Grouping{Column: c, Alias: prop})
	}
	for _, it := range o.Apply.Aggregates {
		if names[it.Alias] {
			return errBadRequest("The alias '%s' is used twice in $apply.", it.Alias)
		}
		names[it.Alias] = true
		if it.Count {
			a.Values = append(a.Values, eventual.AggregateValue{Func: eventual.AggCount, Alias: it.Alias})
			continue
		}
		fn, ok := aggregateMethods[it.Method]
		if !ok {
			return errBadRequest("The aggregation method '%s' is not supported: use sum, average, min, max, countdistinct or $count.", it.Method)
		}
		c := t.Column(it.Path)
		if c == nil {
			c = t.ColumnByProperty(it.Path)
		}
		if c == nil {
			return errNoProperty(t, it.Path)
		}
		v := eventual.AggregateValue{Func: fn, Column: c, Alias: it.Alias}
		if !v.Fits() {
			return eventual.Errorf(eventual.KindInvalid, "0x8004112F", "Aggregate %s is not supported for attribute of type %s.", it.Method, c.Type)
		}
		a.Values = append(a.Values, v)
	}
	for _, ob := range o.OrderBy {
		name := strings.Join(ob.Path, "/")
		if c := t.Column(name); c != nil {
			name = c.ValueProperty()
		} else if alias, ok := pathAlias[name]; ok {
			name = alias
		}
		if !names[name] {
			return errBadRequest("The $orderby property '%s' is not grouped by in the $apply.", strings.Join(ob.Path, "/"))
		}
		if !grouped[name] {
			// Dataverse refuses to order by an aggregate's alias.
			return errBadRequest("The query node SingleValueOpenPropertyAccess is not supported")
		}
		a.OrderBy = append(a.OrderBy, eventual.AggregateOrder{Alias: name, Desc: ob.Desc})
	}
	if o.Top != nil {
		a.Limit = *o.Top
		if a.Limit == 0 {
			a.Limit = -1
		}
	}
	var rows []eventual.AggregateRow
	if a.Limit >= 0 {
		if rows, err = agg.Aggregate(q.ctx, a); err != nil {
			return err
		}
	}
	return q.writeAggregate(q.base+"$metadata#"+t.EntitySetName, a, rows, false)
}

// writeAggregate renders grouped rows: each group-by value under its
// alias (with the annotations a column's value has), each aggregate
// under its own. aliased marks FetchXML rows, whose group-by values carry
// the AttributeName annotation; $apply names them by their property.
func (q *request) writeAggregate(context string, a *eventual.Aggregate, rows []eventual.AggregateRow, aliased bool) error {
	var refs []*eventual.Record
	for _, r := range rows {
		vals := eventual.Values{}
		for _, g := range a.GroupBy {
			if len(g.Path) == 0 && !g.Joined {
				vals[g.Column.LogicalName] = r[g.Alias]
			}
		}
		refs = append(refs, &eventual.Record{Table: a.Table, Values: vals})
	}
	rd, err := q.newRenderer(q.ctx, refs, true)
	if err != nil {
		return err
	}
	b := make([]byte, 0, 128+len(rows)*64)
	b = append(b, `{"@odata.context":`...)
	b = appendString(b, context)
	b = append(b, `,"value":[`...)
	for i, r := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		o := codec.NewObject(b)
		for _, g := range a.GroupBy {
			v := r[g.Alias]
			if g.Date != eventual.DateValue {
				if v != nil {
					o.Key(g.Alias)
					o.B = strconv.AppendInt(o.B, v.(int64), 10)
				}
				continue
			}
			if v == nil {
				continue // a null group's key is left out, as in Dataverse
			}
			if aliased {
				if rd.ann.match(annAttributeName) {
					o.Key(g.Alias + "@" + annAttributeName)
					o.B = appendString(o.B, g.Column.LogicalName)
				}
			}
			rd.appendNamed(&o, g.Alias, g.Column, v)
		}
		for _, v := range a.Values {
			val := r[v.Alias]
			if aliased && val == nil {
				continue
			}
			// Aggregates carry formatted values as columns do
			// (webapi/query/aggregate-data.md: "8", "$440,000.00").
			if val != nil && rd.ann.match(annFormatted) {
				if f, ok := aggregateFormatted(rd, v, val); ok {
					o.Key(v.Alias + "@" + annFormatted)
					o.B = appendString(o.B, f)
				}
			}
			o.Key(v.Alias)
			o.B = appendAggregate(o.B, v, val)
		}
		b = o.Close()
	}
	b = append(b, "]}"...)
	q.appliedPaging()
	return q.writeJSON(http.StatusOK, b)
}

// aggregateFormatted is the formatted value of an aggregate: a count as
// a grouped whole number, the others as their column's values are.
func aggregateFormatted(rd *renderer, v eventual.AggregateValue, val any) (string, bool) {
	if n, ok := val.(int64); ok && (v.Column == nil || v.Func == eventual.AggCount || v.Func == eventual.AggCountColumn || v.Func == eventual.AggCountDistinct) {
		return group(strconv.FormatInt(n, 10)), true
	}
	if v.Column == nil {
		return "", false
	}
	return rd.formatted(v.Column, val)
}

// appendAggregate writes an aggregate's value: counts and averages of
// whole numbers as JSON numbers, the others as their column's values.
func appendAggregate(b []byte, v eventual.AggregateValue, val any) []byte {
	switch x := val.(type) {
	case nil:
		return append(b, "null"...)
	case int64:
		if v.Column == nil || v.Func == eventual.AggCountColumn || v.Func == eventual.AggCountDistinct || v.Func == eventual.AggCount {
			return strconv.AppendInt(b, x, 10)
		}
	case float64:
		if v.Func == eventual.AggAvg {
			return strconv.AppendFloat(b, x, 'f', -1, 64)
		}
	}
	return codec.AppendValue(b, v.Column, val)
}
