package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/codec"
	"github.com/google/uuid"
)

// Records sends Dataverse's record messages over a Client, in the root
// package's types: it implements eventual.RecordService over HTTP (single
// records here, iterators and PrimaryNames in pages.go, the bulk messages
// in bulk.go, change tracking in changes.go), so a remote instance can
// stand where a local one does. The schema says how values are encoded
// and decoded; it must describe the tables of the endpoint (for eventual,
// the configuration it serves; DiscoverSchema reads one from any
// endpoint). Records is safe for concurrent use.
type Records struct {
	c      *Client
	schema *eventual.Schema
}

var _ eventual.RecordService = (*Records)(nil)

// NewRecords returns the record messages of a client for a schema.
func NewRecords(c *Client, schema *eventual.Schema) *Records {
	return &Records{c: c, schema: schema}
}

// Create creates a record and returns its primary key. With e.ID set the
// body carries the primary key, so a request that may have been applied
// can be sent again: a replay answers 412 and makes no second record, and
// Create then confirms the record exists and reports success. Without
// e.ID a create is never re-sent once it may have been applied.
func (r *Records) Create(ctx context.Context, e *eventual.Entity) (uuid.UUID, error) {
	body, err := entityBody(e, e.ID != uuid.Nil)
	if err != nil {
		return uuid.Nil, err
	}
	replay := ReplayAuto
	if e.ID != uuid.Nil {
		replay = ReplaySafe
	}
	resp, err := r.c.Do(ctx, &Request{Method: http.MethodPost, Path: e.Table.EntitySetName, Body: body, Replay: replay})
	if err != nil {
		if replayed(err) && IsPreconditionFailed(err) && r.exists(ctx, eventual.Ref(e.Table, e.ID)) {
			return e.ID, nil // the earlier attempt created it
		}
		return uuid.Nil, err
	}
	return entityID(resp)
}

// replayed reports an error answered to a replay of a request that may
// have been applied (Error.Replayed).
func replayed(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Replayed
}

// exists reports whether the record is there, reading its primary key
// only; any failure reads as no.
func (r *Records) exists(ctx context.Context, ref eventual.EntityReference) bool {
	_, err := r.Retrieve(ctx, ref, []*eventual.Column{ref.Table.PrimaryKey()}, nil, "")
	return err == nil
}

// Retrieve reads the record the target names, with the columns asked for
// (nil for all) and the expansions (expanded records are in
// Record.Related, by navigation property). With ifNoneMatch set to the
// record's version, an unchanged record is a KindNotModified error.
//
// Dataverse never answers 304 to a request asking for annotations, and a
// lookup of several tables (customer, owner) names its table only in the
// lookuplogicalname annotation. So a conditional retrieve is sent without
// it, and when the record has changed and such a lookup is read, read
// again with it.
func (r *Records) Retrieve(ctx context.Context, target eventual.EntityReference, columns []*eventual.Column, expand []eventual.Expand, ifNoneMatch string) (*eventual.Record, error) {
	path, err := keyPath(target)
	if err != nil {
		return nil, err
	}
	opts, err := QueryOptions(&eventual.Query{Table: target.Table, Columns: columns}, expand, 0)
	if err != nil {
		return nil, err
	}
	if enc := Encode(opts); enc != "" {
		path += "?" + enc
	}
	h := readHeader()
	if ifNoneMatch != "" && len(expand) == 0 {
		h = http.Header{"If-None-Match": {codec.ETag(mustVersion(ifNoneMatch))}}
	}
	resp, err := r.c.Do(ctx, &Request{Method: http.MethodGet, Path: path, Header: h})
	if err != nil {
		return nil, err
	}
	if h.Get("If-None-Match") != "" && readsMultiTableLookup(target.Table, columns) {
		if resp, err = r.c.Do(ctx, &Request{Method: http.MethodGet, Path: path, Header: readHeader()}); err != nil {
			return nil, err
		}
	}
	return codec.DecodeRecord(target.Table, resp.Body)
}

// readsMultiTableLookup reports whether the columns (nil: all of the
// table's) hold a lookup that may reference more than one table.
func readsMultiTableLookup(t *eventual.Table, columns []*eventual.Column) bool {
	if columns == nil {
		columns = t.Columns
	}
	for _, c := range columns {
		if c.Type.IsLookup() && len(c.Targets) > 1 {
			return true
		}
	}
	return false
}

