package webapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/codec"
	"github.com/eventual-pp/eventual/odata"
)

// This file serves records: queries on entity sets, retrieve, create,
// update/upsert and delete.

// checkQueryOptions rejects the options Dataverse does not support.
func (q *request) checkQueryOptions() error {
	if q.opts.Skip != nil {
		return errBadRequest("Skip Clause is not supported in CRM")
	}
	for _, name := range q.opts.Unsupported {
		return errBadRequest("The query parameter '%s' is not supported.", name)
	}
	return nil
}

// singleRecordOptions rejects collection options on a single record.
func (q *request) singleRecordOptions() error {
	if err := q.checkQueryOptions(); err != nil {
		return err
	}
	switch {
	case q.opts.HasDeltaToken:
		return errBadRequest("The query option '$deltatoken' applies to entity sets, not to a single record.")
	case q.opts.Filter != nil:
		return errBadRequest("The query option '$filter' applies to collections, not to a single record.")
	case q.opts.OrderBy != nil:
		return errBadRequest("The query option '$orderby' applies to collections, not to a single record.")
	case q.opts.Top != nil:
		return errBadRequest("The query option '$top' applies to collections, not to a single record.")
	case q.opts.HasSkipToken:
		return errBadRequest("The query option '$skiptoken' applies to collections, not to a single record.")
	case q.opts.Count:
		return errBadRequest("The query option '$count' applies to collections, not to a single record.")
	}
	return nil
}

// navFilter restricts a collection to the records related to a parent.
type navFilter struct {
	parent eventual.EntityReference
	rel    *eventual.Relationship
}

func (f *navFilter) expr() eventual.Expr {
	if m := f.rel.ManyToMany; m != nil {
		return associatedWith(m, f.parent)
	}
	return eventual.Compare{Op: eventual.OpEq, Left: eventual.Field{Column: f.rel.Lookup},
		Right: eventual.Literal{Value: eventual.Ref(f.rel.ReferencedTable, f.parent.ID)}}
}

// resolveParent checks that the parent of a navigation exists and makes
// the filter name it by primary key.
func (q *request) resolveParent(nf *navFilter) error {
	if nf == nil {
		return nil
	}
	rec, err := q.ops.Retrieve(q.ctx, nf.parent, []*eventual.Column{}, nil, "")
	if err != nil {
		return err
	}
	nf.parent = rec.Reference()
	return nil
}

func (q *request) retrieveMultiple(t *eventual.Table) error {
	return q.query(t, nil)
}

// query serves a collection: an entity set, or the records related to a
// parent through a collection-valued navigation property.
func (q *request) query(t *eventual.Table, nf *navFilter) error {
	if err := q.checkQueryOptions(); err != nil {
		return err
	}
	if q.opts.Apply != nil {
		return q.apply(t, nf)
	}
	if q.opts.HasFetchXML {
		if nf != nil {
			return errBadRequest("A FetchXML query applies to an entity set, not to a navigation property.")
		}
		return q.fetch(t)
	}
	if q.isTracking() {
		if nf != nil {
			return errBadRequest("Change tracking applies to entity sets, not to navigation properties.")
		}
		return q.tracked(t)
	}
	if err := q.resolveParent(nf); err != nil {
		return err
	}
	cols, err := bindSelect(t, q.opts.Select)
	if err != nil {
		return err
	}
	filter, err := q.collectionFilter(t, nf)
	if err != nil {
		return err
	}
	order, err := bindOrderBy(t, q.opts.OrderBy)
	if err != nil {
		return err
	}
	expands, err := q.bindExpand(t, q.opts.Expand, false, 0)
	if err != nil {
		return err
	}
	dq := &eventual.Query{Table: t, Columns: cols, Filter: filter, OrderBy: order}
	cur, remaining, err := q.pagePlan(dq)
	if err != nil {
		return err
	}
	page, err := q.readPage(dq, expands)
	if err != nil {
		return err
	}
	more := page.More
	if remaining > 0 {
		remaining -= len(page.Records)
		if remaining <= 0 {
			more = false
		}
	}
	var next string
	if more && len(page.Records) > 0 {
		last := page.Records[len(page.Records)-1]
		nc := cursor{page: cur.page + 1, after: append(append([]any{}, last.SortKey...), last.ID), first: page.Records[0].ID, remaining: max(remaining, 0)}
		next = q.nextLink(encodeSkipToken(t, order, nc))
	}
	return q.writeCollection(t, page, cols, expands, next)
}

