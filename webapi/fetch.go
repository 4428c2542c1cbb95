package webapi

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/codec"
	"github.com/eventual-pp/eventual/fetchxml"
	"github.com/google/uuid"
)

// This file serves FetchXML queries: GET <entityset>?fetchXml=<query>.

// The annotations of a FetchXML page.
const (
	annPagingCookie = "Microsoft.Dynamics.CRM.fetchxmlpagingcookie"
	annMoreRecords  = "Microsoft.Dynamics.CRM.morerecords"
	// annAttributeName names the column behind an aliased value.
	annAttributeName = "OData.Community.Display.V1.AttributeName"
)

// fetch runs a FetchXML query on the entity set's table. The query's
// entity must be the set's; no other query option may come with it.
func (q *request) fetch(t *eventual.Table) error {
	o := q.opts
	if o.Select != nil || o.Filter != nil || o.OrderBy != nil || o.Top != nil || o.Expand != nil || o.HasSkipToken || o.HasDeltaToken {
		return errBadRequest("The query parameter fetchXml cannot be combined with other query options but $count: put the columns, filters, order and paging in the FetchXML.")
	}
	if q.isTracking() {
		return errBadRequest("Change tracking (Prefer: odata.track-changes) does not apply to FetchXML queries.")
	}
	env := fetchxml.Env{Now: q.s.now(), UserID: q.s.Meta.UserID}
	if c, ok := eventual.CallerFrom(q.ctx); ok {
		env.UserID = c.UserID
	}
	f, err := fetchxml.Parse(o.FetchXML, q.s.Schema, env)
	if err != nil {
		return err
	}
	if f.Query.Table != t {
		return eventual.Errorf(eventual.KindInvalid, fetchxml.CodeEntitiesDontMatch,
			"The entity name specified in fetchxml does not match the entity name specified in the Entity or Query Expression: the FetchXML queries '%s', the URL's entity set '%s' is of '%s'.", f.Query.Table.LogicalName, t.EntitySetName, t.LogicalName)
	}
	if f.Aggregate != nil {
		agg, ok := q.ops.(eventual.Aggregator)
		if !ok {
			return eventual.Errorf(eventual.KindNotSupported, eventual.CodeInvalidOperation, "Aggregation is not supported by this service.")
		}
		rows, err := agg.Aggregate(q.ctx, f.Aggregate)
		if err != nil {
			return err
		}
		return q.writeAggregate(q.base+"$metadata#"+t.EntitySetName, f.Aggregate, rows, true)
	}
	count := f.TotalRecordCount || o.Count
	dq := f.Query
	size := MaxPageSize
	switch {
	case f.Top > 0:
		size = f.Top
	case f.Count > 0:
		size = f.Count
	}
	if q.prefs.maxPageSize > 0 && f.Top == 0 && f.Count == 0 {
		size = min(size, q.prefs.maxPageSize)
	}
	page := max(f.Page, 1)
	expands := linkExpands(f.Links)
	var cur cursor
	if f.PagingCookie != "" && page > 1 {
		if cur, err = cookieCursor(t, dq.OrderBy, f.PagingCookie, page-1); err != nil {
			return eventual.Errorf(eventual.KindInvalid, fetchxml.CodeInvalidPagingCookie,
				"Invalid page number in paging cookie, or a cookie of another query: send the paging cookie of the previous page, with its page number and the same order.")
		}
		dq.After = cur.after
	} else if page > 1 {
		// Simple paging: read the pages before, as Dataverse does
		// without a cookie.
		dq.Limit = size
		for p := 1; p < page; p++ {
			prev, err := q.ops.RetrieveMultiple(q.ctx, dq, nil, false)
			if err != nil {
				return err
			}
			if !prev.More || len(prev.Records) == 0 {
				dq.Limit = -1
				break
			}
			last := prev.Records[len(prev.Records)-1]
			dq.After = append(append([]any{}, last.SortKey...), last.ID)
		}
	}
	var res *eventual.Page
	if dq.Limit == -1 { // past the last page
		res = &eventual.Page{Count: -1}
		dq.Limit = size
	} else {
		dq.Limit = size
		if res, err = q.ops.RetrieveMultiple(q.ctx, dq, domainExpands(expands), count); err != nil {
			return err
		}
	}
	more := res.More && f.Top == 0
	var cookie string
	if more && len(res.Records) > 0 {
		last := res.Records[len(res.Records)-1]
		nc := cursor{page: page, after: append(append([]any{}, last.SortKey...), last.ID), first: res.Records[0].ID}
		cookie = `<cookie pagenumber="` + strconv.Itoa(page+1) + `" pagingcookie="` + lowerEscape(lowerEscape(innerCookie(t, dq.OrderBy, nc))) + `" istracking="False" />`
	}
	if err := q.readColumnJoins(f.Links, res.Records); err != nil {
		return err
	}
	children, err := q.countChildren(f, res.Records)
	if err != nil {
		return err
	}
	return q.writeFetch(f, res, expands, more, cookie, count, children)
}

