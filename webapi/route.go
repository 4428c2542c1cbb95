package webapi

import (
	"net/http"
	"strings"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/codec"
	"github.com/eventual-pp/eventual/odata"
)

// route dispatches a parsed request to its handler by resource and method.
func (q *request) route() error {
	m := q.r.Method
	if len(q.segs) == 0 {
		q.at("/")
		if m != http.MethodGet {
			return errMethod(m)
		}
		return q.serviceDocument()
	}
	first := q.segs[0]
	switch first.Name {
	case "$metadata", "$batch", "WhoAmI", "RetrieveVersion", "EntityDefinitions":
		q.at("/" + first.Name)
	}
	switch first.Name {
	case "$metadata":
		if len(q.segs) > 1 {
			return errSegment(q.segs[1].Name)
		}
		if m != http.MethodGet {
			return errMethod(m)
		}
		return q.metadataDocument()
	case "$batch":
		if len(q.segs) > 1 {
			return errSegment(q.segs[1].Name)
		}
		return q.batch()
	case "WhoAmI", "RetrieveVersion":
		// A function without parameters may be called by its name alone
		// (use-web-api-functions.md calls RetrieveUserPrivileges so);
		// WhoAmI() and WhoAmI are the same call. Any other method is a
		// 404, as Dataverse answers POST WhoAmI.
		if len(q.segs) > 1 || m != http.MethodGet {
			return errNoResource(q.base + q.path)
		}
		if len(first.Args) > 0 {
			return errFunctionParameter(first)
		}
		if first.Name == "RetrieveVersion" {
			return q.retrieveVersion()
		}
		return q.whoAmI()
	case "EntityDefinitions":
		if m != http.MethodGet {
			return errMethod(m)
		}
		return q.entityDefinitions()
	}
	t := q.s.Schema.TableBySet(first.Name)
	if t == nil {
		return errSegment(first.Name)
	}
	if !first.Parens {
		return q.routeCollection(t)
	}
	if len(q.segs) == 1 {
		q.at("/{set}({key})")
	}
	ref, err := q.keyRef(t, first)
	if err != nil {
		return err
	}
	if len(q.segs) == 1 {
		switch m {
		case http.MethodGet:
			return q.retrieve(ref)
		case http.MethodPatch:
			return q.patch(ref)
		case http.MethodDelete:
			return q.delete(ref)
		}
		return errMethod(m)
	}
	second := q.segs[1]
	if c := t.ColumnByProperty(second.Name); c != nil && !second.Parens {
		q.at("/{set}({key})/{property}")
		return q.routeProperty(ref, c)
	}
	if rel := t.Navigation(second.Name); rel != nil {
		if len(q.segs) == 3 && q.segs[2].Name == "$ref" {
			q.at("/{set}({key})/{navigation}/$ref")
		} else {
			q.at("/{set}({key})/{navigation}")
		}
		return q.routeNavigation(ref, second, rel)
	}
	return errSegment(second.Name)
}

// at tells the response writer, if it listens (RouteNoter), the
// template of the route the request takes. The parts of a $batch write
// to writers of their own, so the batch's template stays.
func (q *request) at(template string) {
	if n, ok := q.w.(RouteNoter); ok {
		n.NoteRoute(template)
	}
}

// RouteNoter is a ResponseWriter that hears the template of the route
// the Web API serves a request by, for the request's metrics (a
// middleware wraps the writer; nothing is allocated for it): "/", "/$metadata",
// "/$batch", "/WhoAmI", "/EntityDefinitions", "/{set}", "/{set}/$count",
// "/{set}/Microsoft.Dynamics.CRM.<bulk message>", "/{set}({key})",
// "/{set}({key})/{property}", "/{set}({key})/{navigation}" or
// "/{set}({key})/{navigation}/$ref". It hears nothing for a request that
// matched no route (a 404 or 400 before routing). Templates never hold
// a table, a key or an id, so that they make bounded metric labels.
type RouteNoter interface {
	NoteRoute(template string)
}