// collectionFilter binds $filter and, for the records related to a
// parent, ands it with the filter that selects them.
func (q *request) collectionFilter(t *eventual.Table, nf *navFilter) (eventual.Expr, error) {
	filter, err := q.bindFilter(t, q.opts.Filter)
	if err != nil || nf == nil {
		return filter, err
	}
	f := nf.expr()
	if filter != nil {
		f = eventual.And{Left: f, Right: filter}
	}
	return f, nil
}

// pagePlan sets the query's page size and start from the paging options:
// odata.maxpagesize wins over $top (Dataverse ignores $top when both are
// sent); without either, pages of 5000. A $skiptoken continues a read. It
// returns the cursor read and how many records $top still allows (0: no
// bound).
func (q *request) pagePlan(dq *eventual.Query) (cur cursor, remaining int, err error) {
	pageSize := MaxPageSize
	switch {
	case q.prefs.maxPageSize > 0:
		pageSize = q.prefs.maxPageSize
	case q.opts.Top != nil:
		remaining = *q.opts.Top
		pageSize = min(remaining, MaxPageSize)
	}
	if q.opts.HasSkipToken {
		cur, err = decodeSkipToken(dq.Table, dq.OrderBy, q.opts.SkipToken)
		if err != nil {
			return cur, 0, err
		}
		dq.After = cur.after
		if q.prefs.maxPageSize == 0 && cur.remaining > 0 {
			remaining = cur.remaining
			pageSize = min(remaining, MaxPageSize)
		}
	}
	dq.Limit = pageSize
	return cur, remaining, nil
}

// readPage reads a page of the query; a page size of 0 ($top=0) reads no
// records, only the count when $count asks for it.
func (q *request) readPage(dq *eventual.Query, expands []expandSpec) (*eventual.Page, error) {
	if dq.Limit > 0 {
		page, err := q.ops.RetrieveMultiple(q.ctx, dq, domainExpands(expands), q.opts.Count)
		if err != nil {
			return nil, err
		}
		return page, q.expandManyToMany(page.Records, expands)
	}
	page := &eventual.Page{Count: -1}
	if q.opts.Count {
		n, err := q.ops.Count(q.ctx, dq.Table, dq.Filter)
		if err != nil {
			return nil, err
		}
		page.Count = n
	}
	return page, nil
}

// writeCollection renders a page of records as a collection response, with
// the count annotations asked for and the next link, if any.
func (q *request) writeCollection(t *eventual.Table, page *eventual.Page, cols []*eventual.Column, expands []expandSpec, next string) error {
	rd, err := q.newRenderer(q.ctx, page.Records, true)
	if err != nil {
		return err
	}
	b := make([]byte, 0, 256+len(page.Records)*256)
	b = append(b, `{"@odata.context":`...)
	b = appendString(b, q.base+"$metadata#"+t.EntitySetName+contextSelect(q.opts.Select, expands))
	b = rd.appendTotals(b, page)
	if rd.ann.match(annMetaVersion) {
		b = append(b, `,"@Microsoft.Dynamics.CRM.globalmetadataversion":"1"`...)
	}
	if q.opts.Count {
		b = append(b, `,"@odata.count":`...)
		b = strconv.AppendInt(b, page.Count, 10)
	}
	b = append(b, `,"value":[`...)
	for i, rec := range page.Records {
		if i > 0 {
			b = append(b, ',')
		}
		b = rd.appendRecord(b, rec, cols, expands, true, "")
	}
	b = append(b, ']')
	if next != "" {
		b = append(b, `,"@odata.nextLink":`...)
		b = appendString(b, next)
	}
	b = append(b, '}')
	q.appliedPaging()
	return q.writeJSON(http.StatusOK, b)
}

// appliedPaging reports the page-size and annotation preferences a
// collection response applied.
func (q *request) appliedPaging() {
	if q.prefs.maxPageSize > 0 {
		q.applied("odata.maxpagesize=" + q.prefs.maxPageSizeRaw)
	}
	if q.prefs.annotations.any() {
		q.applied("odata.include-annotations=" + q.prefs.annotationsRaw)
	}
}

