package webapi

import (
	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// This file serves many-to-many relationships: their collection-valued
// navigation properties read, associated and disassociated through the
// intersect table's records.

// associatedWith selects the records of the other side associated with
// parent: those an intersect record links to it.
func associatedWith(m *eventual.ManyToMany, parent eventual.EntityReference) eventual.Expr {
	return eventual.Any{Relationship: m.To, Filter: eventual.Compare{Op: eventual.OpEq,
		Left: eventual.Field{Column: m.From.Lookup}, Right: eventual.Literal{Value: eventual.Ref(m.From.ReferencedTable, parent.ID)}}}
}

// throughIntersect rewrites a condition on the other side's records as a
// condition on intersect records, reaching the other record through the
// intersect's lookup to it.
func throughIntersect(x eventual.Expr, to *eventual.Relationship) (eventual.Expr, error) {
	out, ok := eventual.MapFields(x, func(f eventual.Field) eventual.Field {
		f.Path = append([]*eventual.Relationship{to}, f.Path...)
		return f
	})
	if !ok {
		return nil, errBadRequest("A lambda over a many-to-many navigation property cannot hold another lambda.")
	}
	return out, nil
}

// intersectKey names the intersect record that associates parent (on
// rel's side) with child.
func intersectKey(rel *eventual.Relationship, parent, child eventual.EntityReference) eventual.EntityReference {
	m := rel.ManyToMany
	t := m.Intersect
	k := t.Keys[len(t.Keys)-1] // the association key NewSchema adds
	vals := make([]any, len(k.Columns))
	for i, c := range k.Columns {
		if c == m.From.Lookup {
			vals[i] = eventual.Ref(m.From.ReferencedTable, parent.ID)
		} else {
			vals[i] = eventual.Ref(m.To.ReferencedTable, child.ID)
		}
	}
	return eventual.EntityReference{Table: t, Key: k, KeyValues: vals}
}

// pair reads the two records an association links (their ids only): a
// missing one is the 404 of its table.
func (q *request) pair(parent, child eventual.EntityReference) (p, c *eventual.Record, err error) {
	if p, err = q.ops.Retrieve(q.ctx, parent, []*eventual.Column{}, nil, ""); err != nil {
		return nil, nil, err
	}
	if c, err = q.ops.Retrieve(q.ctx, child, []*eventual.Column{}, nil, ""); err != nil {
		return nil, nil, err
	}
	return p, c, nil
}

// associate creates the intersect record of parent and child, which must
// both exist.
func (q *request) associate(rel *eventual.Relationship, parent, child eventual.EntityReference) error {
	m := rel.ManyToMany
	p, c, err := q.pair(parent, child)
	if err != nil {
		return err
	}
	_, err = q.ops.Create(q.ctx, &eventual.Entity{Table: m.Intersect, Values: eventual.Values{
		m.From.Lookup.LogicalName: p.Reference(), m.To.Lookup.LogicalName: c.Reference()}})
	if eventual.ErrorKind(err) == eventual.KindPrecondition {
		return eventual.Errorf(eventual.KindInvalid, eventual.CodeDuplicateRecord,
			"Cannot insert duplicate key: %s With Id = %s is already associated with %s With Id = %s through %s.",
			c.Table.LogicalName, c.ID, p.Table.LogicalName, p.ID, rel.SchemaName)
	}
	return err
}

// disassociate deletes the intersect record of parent and child.
func (q *request) disassociate(rel *eventual.Relationship, parent, child eventual.EntityReference) error {
	p, c, err := q.pair(parent, child)
	if err != nil {
		return err
	}
	err = q.ops.Delete(q.ctx, intersectKey(rel, p.Reference(), c.Reference()), q.noCondition())
	if eventual.ErrorKind(err) == eventual.KindNotFound {
		return eventual.Errorf(eventual.KindNotFound, eventual.CodeObjectDoesNotExist,
			"%s With Id = %s is not associated with %s With Id = %s through %s.", c.Table.LogicalName, c.ID, p.Table.LogicalName, p.ID, rel.SchemaName)
	}
	return err
}

// expandManyToMany reads the many-to-many expansions of records: the
// intersect records of them all, then the other side's records with the
// expansion's columns and filter, into each record's Related.
func (q *request) expandManyToMany(recs []*eventual.Record, specs []expandSpec) error {
	for _, x := range specs {
		m := x.Relationship.ManyToMany
		if m == nil || len(recs) == 0 {
			continue
		}
		parents := make([]any, len(recs))
		for i, r := range recs {
			parents[i] = eventual.Ref(m.From.ReferencedTable, r.ID)
			if r.Related == nil {
				r.Related = map[string][]*eventual.Record{}
			}
			r.Related[x.Navigation] = nil
		}
		links, err := q.ops.RetrieveMultiple(q.ctx, &eventual.Query{Table: m.Intersect, Columns: []*eventual.Column{m.From.Lookup, m.To.Lookup},
			Filter: eventual.In{Field: eventual.Field{Column: m.From.Lookup}, Values: parents}, Limit: MaxPageSize}, nil, false)
		if err != nil {
			return err
		}
		byParent := map[uuid.UUID][]uuid.UUID{}
		var ids []any
		for _, l := range links.Records {
			from, ok1 := l.Values[m.From.Lookup.LogicalName].(eventual.EntityReference)
			to, ok2 := l.Values[m.To.Lookup.LogicalName].(eventual.EntityReference)
			if ok1 && ok2 {
				byParent[from.ID] = append(byParent[from.ID], to.ID)
				ids = append(ids, to.ID)
			}
		}
		if len(ids) == 0 {
			continue
		}
		t := m.To.ReferencedTable
		var filter eventual.Expr = eventual.In{Field: eventual.Field{Column: t.PrimaryKey()}, Values: ids}
		if x.Filter != nil {
			filter = eventual.And{Left: filter, Right: x.Filter}
		}
		related, err := q.ops.RetrieveMultiple(q.ctx, &eventual.Query{Table: t, Columns: x.Columns, Filter: filter, OrderBy: x.OrderBy, Limit: MaxPageSize}, nil, false)
		if err != nil {
			return err
		}
		byID := map[uuid.UUID]*eventual.Record{}
		for _, r := range related.Records {
			byID[r.ID] = r
		}
		for _, r := range recs {
			for _, id := range byParent[r.ID] {
				if rr := byID[id]; rr != nil {
					r.Related[x.Navigation] = append(r.Related[x.Navigation], rr)
				}
			}
		}
	}
	return nil
}
