package webapi

import (
	"net/http"

	"github.com/eventual-pp/eventual"
)

// This file serves navigation properties: related records, and the $ref
// operations that associate and disassociate records.

// relatedRecord serves accounts(<id>)/primarycontactid: the record a
// lookup references, or 204 when it is empty.
func (q *request) relatedRecord(ref eventual.EntityReference, rel *eventual.Relationship) error {
	if err := q.singleRecordOptions(); err != nil {
		return err
	}
	target, ok, err := q.lookupTarget(ref, rel)
	if err != nil {
		return err
	}
	if !ok {
		return q.writeNoContent()
	}
	return q.serveRecord(target)
}

// lookupTarget reads the record that the lookup of rel on the record ref
// references; false when the lookup is empty or names another table.
func (q *request) lookupTarget(ref eventual.EntityReference, rel *eventual.Relationship) (eventual.EntityReference, bool, error) {
	parent, err := q.ops.Retrieve(q.ctx, ref, []*eventual.Column{rel.Lookup}, nil, "")
	if err != nil {
		return eventual.EntityReference{}, false, err
	}
	target, ok := parent.Values[rel.Lookup.LogicalName].(eventual.EntityReference)
	return target, ok && target.Table == rel.ReferencedTable, nil
}

// relatedCollection serves accounts(<id>)/contact_customer_accounts: the
// records that reference the parent, with the usual query options.
func (q *request) relatedCollection(ref eventual.EntityReference, rel *eventual.Relationship) error {
	return q.query(rel.ReferencingTable, &navFilter{parent: ref, rel: rel})
}

// createRelated serves POST accounts(<id>)/contact_customer_accounts: it
// creates a record bound to the parent.
func (q *request) createRelated(ref eventual.EntityReference, rel *eventual.Relationship) error {
	nf := &navFilter{parent: ref, rel: rel}
	if err := q.resolveParent(nf); err != nil {
		return err
	}
	t := rel.ReferencingTable
	e, err := q.readEntity(t)
	if err != nil {
		return err
	}
	if rel.ManyToMany != nil {
		// Create the record, then associate it.
		e.Related = append(e.Related, eventual.RelatedEntities{Relationship: otherSide(rel), References: []eventual.EntityReference{nf.parent}})
		return q.createEntity(e)
	}
	e.Values[rel.Lookup.LogicalName] = nf.parent
	return q.createEntity(e)
}

// otherSide is the other side's view of a many-to-many relationship.
func otherSide(rel *eventual.Relationship) *eventual.Relationship {
	for _, r := range rel.ReferencingTable.ManyToManyRelationships() {
		if r.SchemaName == rel.SchemaName {
			return r
		}
	}
	return nil
}