// countCollection serves /$count: a plain-text number, at most 5000.
func (q *request) countCollection(t *eventual.Table, nf *navFilter) error {
	if q.opts.HasDeltaToken && nf == nil {
		return q.countChanges(t)
	}
	if err := q.resolveParent(nf); err != nil {
		return err
	}
	filter, err := q.collectionFilter(t, nf)
	if err != nil {
		return err
	}
	n, err := q.ops.Count(q.ctx, t, filter)
	if err != nil {
		return err
	}
	return q.writeText(strconv.FormatInt(n, 10))
}

// writeText writes a plain-text 200 response (counts, raw $value).
func (q *request) writeText(body string) error {
	return q.writeBody(http.StatusOK, "text/plain", []byte(body))
}

// ifNoneMatchVersion returns the version of an If-None-Match ETag that
// allows a 304, or "". "null" (sent by clients to defeat caches) and "*"
// are no condition; $expand and annotations never give a 304.
func (q *request) ifNoneMatchVersion() string {
	v := strings.TrimSpace(q.r.Header.Get("If-None-Match"))
	if v == "" || v == "null" || v == "*" || len(q.opts.Expand) > 0 || q.prefs.annotations.any() {
		return ""
	}
	ver, ok := codec.ParseETag(v)
	if !ok || ver == "*" {
		return ""
	}
	return ver
}

func (q *request) retrieve(ref eventual.EntityReference) error {
	if err := q.singleRecordOptions(); err != nil {
		return err
	}
	return q.serveRecord(ref)
}

// bindProjection binds the request's $select and then its $expand on
// table t.
func (q *request) bindProjection(t *eventual.Table) ([]*eventual.Column, []expandSpec, error) {
	cols, err := bindSelect(t, q.opts.Select)
	if err != nil {
		return nil, nil, err
	}
	expands, err := q.bindExpand(t, q.opts.Expand, false, 0)
	if err != nil {
		return nil, nil, err
	}
	return cols, expands, nil
}

// serveRecord reads the record ref names with $select and $expand, and
// writes it (or 304 when If-None-Match names its version).
func (q *request) serveRecord(ref eventual.EntityReference) error {
	t := ref.Table
	cols, expands, err := q.bindProjection(t)
	if err != nil {
		return err
	}
	rec, err := q.ops.Retrieve(q.ctx, ref, cols, domainExpands(expands), q.ifNoneMatchVersion())
	if err == nil {
		err = q.expandManyToMany([]*eventual.Record{rec}, expands)
	}
	if err != nil {
		if eventual.ErrorKind(err) == eventual.KindNotModified {
			q.w.Header().Set(codec.HeaderETag, q.r.Header.Get("If-None-Match"))
		}
		return err
	}
	return q.writeRecord(http.StatusOK, rec, cols, expands, q.opts.Select)
}

// writeRecord writes one record with its context, ETag header and
// applied preferences.
func (q *request) writeRecord(status int, rec *eventual.Record, cols []*eventual.Column, expands []expandSpec, selectItems []string) error {
	rd, err := q.newRenderer(q.ctx, []*eventual.Record{rec}, false)
	if err != nil {
		return err
	}
	context := q.base + "$metadata#" + rec.Table.EntitySetName + contextSelect(selectItems, expands) + "/$entity"
	b := rd.appendRecord(make([]byte, 0, 512), rec, cols, expands, true, context)
	q.w.Header().Set(codec.HeaderETag, codec.ETag(rec.Version))
	if q.prefs.annotations.any() {
		q.applied("odata.include-annotations=" + q.prefs.annotationsRaw)
	}
	return q.writeJSON(status, b)
}

// entityURL is the URL of a record in the key form given.
func (q *request) entityURL(ref eventual.EntityReference) string {
	if !ref.ByKey() {
		return q.base + ref.Table.EntitySetName + "(" + ref.ID.String() + ")"
	}
	parts := make([]string, len(ref.Key.Columns))
	for i, c := range ref.Key.Columns {
		name := c.ValueProperty()
		v := ref.KeyValues[i]
		if s, ok := v.(string); ok {
			parts[i] = name + "=" + escapeLiteral(odata.Quote(s))
		} else {
			parts[i] = name + "=" + eventual.FormatLiteral(v)
		}
	}
	return q.base + ref.Table.EntitySetName + "(" + strings.Join(parts, ",") + ")"
}

// escapeLiteral percent-encodes what a URL's path cannot hold as it is
// in a key's literal: controls, spaces, bytes beyond ASCII, and the
// characters that would end or split the segment or the path (# ? / %)
// or that RFC 3986 leaves out (" < > \ ^ ` { | }). The quotes and
// parentheses of the literal stay, as Dataverse writes them.
func escapeLiteral(lit string) string { return percentEncode(lit, "/?") }