func (q *request) routeCollection(t *eventual.Table) error {
	m := q.r.Method
	if len(q.segs) == 1 {
		q.at("/{set}")
		switch m {
		case http.MethodGet:
			return q.retrieveMultiple(t)
		case http.MethodPost:
			return q.create(t)
		}
		return errMethod(m)
	}
	second := q.segs[1]
	if second.Name == "$count" && len(q.segs) == 2 {
		q.at("/{set}/$count")
		if m != http.MethodGet {
			return errMethod(m)
		}
		return q.countCollection(t, nil)
	}
	if strings.HasPrefix(second.Name, "Microsoft.Dynamics.CRM.") && len(q.segs) == 2 && !second.Parens {
		if bulkMessages[strings.TrimPrefix(second.Name, "Microsoft.Dynamics.CRM.")] {
			q.at("/{set}/" + second.Name)
		}
		return q.bulk(t, second.Name)
	}
	return errSegment(second.Name)
}

func (q *request) routeProperty(ref eventual.EntityReference, c *eventual.Column) error {
	m := q.r.Method
	switch {
	case len(q.segs) == 2:
		switch m {
		case http.MethodGet:
			return q.getProperty(ref, c, false)
		case http.MethodPut:
			return q.putProperty(ref, c)
		case http.MethodDelete:
			return q.deleteProperty(ref, c)
		}
		return errMethod(m)
	case len(q.segs) == 3 && q.segs[2].Name == "$value" && !q.segs[2].Parens:
		if m != http.MethodGet {
			return errMethod(m)
		}
		return q.getProperty(ref, c, true)
	}
	return errSegment(q.segs[2].Name)
}

func (q *request) routeNavigation(ref eventual.EntityReference, seg odata.Segment, rel *eventual.Relationship) error {
	t := ref.Table
	m := q.r.Method
	collection := t.IsCollectionNavigation(seg.Name)
	if seg.Parens && !collection {
		return errBadRequest("Bad Request - Error in query syntax.")
	}
	switch {
	case len(q.segs) == 2 && !seg.Parens:
		switch m {
		case http.MethodGet:
			if collection {
				return q.relatedCollection(ref, rel)
			}
			return q.relatedRecord(ref, rel)
		case http.MethodPost:
			if collection {
				return q.createRelated(ref, rel)
			}
		}
		return errMethod(m)
	case len(q.segs) == 3 && q.segs[2].Name == "$ref" && !q.segs[2].Parens:
		if seg.Parens {
			if m != http.MethodDelete {
				return errMethod(m)
			}
			child, err := q.keyRef(rel.ReferencingTable, odata.Segment{Name: rel.ReferencingTable.EntitySetName, Parens: true, Args: seg.Args})
			if err != nil {
				return err
			}
			return q.removeReference(ref, rel, &child)
		}
		switch m {
		case http.MethodGet:
			return q.getReference(ref, rel, collection)
		case http.MethodPut:
			if collection {
				return errMethod(m)
			}
			return q.setReference(ref, rel)
		case http.MethodPost:
			if !collection {
				return q.setReference(ref, rel)
			}
			return q.addReference(ref, rel)
		case http.MethodDelete:
			return q.removeReference(ref, rel, nil)
		}
		return errMethod(m)
	case len(q.segs) == 3 && q.segs[2].Name == "$count" && collection && !seg.Parens:
		if m != http.MethodGet {
			return errMethod(m)
		}
		return q.countCollection(rel.ReferencingTable, &navFilter{parent: ref, rel: rel})
	}
	return errSegment(q.segs[len(q.segs)-1].Name)
}

// errFunctionParameter is a parameter given to a function that has none
// of that name.
func errFunctionParameter(seg odata.Segment) error {
	a := seg.Args[0]
	if a.Name == "" {
		return errBadRequest("The function '%s' does not take parameters; '%s' was given.", seg.Name, seg.String())
	}
	return errBadRequest("The function '%s' does not have a parameter named '%s'.", seg.Name, a.Name)
}

func errNotImplemented(feature string) error {
	return eventual.Errorf(eventual.KindNotImplemented, eventual.CodeBadRequest, "%s is not implemented by this server yet.", feature)
}

