package client

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"strconv"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// Pages runs a query and yields its pages, following @odata.nextLink as
// Dataverse pages: q.Limit is the page size (the odata.maxpagesize
// preference, sent again with every next link; 0 lets the server choose,
// 5000 on Dataverse), q.After starts after a record (see AfterFilter).
// The sequence ends after the last page or at the first error, which it
// yields; breaking out of the loop sends no further request.
func (r *Records) Pages(ctx context.Context, q *eventual.Query, expand []eventual.Expand) iter.Seq2[*eventual.Page, error] {
	return func(yield func(*eventual.Page, error) bool) {
		path, h, err := r.queryRequest(q, expand, false)
		if err != nil {
			yield(nil, err)
			return
		}
		for path != "" {
			resp, err := r.c.Do(ctx, &Request{Method: http.MethodGet, Path: path, Header: h})
			if err != nil {
				yield(nil, err)
				return
			}
			page, next, err := decodePage(q.Table, resp.Body)
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(page, nil) {
				return
			}
			if next == path {
				yield(nil, fmt.Errorf("client: the server answered %s with a next link to itself", q.Table.EntitySetName))
				return
			}
			path = next
		}
	}
}

// All runs a query and yields its records one by one, across pages (see
// Pages): for rec, err := range r.All(ctx, q, nil) { … }.
func (r *Records) All(ctx context.Context, q *eventual.Query, expand []eventual.Expand) iter.Seq2[*eventual.Record, error] {
	return func(yield func(*eventual.Record, error) bool) {
		for page, err := range r.Pages(ctx, q, expand) {
			if err != nil {
				yield(nil, err)
				return
			}
			for _, rec := range page.Records {
				if !yield(rec, nil) {
					return
				}
			}
		}
	}
}

// queryRequest is the path and headers of a query's first page: its
// options, the keyset filter of q.After and the page size preference.
func (r *Records) queryRequest(q *eventual.Query, expand []eventual.Expand, count bool) (string, http.Header, error) {
	qq := *q
	after, err := AfterFilter(q)
	if err != nil {
		return "", nil, err
	}
	if after != nil {
		qq.Filter = after
		if q.Filter != nil {
			qq.Filter = eventual.And{Left: q.Filter, Right: after}
		}
	}
	opts, err := QueryOptions(&qq, expand, 0)
	if err != nil {
		return "", nil, err
	}
	if count {
		opts.Set("$count", "true")
	}
	var prefs []string
	if q.Limit > 0 {
		prefs = append(prefs, "odata.maxpagesize="+strconv.Itoa(q.Limit))
	}
	h := readHeader(prefs...)
	path := q.Table.EntitySetName
	if enc := Encode(opts); enc != "" {
		path += "?" + enc
	}
	return path, h, nil
}

// namesPerRequest bounds the ids of one PrimaryNames request, keeping its
// URL well under the Web API's limit.
const namesPerRequest = 100

// PrimaryNames returns the primary name of each referenced record that
// exists, by id: one request per table and up to 100 records, selecting
// the primary name column with Microsoft.Dynamics.CRM.In on the primary
// key. References by alternate key and tables without a primary name are
// left out.
func (r *Records) PrimaryNames(ctx context.Context, refs []eventual.EntityReference) (map[uuid.UUID]string, error) {
	byTable := map[*eventual.Table][]any{}
	var order []*eventual.Table
	for _, ref := range refs {
		if ref.Table == nil || ref.ByKey() || ref.Table.PrimaryName() == nil {
			continue
		}
		if _, seen := byTable[ref.Table]; !seen {
			order = append(order, ref.Table)
		}
		byTable[ref.Table] = append(byTable[ref.Table], ref.ID)
	}
	out := map[uuid.UUID]string{}
	for _, t := range order {
		ids := byTable[t]
		for len(ids) > 0 {
			n := min(len(ids), namesPerRequest)
			if err := r.primaryNames(ctx, t, ids[:n], out); err != nil {
				return nil, err
			}
			ids = ids[n:]
		}
	}
	return out, nil
}

// primaryNames reads the primary names of records of one table into out.
func (r *Records) primaryNames(ctx context.Context, t *eventual.Table, ids []any, out map[uuid.UUID]string) error {
	q := &eventual.Query{Table: t, Columns: []*eventual.Column{t.PrimaryName()},
		Filter: eventual.In{Field: eventual.Field{Column: t.PrimaryKey()}, Values: ids}}
	for rec, err := range r.All(ctx, q, nil) {
		if err != nil {
			return err
		}
		if s, ok := rec.Values[t.PrimaryNameAttribute].(string); ok {
			out[rec.ID] = s
		}
	}
	return nil
}