// percentEncode percent-encodes the bytes of s that no part of a URL holds
// as they are (controls, spaces, bytes beyond ASCII, " # % < > \ ^ ` { | })
// and those in special.
func percentEncode(s, special string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"#%<>\\^`{|}", c) >= 0 || strings.IndexByte(special, c) >= 0 {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func (q *request) create(t *eventual.Table) error {
	if !q.opts.OnlyProjection() {
		return errBadRequest("Query options other than $select and $expand are not supported when creating a record.")
	}
	e, err := q.readEntity(t)
	if err != nil {
		return err
	}
	return q.createEntity(e)
}

// createEntity creates an entity and writes the response: 204 with
// OData-EntityId, or 201 with the record under return=representation.
func (q *request) createEntity(e *eventual.Entity) error {
	t := e.Table
	var cols []*eventual.Column
	var expands []expandSpec
	var err error
	if q.prefs.returnRepresentation {
		// Check $select and $expand before writing anything.
		if cols, expands, err = q.bindProjection(t); err != nil {
			return err
		}
	}
	id, err := q.ops.Create(q.ctx, e)
	if err != nil {
		return err
	}
	if !q.prefs.returnRepresentation {
		q.w.Header().Set(codec.HeaderEntityID, q.base+t.EntitySetName+"("+id.String()+")")
		return q.writeNoContent()
	}
	rec, err := q.ops.Retrieve(q.ctx, eventual.Ref(t, id), cols, domainExpands(expands), "")
	if err != nil {
		return err
	}
	q.applied("return=representation")
	return q.writeRecord(http.StatusCreated, rec, cols, expands, q.opts.Select)
}

// condition reads If-Match and If-None-Match for a write.
func (q *request) condition() (eventual.Condition, error) {
	var c eventual.Condition
	if v := strings.TrimSpace(q.r.Header.Get("If-Match")); v != "" {
		tag, ok := codec.ParseETag(v)
		if !ok {
			return c, errBadRequest("The If-Match header value '%s' is not a valid ETag.", v)
		}
		c.IfMatch = tag
	}
	if v := strings.TrimSpace(q.r.Header.Get("If-None-Match")); v != "" && v != "null" {
		if v != "*" {
			return c, errBadRequest("The If-None-Match header of a write must be '*'.")
		}
		c.IfNoneMatch = v
	}
	if c.IfMatch != "" && c.IfNoneMatch != "" {
		return c, errBadRequest("If-Match and If-None-Match cannot be combined.")
	}
	return c, nil
}

// patch updates or upserts a record.
func (q *request) patch(ref eventual.EntityReference) error {
	if !q.opts.OnlyProjection() {
		return errBadRequest("Query options other than $select are not supported when updating a record.")
	}
	cond, err := q.condition()
	if err != nil {
		return err
	}
	t := ref.Table
	var cols []*eventual.Column
	if q.prefs.returnRepresentation {
		if cols, err = bindSelect(t, q.opts.Select); err != nil {
			return err
		}
	}
	e, err := q.readEntity(t)
	if err != nil {
		return err
	}
	if v, ok := e.Values[t.PrimaryIDAttribute]; ok {
		if !ref.ByKey() && v != ref.ID {
			return errBadRequest("The primary key in the request body does not match the key in the URL.")
		}
		if ref.ByKey() {
			if id, err := t.PrimaryKeyValue(v); err == nil {
				e.ID = id
			}
		}
		delete(e.Values, t.PrimaryIDAttribute)
	}
	created, id, err := q.ops.Upsert(q.ctx, ref, e, cond)
	if err != nil {
		return err
	}
	if !q.prefs.returnRepresentation {
		q.w.Header().Set(codec.HeaderEntityID, q.entityURL(ref))
		return q.writeNoContent()
	}
	// $expand is ignored on update, as in Dataverse.
	rec, err := q.ops.Retrieve(q.ctx, eventual.Ref(t, id), cols, nil, "")
	if err != nil {
		return err
	}
	q.applied("return=representation")
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return q.writeRecord(status, rec, cols, nil, q.opts.Select)
}

func (q *request) delete(ref eventual.EntityReference) error {
	cond, err := q.condition()
	if err != nil {
		return err
	}
	if cond.IfNoneMatch != "" {
		return errBadRequest("If-None-Match is not supported on DELETE.")
	}
	if err := q.ops.Delete(q.ctx, ref, cond); err != nil {
		return err
	}
	return q.writeNoContent()
}

// getProperty serves accounts(<id>)/name and .../name/$value.
func (q *request) getProperty(ref eventual.EntityReference, c *eventual.Column, raw bool) error {
	rec, err := q.ops.Retrieve(q.ctx, ref, []*eventual.Column{c}, nil, "")
	if err != nil {
		return err
	}
	v := rec.Get(c.LogicalName)
	if v == nil {
		return q.writeNoContent()
	}
	if raw {
		text := strings.Trim(string(appendValue(nil, c, v)), `"`)
		if s, ok := v.(string); ok {
			text = s
		}
		return q.writeText(text)
	}
	b := []byte(`{"@odata.context":`)
	b = appendString(b, q.base+"$metadata#"+ref.Table.EntitySetName+"("+rec.ID.String()+")/"+c.ValueProperty())
	b = append(b, `,"value":`...)
	b = appendValue(b, c, v)
	b = append(b, '}')
	return q.writeJSON(http.StatusOK, b)
}

// errReadOnlyProperty is the error for writing a read-only column as a
// property: the primary key, createdon, modifiedon, versionnumber, the
// placeholder lifecycle columns and derived columns (fullname). A PATCH
// body ignores such columns, as Dataverse ignores attributes that are not
// valid for update; a PUT or DELETE that names one asks for nothing else,
// so it fails rather than answer 204 and change only modifiedon.
func errReadOnlyProperty(ref eventual.EntityReference, c *eventual.Column) error {
	return eventual.Errorf(eventual.KindInvalid, eventual.CodeInvalidArgument,
		"The property '%s' of entity '%s' is read-only: it is not valid for update.", c.LogicalName, ref.Table.LogicalName)
}

// putProperty serves PUT accounts(<id>)/name with {"value": ...}.
func (q *request) putProperty(ref eventual.EntityReference, c *eventual.Column) error {
	if c.Type.IsLookup() {
		return eventual.Errorf(eventual.KindInvalid, eventual.CodeBadRequest,
			"CRM do not support direct update of Entity Reference properties, Use Navigation properties instead.")
	}
	if c.System || c.Computed {
		return errReadOnlyProperty(ref, c)
	}
	cond, err := q.condition()
	if err != nil {
		return err
	}
	m, err := q.readObject(ref.Table.EntitySetName)
	if err != nil {
		return err
	}
	raw, ok := m["value"]
	if !ok || len(m) != 1 {
		return errPayload(ref.Table.EntitySetName, "Microsoft.OData.ODataException: The body of a single property update must be {\"value\": ...}.")
	}
	v, err := codec.JSONValue(c, raw)
	if err != nil {
		return errPayload(ref.Table.EntitySetName, "Microsoft.OData.ODataException: "+err.Error())
	}
	if _, err := q.ops.Update(q.ctx, ref, eventual.Values{c.LogicalName: v}, cond); err != nil {
		return err
	}
	return q.writeNoContent()
}

// deleteProperty serves DELETE accounts(<id>)/description: it sets the
// column to null.
func (q *request) deleteProperty(ref eventual.EntityReference, c *eventual.Column) error {
	if c.Type.IsLookup() {
		return errBadRequest("To remove a lookup value, delete the reference: DELETE .../%s/$ref.", c.LogicalName)
	}
	if c.System || c.Computed {
		return errReadOnlyProperty(ref, c)
	}
	cond, err := q.condition()
	if err != nil {
		return err
	}
	if _, err := q.ops.Update(q.ctx, ref, eventual.Values{c.LogicalName: nil}, cond); err != nil {
		return err
	}
	return q.writeNoContent()
}

// appendTotals appends the totalrecordcount annotations of a page, those
// the Prefer header asks for.
func (rd *renderer) appendTotals(b []byte, page *eventual.Page) []byte {
	if rd.ann.match(annTotal) {
		b = append(b, `,"@Microsoft.Dynamics.CRM.totalrecordcount":`...)
		b = strconv.AppendInt(b, page.Count, 10)
	}
	if rd.ann.match(annTotalLimit) {
		b = append(b, `,"@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded":`...)
		b = strconv.AppendBool(b, page.CountLimitExceeded)
	}
	return b
}