// keyRef turns a key segment into a reference: accounts(<guid>),
// accounts(accountid=<guid>), accounts(accountnumber='A1') or a composite
// key contacts(firstname='Joe',emailaddress1='joe@example.com').
func (q *request) keyRef(t *eventual.Table, seg odata.Segment) (eventual.EntityReference, error) {
	// Errors are built when they happen: keyRef runs on every request by
	// key, and an error's message costs a Sprintf.
	syntax := func() error { return errBadRequest("Bad Request - Error in query syntax.") }
	if len(seg.Args) == 0 {
		return eventual.EntityReference{}, syntax()
	}
	aliased := func(n odata.Node) (odata.Node, error) { return q.resolveAlias(n) }
	if len(seg.Args) == 1 && seg.Args[0].Name == "" {
		v, err := aliased(seg.Args[0].Value)
		if err != nil {
			return eventual.EntityReference{}, err
		}
		lit, ok := v.(*odata.Literal)
		if !ok || lit.Kind != odata.LitGUID {
			return eventual.EntityReference{}, syntax()
		}
		id, err := eventual.ParseGUID(lit.Value)
		if err != nil {
			return eventual.EntityReference{}, syntax()
		}
		return eventual.Ref(t, id), nil
	}
	if len(seg.Args) == 1 && seg.Args[0].Name == t.PrimaryIDAttribute {
		v, err := aliased(seg.Args[0].Value)
		if err != nil {
			return eventual.EntityReference{}, err
		}
		lit, ok := v.(*odata.Literal)
		if !ok || (lit.Kind != odata.LitGUID && lit.Kind != odata.LitString) {
			return eventual.EntityReference{}, syntax()
		}
		id, err := eventual.ParseGUID(lit.Value)
		if err != nil {
			return eventual.EntityReference{}, syntax()
		}
		return eventual.Ref(t, id), nil
	}
	names := make([]string, len(seg.Args))
	byName := map[string]odata.Node{}
	for i, a := range seg.Args {
		c := t.ColumnByProperty(a.Name)
		if c == nil {
			c = t.Column(a.Name)
		}
		if c == nil || byName[c.LogicalName] != nil {
			return eventual.EntityReference{}, errInvalidKey(t)
		}
		names[i] = c.LogicalName
		byName[c.LogicalName] = a.Value
	}
	key := t.KeyFor(names)
	if key == nil {
		return eventual.EntityReference{}, errInvalidKey(t)
	}
	ref := eventual.EntityReference{Table: t, Key: key, KeyValues: make([]any, len(key.Columns))}
	for i, c := range key.Columns {
		n, err := aliased(byName[c.LogicalName])
		if err != nil {
			return eventual.EntityReference{}, err
		}
		lit, ok := n.(*odata.Literal)
		if !ok || lit.Kind == odata.LitNull {
			return eventual.EntityReference{}, syntax()
		}
		v, err := codec.LiteralValue(c, lit)
		if err != nil {
			return eventual.EntityReference{}, syntax()
		}
		ref.KeyValues[i] = v
	}
	return ref, nil
}

// resolveAlias replaces a parameter alias (@p1) by its value from the query
// string; an alias without a value is null, as in Dataverse.
func (q *request) resolveAlias(n odata.Node) (odata.Node, error) {
	lit, ok := n.(*odata.Literal)
	if !ok || lit.Kind != odata.LitAlias {
		return n, nil
	}
	raw, ok := q.opts.Aliases[lit.Value]
	if !ok {
		return &odata.Literal{Kind: odata.LitNull, Value: "null"}, nil
	}
	v, err := odata.ParseValue(raw)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// parseReferenceURL parses a record URL used in @odata.bind and @odata.id:
// absolute ("http://host/api/data/v9.2/accounts(<id>)"), rooted
// ("/accounts(<id>)") or relative ("accounts(accountnumber='A1')").
func (q *request) parseReferenceURL(u string) (eventual.EntityReference, error) {
	bad := func() error { return errBadRequest("The value '%s' is not a valid entity reference URL.", u) }
	if strings.HasPrefix(u, "$") && q.inBatch {
		resolved, err := q.contentIDReference(u)
		if err != nil {
			return eventual.EntityReference{}, err
		}
		u = resolved
	}
	p := u
	if i := strings.Index(p, "/api/data/"); i >= 0 && (strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://") || strings.HasPrefix(p, "/api/")) {
		p = p[i+len("/api/data/"):]
		j := strings.IndexByte(p, '/')
		if j < 0 {
			return eventual.EntityReference{}, bad()
		}
		p = p[j+1:]
	}
	p = strings.TrimPrefix(p, "/")
	segs, err := odata.ParsePath(p)
	if err != nil || len(segs) != 1 || !segs[0].Parens {
		return eventual.EntityReference{}, bad()
	}
	t := q.s.Schema.TableBySet(segs[0].Name)
	if t == nil {
		return eventual.EntityReference{}, errSegment(segs[0].Name)
	}
	return q.keyRef(t, segs[0])
}