// getReference serves nav/$ref.
func (q *request) getReference(ref eventual.EntityReference, rel *eventual.Relationship, collection bool) error {
	if collection {
		nf := &navFilter{parent: ref, rel: rel}
		if err := q.resolveParent(nf); err != nil {
			return err
		}
		t := rel.ReferencingTable
		page, err := q.ops.RetrieveMultiple(q.ctx, &eventual.Query{Table: t, Columns: []*eventual.Column{}, Filter: nf.expr(), Limit: MaxPageSize}, nil, false)
		if err != nil {
			return err
		}
		b := []byte(`{"@odata.context":`)
		b = appendString(b, q.base+"$metadata#Collection($ref)")
		b = append(b, `,"value":[`...)
		for i, r := range page.Records {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"@odata.id":`...)
			b = appendString(b, q.base+t.EntitySetName+"("+r.ID.String()+")")
			b = append(b, '}')
		}
		b = append(b, "]}"...)
		return q.writeJSON(http.StatusOK, b)
	}
	target, ok, err := q.lookupTarget(ref, rel)
	if err != nil {
		return err
	}
	if !ok {
		return q.writeNoContent()
	}
	b := []byte(`{"@odata.context":`)
	b = appendString(b, q.base+"$metadata#$ref")
	b = append(b, `,"@odata.id":`...)
	b = appendString(b, q.base+target.Table.EntitySetName+"("+target.ID.String()+")")
	b = append(b, '}')
	return q.writeJSON(http.StatusOK, b)
}

// readReferenceBody reads {"@odata.id": "<url>"}.
func (q *request) readReferenceBody(set string) (eventual.EntityReference, error) {
	m, err := q.readObject(set)
	if err != nil {
		return eventual.EntityReference{}, err
	}
	u, ok := m["@odata.id"].(string)
	if !ok {
		return eventual.EntityReference{}, errPayload(set, "Microsoft.OData.ODataException: The body of a $ref request must be {\"@odata.id\": \"<entity URL>\"}.")
	}
	return q.parseReferenceURL(u)
}

// setReference serves PUT nav/$ref on a single-valued navigation: it sets
// the lookup.
func (q *request) setReference(ref eventual.EntityReference, rel *eventual.Relationship) error {
	target, err := q.readReferenceBody(ref.Table.EntitySetName)
	if err != nil {
		return err
	}
	if target.Table != rel.ReferencedTable {
		return errBadRequest("The entity '%s' cannot be bound to the navigation property '%s', which expects '%s'.", target.Table.LogicalName, rel.ReferencingNavigation, rel.ReferencedTable.LogicalName)
	}
	if _, err := q.ops.Update(q.ctx, ref, eventual.Values{rel.Lookup.LogicalName: target}, q.noCondition()); err != nil {
		return err
	}
	return q.writeNoContent()
}

// addReference serves POST nav/$ref on a collection-valued navigation: it
// sets the lookup of the referenced record to the parent.
func (q *request) addReference(ref eventual.EntityReference, rel *eventual.Relationship) error {
	child, err := q.readReferenceBody(ref.Table.EntitySetName)
	if err != nil {
		return err
	}
	if child.Table != rel.ReferencingTable {
		return errBadRequest("The entity '%s' cannot be associated through '%s', which expects '%s'.", child.Table.LogicalName, rel.ReferencedNavigation, rel.ReferencingTable.LogicalName)
	}
	if rel.ManyToMany != nil {
		if err := q.associate(rel, ref, child); err != nil {
			return err
		}
		return q.writeNoContent()
	}
	nf := &navFilter{parent: ref, rel: rel}
	if err := q.resolveParent(nf); err != nil {
		return err
	}
	if _, err := q.ops.Update(q.ctx, child, eventual.Values{rel.Lookup.LogicalName: nf.parent}, q.noCondition()); err != nil {
		return err
	}
	return q.writeNoContent()
}

func (q *request) noCondition() eventual.Condition { return eventual.Condition{} }

// removeReference serves DELETE nav/$ref (single-valued: clear the lookup)
// and DELETE nav(<id>)/$ref or nav/$ref?$id=<url> (collection-valued: clear
// the child's lookup if it references the parent).
func (q *request) removeReference(ref eventual.EntityReference, rel *eventual.Relationship, child *eventual.EntityReference) error {
	if !ref.Table.IsCollectionNavigation(q.segs[1].Name) {
		if child != nil || q.opts.ID != "" {
			return errBadRequest("$id applies to collection-valued navigation properties only.")
		}
		if _, err := q.ops.Update(q.ctx, ref, eventual.Values{rel.Lookup.LogicalName: nil}, q.noCondition()); err != nil {
			return err
		}
		return q.writeNoContent()
	}
	if child == nil {
		if q.opts.ID == "" {
			return errBadRequest("Removing a reference from a collection needs the record: DELETE .../%s(<id>)/$ref or .../%s/$ref?$id=<entity URL>.", rel.ReferencedNavigation, rel.ReferencedNavigation)
		}
		c, err := q.parseReferenceURL(q.opts.ID)
		if err != nil {
			return err
		}
		child = &c
	}
	if child.Table != rel.ReferencingTable {
		return errBadRequest("The entity '%s' is not related through '%s'.", child.Table.LogicalName, rel.ReferencedNavigation)
	}
	if rel.ManyToMany != nil {
		if err := q.disassociate(rel, ref, *child); err != nil {
			return err
		}
		return q.writeNoContent()
	}
	nf := &navFilter{parent: ref, rel: rel}
	if err := q.resolveParent(nf); err != nil {
		return err
	}
	rec, err := q.ops.Retrieve(q.ctx, *child, []*eventual.Column{rel.Lookup}, nil, "")
	if err != nil {
		return err
	}
	cur, ok := rec.Values[rel.Lookup.LogicalName].(eventual.EntityReference)
	if !ok || cur.ID != nf.parent.ID || cur.Table != rel.ReferencedTable {
		return eventual.Errorf(eventual.KindNotFound, eventual.CodeObjectDoesNotExist,
			"%s With Id = %s is not associated with %s With Id = %s through %s.", child.Table.LogicalName, rec.ID, ref.Table.LogicalName, nf.parent.ID, rel.SchemaName)
	}
	if _, err := q.ops.Update(q.ctx, rec.Reference(), eventual.Values{rel.Lookup.LogicalName: nil}, q.noCondition()); err != nil {
		return err
	}
	return q.writeNoContent()
}