// columnJoinKey is where a record keeps the rows a join on columns
// matched, among its related records.
func columnJoinKey(l *fetchxml.Link) string { return "\x00join:" + l.Alias }

// readColumnJoins reads the rows of the links that join on columns: the
// linked records whose From is one of the page's To values (and that
// match the link's filter), kept on each record of the page they match.
func (q *request) readColumnJoins(links []*fetchxml.Link, recs []*eventual.Record) error {
	for _, l := range links {
		if l.Relationship == nil && len(recs) > 0 {
			if err := q.readColumnJoin(l, recs); err != nil {
				return err
			}
		}
	}
	return nil
}

func (q *request) readColumnJoin(l *fetchxml.Link, recs []*eventual.Record) error {
	key := func(v any) string {
		switch x := v.(type) {
		case string:
			return eventual.FoldCase(x)
		case eventual.EntityReference:
			return x.ID.String()
		}
		return fmt.Sprint(v)
	}
	seen := map[string]bool{}
	var values []any
	for _, rec := range recs {
		v := rec.Get(l.To.LogicalName)
		if ref, ok := v.(eventual.EntityReference); ok && l.From.Type == eventual.TypeUniqueIdentifier {
			v = ref.ID
		}
		if v == nil || seen[key(v)] {
			continue
		}
		seen[key(v)] = true
		values = append(values, v)
	}
	byValue := map[string][]*eventual.Record{}
	for start := 0; start < len(values); start += MaxInValues {
		chunk := values[start:min(start+MaxInValues, len(values))]
		var filter eventual.Expr = eventual.In{Field: eventual.Field{Column: l.From}, Values: chunk}
		if l.Filter != nil {
			filter = eventual.And{Left: filter, Right: l.Filter}
		}
		cols := l.Columns
		if cols != nil && !slices.Contains(cols, l.From) {
			cols = append(append([]*eventual.Column{}, cols...), l.From)
		}
		page, err := q.ops.RetrieveMultiple(q.ctx, &eventual.Query{Table: l.Table, Columns: cols, Filter: filter, Limit: MaxPageSize}, nil, false)
		if err != nil {
			return err
		}
		for _, r := range page.Records {
			k := key(r.Get(l.From.LogicalName))
			byValue[k] = append(byValue[k], r)
		}
	}
	nav := columnJoinKey(l)
	for _, rec := range recs {
		v := rec.Get(l.To.LogicalName)
		if v == nil {
			continue
		}
		matched := byValue[key(v)]
		if l.First && len(matched) > 1 {
			matched = matched[:1]
		}
		if rec.Related == nil {
			rec.Related = map[string][]*eventual.Record{}
		}
		rec.Related[nav] = matched
	}
	return nil
}

