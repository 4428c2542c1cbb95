package webapi

import (
	"fmt"
	"strings"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/codec"
)

// MaxBodyDepth bounds the nesting of JSON bodies (deep inserts).
const MaxBodyDepth = 16

// decodeObject parses a JSON body that must be an object.
func (q *request) decodeObject(body []byte, set string) (map[string]any, error) {
	v, err := codec.DecodeJSON(body)
	if err != nil {
		return nil, errPayload(set, "Microsoft.OData.ODataException: "+err.Error()+".")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errPayload(set, "Microsoft.OData.ODataException: An object was expected at the root of the request body.")
	}
	return m, nil
}

// readObject reads the request body, which must be a JSON object; set
// names the entity set in errors.
func (q *request) readObject(set string) (map[string]any, error) {
	body, err := q.readBody()
	if err != nil {
		return nil, err
	}
	return q.decodeObject(body, set)
}

// readEntity reads the request body as one record of table t.
func (q *request) readEntity(t *eventual.Table) (*eventual.Entity, error) {
	m, err := q.readObject(t.EntitySetName)
	if err != nil {
		return nil, err
	}
	return q.decodeEntity(t, m, 0)
}

// decodeEntity turns a JSON object into an entity of table t: column
// values, lookup binds (@odata.bind), deep inserts (nested objects and
// arrays under navigation properties).
func (q *request) decodeEntity(t *eventual.Table, m map[string]any, depth int) (*eventual.Entity, error) {
	set := t.EntitySetName
	if depth > MaxBodyDepth {
		return nil, errPayload(set, fmt.Sprintf("Microsoft.OData.ODataException: The deep insert is nested more than %d levels.", MaxBodyDepth))
	}
	e := &eventual.Entity{Table: t, Values: eventual.Values{}}
	related := map[*eventual.Relationship]*eventual.RelatedEntities{}
	for k, v := range m {
		if strings.HasPrefix(k, "@") {
			if k == "@odata.type" {
				if s, _ := v.(string); strings.TrimPrefix(s, "#") != "Microsoft.Dynamics.CRM."+t.LogicalName {
					return nil, errPayload(set, fmt.Sprintf("Microsoft.OData.ODataException: The type '%v' is not compatible with 'Microsoft.Dynamics.CRM.%s'.", v, t.LogicalName))
				}
			}
			// @odata.etag, @odata.context, @odata.id and other instance
			// annotations are read-only; they are ignored.
			continue
		}
		if name, ann, ok := strings.Cut(k, "@"); ok {
			if ann != "odata.bind" {
				continue // property annotations such as FormattedValue
			}
			if err := q.bind(t, e, related, name, v); err != nil {
				return nil, err
			}
			continue
		}
		if c := t.ColumnByProperty(k); c != nil {
			if c.Type.IsLookup() {
				return nil, eventual.Errorf(eventual.KindInvalid, eventual.CodeBadRequest,
					"CRM do not support direct update of Entity Reference properties, Use Navigation properties instead.")
			}
			val, err := codec.JSONValue(c, v)
			if err != nil {
				return nil, errPayload(set, "Microsoft.OData.ODataException: "+err.Error())
			}
			e.Values[c.LogicalName] = val
			continue
		}
		if r := t.Navigation(k); r != nil {
			if err := q.deepInsert(t, e, related, k, r, v, depth); err != nil {
				return nil, err
			}
			continue
		}
		return nil, errPayload(set, fmt.Sprintf("Microsoft.Crm.CrmException: Invalid property '%[1]s' was found in entity 'Microsoft.Dynamics.CRM.%[2]s'. ---> Microsoft.OData.ODataException: The property '%[1]s' does not exist on type 'Microsoft.Dynamics.CRM.%[2]s'. Make sure to only use property names that are defined by the type.", k, t.LogicalName))
	}
	for _, r := range t.OneToMany() {
		if rel, ok := related[r]; ok {
			e.Related = append(e.Related, *rel)
		}
	}
	for _, r := range t.ManyToManyRelationships() {
		if rel, ok := related[r]; ok {
			e.Related = append(e.Related, *rel)
		}
	}
	return e, nil
}