// Update writes values to an existing record and returns its id. With
// cond.IfMatch a version, a 412 answered to a replay (Error.Replayed) may
// be the earlier attempt's own success: the caller must read the record to
// tell.
func (r *Records) Update(ctx context.Context, target eventual.EntityReference, values eventual.Values, cond eventual.Condition) (uuid.UUID, error) {
	if cond.IfMatch == "" {
		cond.IfMatch = "*"
	}
	_, id, err := r.patch(ctx, target, &eventual.Entity{Table: target.Table, Values: values}, cond)
	return id, err
}

// Upsert updates the record the target names or creates it with the
// target's key, and reports whether it created it.
func (r *Records) Upsert(ctx context.Context, target eventual.EntityReference, e *eventual.Entity, cond eventual.Condition) (bool, uuid.UUID, error) {
	return r.patch(ctx, target, e, cond)
}

// patch sends a PATCH with the conditions. It asks for the record back
// (return=representation, primary key only) to learn whether the PATCH
// created it: 201 created, 200 updated.
func (r *Records) patch(ctx context.Context, target eventual.EntityReference, e *eventual.Entity, cond eventual.Condition) (bool, uuid.UUID, error) {
	path, err := keyPath(target)
	if err != nil {
		return false, uuid.Nil, err
	}
	body, err := entityBody(e, false)
	if err != nil {
		return false, uuid.Nil, err
	}
	h := conditionHeader(cond)
	h.Set("Prefer", "return=representation")
	path += "?$select=" + target.Table.PrimaryIDAttribute
	resp, err := r.c.Do(ctx, &Request{Method: http.MethodPatch, Path: path, Header: h, Body: body})
	if err != nil {
		return false, uuid.Nil, err
	}
	rec, err := codec.DecodeRecord(target.Table, resp.Body)
	if err != nil {
		return false, uuid.Nil, err
	}
	return resp.StatusCode == http.StatusCreated, rec.ID, nil
}

// Delete deletes the record the target names. A 404 answered to a replay
// of an attempt that may have been applied is that attempt's success.
func (r *Records) Delete(ctx context.Context, target eventual.EntityReference, cond eventual.Condition) error {
	path, err := keyPath(target)
	if err != nil {
		return err
	}
	_, err = r.c.Do(ctx, &Request{Method: http.MethodDelete, Path: path, Header: conditionHeader(cond)})
	if replayed(err) && IsNotFound(err) {
		return nil
	}
	return err
}

// RetrieveMultiple reads one page of a query: q.Limit records at most
// (the odata.maxpagesize preference), continuing after q.After when set
// (as a keyset filter, see AfterFilter). Page.More reports a next link.
func (r *Records) RetrieveMultiple(ctx context.Context, q *eventual.Query, expand []eventual.Expand, count bool) (*eventual.Page, error) {
	path, h, err := r.queryRequest(q, expand, count)
	if err != nil {
		return nil, err
	}
	resp, err := r.c.Do(ctx, &Request{Method: http.MethodGet, Path: path, Header: h})
	if err != nil {
		return nil, err
	}
	page, _, err := decodePage(q.Table, resp.Body)
	return page, err
}

// Count returns the number of records the filter selects (at most
// eventual.MaxCount, as the Web API counts).
func (r *Records) Count(ctx context.Context, t *eventual.Table, filter eventual.Expr) (int64, error) {
	path := t.EntitySetName + "/$count"
	if filter != nil {
		f, err := FormatFilter(filter)
		if err != nil {
			return 0, err
		}
		path += "?$filter=" + Escape(f)
	}
	resp, err := r.c.Do(ctx, &Request{Method: http.MethodGet, Path: path})
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(resp.Body)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("client: count of %s: %q is not a number", t.EntitySetName, resp.Body)
	}
	return n, nil
}