// countChildren counts, for rowaggregate="CountChildren", the children of
// each record of the page: the records whose hierarchical lookup is it
// (fetchxml/aggregate-data.md, Row aggregate).
func (q *request) countChildren(f *fetchxml.Fetch, recs []*eventual.Record) (map[uuid.UUID]int64, error) {
	if len(f.CountChildren) == 0 {
		return nil, nil
	}
	t := f.Query.Table
	h := t.Hierarchical()
	out := make(map[uuid.UUID]int64, len(recs))
	// One grouped count of the page's children, where the service
	// aggregates (and the children are within its aggregate limit).
	if agg, ok := q.ops.(eventual.Aggregator); ok && len(recs) > 0 && len(recs) <= MaxInValues {
		ids := make([]any, len(recs))
		for i, rec := range recs {
			ids[i] = eventual.Ref(t, rec.ID)
		}
		rows, err := agg.Aggregate(q.ctx, &eventual.Aggregate{Table: t, Filter: eventual.In{Field: eventual.Field{Column: h.Lookup}, Values: ids},
			GroupBy: []eventual.Grouping{{Column: h.Lookup, Alias: "parent"}}, Values: []eventual.AggregateValue{{Func: eventual.AggCount, Alias: "n"}}})
		if err == nil {
			for _, r := range rows {
				if ref, ok := r["parent"].(eventual.EntityReference); ok {
					out[ref.ID], _ = r["n"].(int64)
				}
			}
			return out, nil
		}
		if !errors.Is(err, eventual.ErrAggregateLimit) {
			return nil, err
		}
	}
	for _, rec := range recs {
		x := eventual.Compare{Op: eventual.OpEq, Left: eventual.Field{Column: h.Lookup}, Right: eventual.Literal{Value: eventual.Ref(t, rec.ID)}}
		var err error
		if out[rec.ID], err = q.ops.Count(q.ctx, t, x); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// linkExpands turns link-entities with columns into the expansions that
// read their rows.
func linkExpands(links []*fetchxml.Link) []expandSpec {
	var out []expandSpec
	for _, l := range links {
		if l.Relationship == nil {
			// A join on columns: its rows are read by readColumnJoins.
			out = append(out, expandSpec{Expand: eventual.Expand{Navigation: columnJoinKey(l), Collection: true}})
			continue
		}
		nav := l.Relationship.ReferencingNavigation
		if l.Collection {
			nav = l.Relationship.ReferencedNavigation
		}
		cols := l.Columns
		if cols != nil && len(cols) == 0 {
			cols = []*eventual.Column{l.Table.PrimaryKey()} // read, not returned
		}
		x := eventual.Expand{Navigation: nav, Relationship: l.Relationship, Collection: l.Collection,
			Columns: cols, Filter: l.Filter, OrderBy: l.OrderBy}
		if l.First {
			x.Top = 1
		}
		out = append(out, expandSpec{Expand: x, children: linkExpands(l.Links)})
	}
	return out
}

// linkRow is one combination of related records for a row: each link's
// record, or nil where an outer link matched none.
type linkRow []linkValue

type linkValue struct {
	link *fetchxml.Link
	rec  *eventual.Record
}

// linkRows returns the rows a record makes with its links: one per
// combination of related records (a one-to-many link makes one row per
// related record, as a join does), none when an inner link matched none.
func linkRows(rec *eventual.Record, links []*fetchxml.Link, specs []expandSpec) []linkRow {
	rows := []linkRow{nil}
	for i, l := range links {
		related := rec.Related[specs[i].Navigation]
		var next []linkRow
		for _, row := range rows {
			if len(related) == 0 {
				if l.Outer {
					next = append(next, append(append(linkRow{}, row...), nullLinks(l)...))
				}
				continue
			}
			for _, r := range related {
				for _, sub := range linkRows(r, l.Links, specs[i].children) {
					nr := append(append(linkRow{}, row...), linkValue{link: l, rec: r})
					next = append(next, append(nr, sub...))
				}
			}
		}
		rows = next
	}
	return rows
}

// nullLinks is an outer link that matched nothing, with its nested links.
func nullLinks(l *fetchxml.Link) linkRow {
	row := linkRow{{link: l}}
	for _, c := range l.Links {
		row = append(row, nullLinks(c)...)
	}
	return row
}

// writeFetch renders a FetchXML page: each row's root columns as in any
// collection, then the linked columns as "alias.column".
func (q *request) writeFetch(f *fetchxml.Fetch, page *eventual.Page, expands []expandSpec, more bool, cookie string, count bool, children map[uuid.UUID]int64) error {
	t := f.Query.Table
	all := append([]*eventual.Record{}, page.Records...)
	for _, rec := range page.Records {
		for _, rel := range rec.Related {
			all = append(all, rel...)
		}
	}
	rd, err := q.newRenderer(q.ctx, all, true)
	if err != nil {
		return err
	}
	b := make([]byte, 0, 256+len(page.Records)*256)
	b = append(b, `{"@odata.context":`...)
	b = appendString(b, q.base+"$metadata#"+t.EntitySetName)
	// returntotalrecordcount is $count (fetchxml/count-rows.md): the
	// count, and its annotations when the Prefer header asks for them.
	if count {
		b = append(b, `,"@odata.count":`...)
		b = strconv.AppendInt(b, page.Count, 10)
		b = rd.appendTotals(b, page)
	}
	// The last page carries neither the cookie nor morerecords, as in
	// Dataverse (clients page while the cookie comes).
	if more && cookie != "" && rd.ann.match(annPagingCookie) {
		b = append(b, `,"@`+annPagingCookie+`":`...)
		b = appendString(b, cookie)
	}
	if more && rd.ann.match(annMoreRecords) {
		b = append(b, `,"@`+annMoreRecords+`":true`...)
	}
	b = append(b, `,"value":[`...)
	seen := map[string]bool{}
	n := 0
	for _, rec := range page.Records {
		for _, row := range linkRows(rec, f.Links, expands) {
			o := codec.NewObject(nil)
			if !f.Distinct {
				o.Key("@odata.etag")
				o.B = appendString(o.B, codec.ETag(rec.Version))
			}
			cols := f.Query.Columns
			if cols == nil {
				cols = t.Columns
			} else if !f.Distinct {
				cols = columnsToRender(t, cols)
			}
			// FetchXML leaves null values out, unlike $select.
			for _, c := range cols {
				if v := rec.Get(c.LogicalName); v != nil {
					rd.appendFetched(&o, f.Names, c.ValueProperty(), c, v)
				}
			}
			for _, alias := range f.CountChildren {
				o.Key(alias)
				o.B = strconv.AppendInt(o.B, children[rec.ID], 10)
			}
			for _, lv := range row {
				if lv.rec == nil {
					continue
				}
				lcols := lv.link.Columns
				if lcols == nil {
					lcols = lv.link.Table.Columns
				}
				for _, c := range lcols {
					if v := lv.rec.Get(c.LogicalName); v != nil {
						name := lv.link.Alias + "." + c.LogicalName
						if lv.link.SchemaNames {
							name = c.SchemaName
						}
						rd.appendFetched(&o, lv.link.Names, name, c, v)
					}
				}
			}
			obj := o.Close()
			if f.Distinct {
				if seen[string(obj)] {
					continue
				}
				seen[string(obj)] = true
			}
			if n > 0 {
				b = append(b, ',')
			}
			b = append(b, obj...)
			n++
		}
	}
	b = append(b, "]}"...)
	q.appliedPaging()
	return q.writeJSON(http.StatusOK, b)
}

// appendFetched appends a column of a FetchXML row under its name, unless
// only aliased attributes asked for it, and under each alias its
// attribute elements gave it, with the AttributeName annotation saying
// which column it is.
func (rd *renderer) appendFetched(o *codec.Object, names fetchxml.Names, name string, c *eventual.Column, v any) {
	if !names.AliasOnly[c] {
		rd.appendNamed(o, name, c, v)
	}
	for _, a := range names.Aliases[c] {
		if rd.ann.match(annAttributeName) {
			o.Key(a + "@" + annAttributeName)
			o.B = appendString(o.B, c.LogicalName)
		}
		rd.appendNamed(o, a, c, v)
	}
}