// bind handles "nav@odata.bind": a URL (or null) for a single-valued
// navigation property, or an array of URLs for a collection-valued one.
func (q *request) bind(t *eventual.Table, e *eventual.Entity, related map[*eventual.Relationship]*eventual.RelatedEntities, nav string, v any) error {
	set := t.EntitySetName
	r := t.Navigation(nav)
	if r == nil {
		return errPayload(set, fmt.Sprintf("Microsoft.OData.ODataException: An undeclared property '%s' which only has property annotations in the payload but no property value was found in the payload. In OData, only declared navigation properties and declared named streams can be represented as properties without values.", nav))
	}
	if t.IsCollectionNavigation(nav) {
		urls, ok := v.([]any)
		if !ok {
			return errPayload(set, fmt.Sprintf("Microsoft.OData.ODataException: The value of '%s@odata.bind' must be an array of entity URLs.", nav))
		}
		rel := related[r]
		if rel == nil {
			rel = &eventual.RelatedEntities{Relationship: r}
			related[r] = rel
		}
		for _, u := range urls {
			s, ok := u.(string)
			if !ok {
				return errPayload(set, fmt.Sprintf("Microsoft.OData.ODataException: The value of '%s@odata.bind' must be an array of entity URLs.", nav))
			}
			ref, err := q.parseReferenceURL(s)
			if err != nil {
				return err
			}
			if ref.Table != r.ReferencingTable {
				return errBadRequest("The entity '%s' cannot be bound to the navigation property '%s', which expects '%s'.", ref.Table.LogicalName, nav, r.ReferencingTable.LogicalName)
			}
			rel.References = append(rel.References, ref)
		}
		return nil
	}
	c := r.Lookup
	if v == nil {
		e.Values[c.LogicalName] = nil
		return nil
	}
	s, ok := v.(string)
	if !ok {
		return errPayload(set, fmt.Sprintf("Microsoft.OData.ODataException: The value of '%s@odata.bind' must be an entity URL.", nav))
	}
	ref, err := q.parseReferenceURL(s)
	if err != nil {
		return err
	}
	if ref.Table != r.ReferencedTable {
		return errBadRequest("The entity '%s' cannot be bound to the navigation property '%s', which expects '%s'.", ref.Table.LogicalName, nav, r.ReferencedTable.LogicalName)
	}
	if _, dup := e.Values[c.LogicalName]; dup {
		return errBadRequest("The lookup '%s' is bound more than once.", c.LogicalName)
	}
	e.Values[c.LogicalName] = ref
	return nil
}

// deepInsert handles a navigation property with a nested record (single-
// valued: create it and bind the lookup; null clears the lookup) or an
// array of records (collection-valued: create them bound to this one).
func (q *request) deepInsert(t *eventual.Table, e *eventual.Entity, related map[*eventual.Relationship]*eventual.RelatedEntities, nav string, r *eventual.Relationship, v any, depth int) error {
	set := t.EntitySetName
	if t.IsCollectionNavigation(nav) {
		items, ok := v.([]any)
		if !ok {
			return errPayload(set, fmt.Sprintf("Microsoft.OData.ODataException: The value of the collection-valued navigation property '%s' must be an array.", nav))
		}
		rel := related[r]
		if rel == nil {
			rel = &eventual.RelatedEntities{Relationship: r}
			related[r] = rel
		}
		for _, it := range items {
			m, ok := it.(map[string]any)
			if !ok {
				return errPayload(set, fmt.Sprintf("Microsoft.OData.ODataException: The items of '%s' must be objects.", nav))
			}
			child, err := q.decodeEntity(r.ReferencingTable, m, depth+1)
			if err != nil {
				return err
			}
			rel.Entities = append(rel.Entities, child)
		}
		return nil
	}
	c := r.Lookup
	if v == nil {
		e.Values[c.LogicalName] = nil
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return errPayload(set, fmt.Sprintf("Microsoft.OData.ODataException: The value of the navigation property '%s' must be an object.", nav))
	}
	child, err := q.decodeEntity(r.ReferencedTable, m, depth+1)
	if err != nil {
		return err
	}
	if _, dup := e.Values[c.LogicalName]; dup {
		return errBadRequest("The lookup '%s' is bound more than once.", c.LogicalName)
	}
	e.Values[c.LogicalName] = child
	return nil
}