// decodePage decodes a collection response: its value array, the count
// annotations and the next link, if one follows.
func decodePage(t *eventual.Table, body []byte) (*eventual.Page, string, error) {
	v, err := codec.DecodeResponse(body)
	if err != nil {
		return nil, "", fmt.Errorf("client: collection of %s: %w", t.EntitySetName, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, "", fmt.Errorf("client: collection of %s is not a JSON object", t.EntitySetName)
	}
	items, _ := m["value"].([]any)
	page := &eventual.Page{Count: -1, Records: make([]*eventual.Record, 0, len(items))}
	for _, it := range items {
		obj, ok := it.(map[string]any)
		if !ok {
			return nil, "", fmt.Errorf("client: collection of %s holds a non-object", t.EntitySetName)
		}
		rec, err := codec.RecordFromJSON(t, obj)
		if err != nil {
			return nil, "", err
		}
		page.Records = append(page.Records, rec)
	}
	next, _ := m["@odata.nextLink"].(string)
	page.More = next != ""
	if n, ok := m["@odata.count"].(interface{ Int64() (int64, error) }); ok {
		page.Count, _ = n.Int64()
	}
	if x, ok := m["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"].(bool); ok {
		page.CountLimitExceeded = x
	}
	return page, next, nil
}

// keyPath is the URL path of the record a reference names: set(id) or
// set(key1=literal,...).
func keyPath(ref eventual.EntityReference) (string, error) {
	if ref.Table == nil {
		return "", fmt.Errorf("client: a reference without a table")
	}
	if !ref.ByKey() {
		return ref.Table.EntitySetName + "(" + ref.ID.String() + ")", nil
	}
	if len(ref.KeyValues) != len(ref.Key.Columns) {
		return "", fmt.Errorf("client: key %s takes %d values, not %d", ref.Key.LogicalName, len(ref.Key.Columns), len(ref.KeyValues))
	}
	parts := make([]string, len(ref.Key.Columns))
	for i, c := range ref.Key.Columns {
		lit, err := literal(c, ref.KeyValues[i])
		if err != nil {
			return "", err
		}
		parts[i] = c.LogicalName + "=" + lit
	}
	return ref.Table.EntitySetName + "(" + Escape(strings.Join(parts, ",")) + ")", nil
}

// entityBody encodes an entity's values as a Web API body: plain columns
// as properties, lookups as nav@odata.bind to the record they reference,
// and the related records of a deep insert as the collection-valued
// navigation property (new records nested, existing ones bound).
func entityBody(e *eventual.Entity, withID bool) ([]byte, error) {
	o := codec.NewObject(nil)
	if err := appendEntity(&o, e, withID); err != nil {
		return nil, err
	}
	return o.Close(), nil
}

// appendEntity appends an entity's properties to an open object.
func appendEntity(o *codec.Object, e *eventual.Entity, withID bool) error {
	if withID {
		o.Key(e.Table.PrimaryIDAttribute)
		o.B = codec.AppendString(o.B, e.ID.String())
	}
	for name, v := range e.Values {
		if err := appendValue(o, e.Table, name, v); err != nil {
			return err
		}
	}
	for _, rel := range e.Related {
		if err := appendRelated(o, e.Table, rel); err != nil {
			return err
		}
	}
	return nil
}

// appendValue appends one column's value: a property, or a lookup's bind.
func appendValue(o *codec.Object, t *eventual.Table, name string, v any) error {
	c := t.Column(name)
	if c == nil {
		return eventual.Errorf(eventual.KindInvalid, eventual.CodeBadRequest, "client: table %s has no column %s", t.LogicalName, name)
	}
	if cr, ok := v.(ContentRef); ok && c.Type.IsLookup() {
		return bindContent(o, c, cr)
	}
	if c.Type.IsLookup() && v == nil && len(c.Relationships()) > 0 {
		// Cleared through its navigation property: a customer lookup has
		// no property of its own name (parentcustomerid_account does).
		o.Key(c.Relationships()[0].ReferencingNavigation + "@odata.bind")
		o.B = append(o.B, "null"...)
		return nil
	}
	ref, isRef := v.(eventual.EntityReference)
	if !c.Type.IsLookup() || !isRef {
		o.Key(name)
		o.B = codec.AppendValue(o.B, c, v)
		return nil
	}
	return bind(o, c, ref)
}

// appendRelated appends a deep insert's collection-valued navigation
// property: the new records as nested objects, the existing ones as
// nav@odata.bind paths.
func appendRelated(o *codec.Object, t *eventual.Table, rel eventual.RelatedEntities) error {
	r := rel.Relationship
	if r == nil || r.ReferencedTable != t {
		return fmt.Errorf("client: a deep insert into %s through a relationship of another table", t.LogicalName)
	}
	if len(rel.Entities) > 0 {
		o.Key(r.ReferencedNavigation)
		o.B = append(o.B, '[')
		for i, child := range rel.Entities {
			if i > 0 {
				o.B = append(o.B, ',')
			}
			co := codec.NewObject(o.B)
			if err := appendEntity(&co, child, child.ID != uuid.Nil); err != nil {
				return err
			}
			o.B = co.Close()
		}
		o.B = append(o.B, ']')
	}
	if len(rel.References) > 0 {
		o.Key(r.ReferencedNavigation + "@odata.bind")
		o.B = append(o.B, '[')
		for i, ref := range rel.References {
			path, err := keyPath(ref)
			if err != nil {
				return err
			}
			if i > 0 {
				o.B = append(o.B, ',')
			}
			o.B = codec.AppendString(o.B, "/"+path)
		}
		o.B = append(o.B, ']')
	}
	return nil
}

// bind appends a lookup as nav@odata.bind: "/set(key)".
func bind(o *codec.Object, c *eventual.Column, ref eventual.EntityReference) error {
	if ref.Table == nil {
		return fmt.Errorf("client: the value of %s names no table", c.LogicalName)
	}
	rel := c.RelationshipTo(ref.Table.LogicalName)
	if rel == nil {
		return eventual.Errorf(eventual.KindInvalid, eventual.CodeBadRequest, "client: %s cannot reference %s", c.LogicalName, ref.Table.LogicalName)
	}
	path, err := keyPath(ref)
	if err != nil {
		return err
	}
	o.Key(rel.ReferencingNavigation + "@odata.bind")
	o.B = codec.AppendString(o.B, "/"+path)
	return nil
}

// ContentRef is a lookup value naming a record created earlier in the same
// $batch change set, by the Content-ID of the request that created it:
// it is sent as nav@odata.bind: "$<id>". Table is the referenced table
// (a lookup may reference several).
type ContentRef struct {
	Table     *eventual.Table
	ContentID string
}

// bindContent appends a lookup to a change set's earlier record.
func bindContent(o *codec.Object, c *eventual.Column, cr ContentRef) error {
	if cr.Table == nil || cr.ContentID == "" {
		return fmt.Errorf("client: the content reference of %s names no table or Content-ID", c.LogicalName)
	}
	rel := c.RelationshipTo(cr.Table.LogicalName)
	if rel == nil {
		return eventual.Errorf(eventual.KindInvalid, eventual.CodeBadRequest, "client: %s cannot reference %s", c.LogicalName, cr.Table.LogicalName)
	}
	o.Key(rel.ReferencingNavigation + "@odata.bind")
	o.B = codec.AppendString(o.B, "$"+cr.ContentID)
	return nil
}

// lookupAnnotations asks for the table each lookup value references (its
// @Microsoft.Dynamics.CRM.lookuplogicalname annotation): without it a
// customer or owner lookup read back names no table.
const lookupAnnotations = `odata.include-annotations="` + codec.AnnotationLookupTable + `"`

// readHeader is the header of a request that reads records: the Prefer
// that annotates lookups, then the preferences given (maxpagesize,
// track-changes), in the one Prefer header Dataverse reads.
func readHeader(prefs ...string) http.Header {
	return http.Header{"Prefer": {strings.Join(append([]string{lookupAnnotations}, prefs...), ",")}}
}

// conditionHeader renders a write's conditions as If-Match and
// If-None-Match.
func conditionHeader(cond eventual.Condition) http.Header {
	h := http.Header{}
	switch cond.IfMatch {
	case "":
	case "*":
		h.Set("If-Match", "*")
	default:
		h.Set("If-Match", codec.ETag(mustVersion(cond.IfMatch)))
	}
	if cond.IfNoneMatch != "" {
		h.Set("If-None-Match", cond.IfNoneMatch)
	}
	return h
}

// mustVersion reads a row version as the conditions carry it (decimal
// text); anything else is sent as version 0, which matches no record.
func mustVersion(v string) int64 {
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

// entityID reads the id of the record a write answered with, from
// OData-EntityId (".../accounts(<id>)").
func entityID(resp *Response) (uuid.UUID, error) {
	loc := resp.Header.Get(codec.HeaderEntityID)
	open, end := strings.LastIndexByte(loc, '('), strings.LastIndexByte(loc, ')')
	if open < 0 || end < open {
		return uuid.Nil, fmt.Errorf("client: the answer names no record (OData-EntityId %q)", loc)
	}
	id, err := uuid.Parse(loc[open+1 : end])
	if err != nil {
		return uuid.Nil, fmt.Errorf("client: OData-EntityId %q: %w", loc, err)
	}
	return id, nil
}
