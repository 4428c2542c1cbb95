package webapi

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// This file serves the bulk messages bound to entity sets:
// Microsoft.Dynamics.CRM.CreateMultiple, UpdateMultiple, UpsertMultiple
// and DeleteMultiple. Each takes {"Targets": [...]}, every target carrying
// @odata.type, and runs all-or-nothing in one transaction, each record
// through the same rules as a single operation.

// MaxBulkTargets bounds the records of one bulk message.
const MaxBulkTargets = 10000

var bulkMessages = map[string]bool{"CreateMultiple": true, "UpdateMultiple": true, "UpsertMultiple": true, "DeleteMultiple": true}

func (q *request) bulk(t *eventual.Table, action string) error {
	name := strings.TrimPrefix(action, "Microsoft.Dynamics.CRM.")
	if !bulkMessages[name] {
		return errSegment(action)
	}
	if q.r.Method != http.MethodPost {
		return errMethod(q.r.Method)
	}
	m, err := q.readObject(t.EntitySetName)
	if err != nil {
		return err
	}
	raw, ok := m["Targets"].([]any)
	if !ok || len(m) != 1 {
		return errPayload(t.EntitySetName, fmt.Sprintf("Microsoft.OData.ODataException: The body of %s must be {\"Targets\": [...]}.", name))
	}
	if len(raw) == 0 {
		return errBadRequest("The Targets collection of %s is empty.", name)
	}
	if len(raw) > MaxBulkTargets {
		return errBadRequest("%s accepts at most %d targets; split the request.", name, MaxBulkTargets)
	}
	targets, err := q.bulkTargets(t, name, raw)
	if err != nil {
		return err
	}
	ids, err := q.runBulk(name, targets)
	if err != nil {
		return err
	}
	if name != "CreateMultiple" {
		return q.writeNoContent()
	}
	b := []byte(`{"@odata.context":`)
	b = appendString(b, q.base+"$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse")
	b = append(b, `,"Ids":[`...)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, id.String())
	}
	b = append(b, "]}"...)
	return q.writeJSON(http.StatusOK, b)
}

// bulkTargets decodes the Targets of a bulk message: each an entity of the
// table with its @odata.type, naming its record by @odata.id or by its
// primary key (UpdateMultiple and DeleteMultiple need one of them).
func (q *request) bulkTargets(t *eventual.Table, name string, raw []any) ([]eventual.BulkTarget, error) {
	targets := make([]eventual.BulkTarget, len(raw))
	wantType := "Microsoft.Dynamics.CRM." + t.LogicalName
	for i, r := range raw {
		obj, ok := r.(map[string]any)
		if !ok {
			return nil, errPayload(t.EntitySetName, fmt.Sprintf("Microsoft.OData.ODataException: Target %d of %s is not an object.", i, name))
		}
		typ, _ := obj["@odata.type"].(string)
		if strings.TrimPrefix(typ, "#") != wantType {
			return nil, errPayload(t.EntitySetName, fmt.Sprintf("Microsoft.OData.ODataException: Target %d of %s must have \"@odata.type\": \"%s\".", i, name, wantType))
		}
		tg, err := q.bulkTarget(t, name, i, obj)
		if err != nil {
			return nil, err
		}
		if (name == "UpdateMultiple" || name == "DeleteMultiple") && !tg.HasTarget {
			return nil, errBadRequest("Target %d of %s needs its primary key '%s' or an @odata.id.", i, name, t.PrimaryIDAttribute)
		}
		targets[i] = tg
	}
	return targets, nil
}

// bulkTarget decodes target i: its @odata.id, then the entity, whose
// primary key (if any) must agree with the @odata.id.
func (q *request) bulkTarget(t *eventual.Table, name string, i int, obj map[string]any) (eventual.BulkTarget, error) {
	var tg eventual.BulkTarget
	if id, ok := obj["@odata.id"].(string); ok {
		ref, err := q.parseReferenceURL(id)
		if err != nil {
			return tg, err
		}
		if ref.Table != t {
			return tg, errBadRequest("Target %d of %s names a record of '%s', not '%s'.", i, name, ref.Table.LogicalName, t.LogicalName)
		}
		tg.Target, tg.HasTarget = ref, true
	}
	e, err := q.decodeEntity(t, obj, 0)
	if err != nil {
		return tg, err
	}
	if v, ok := e.Values[t.PrimaryIDAttribute]; ok {
		id, err := t.PrimaryKeyValue(v)
		if err != nil {
			return tg, err
		}
		if tg.HasTarget && !tg.Target.ByKey() && tg.Target.ID != id {
			return tg, errBadRequest("Target %d of %s has a primary key different from its @odata.id.", i, name)
		}
		if !tg.HasTarget {
			tg.Target, tg.HasTarget = eventual.Ref(t, id), true
		}
		delete(e.Values, t.PrimaryIDAttribute)
		e.ID = id
	}
	tg.Entity = e
	return tg, nil
}

// runBulk sends a bulk message's targets to the record service, which runs
// each message in one transaction (the change set's, inside one).
func (q *request) runBulk(name string, targets []eventual.BulkTarget) ([]uuid.UUID, error) {
	switch name {
	case "CreateMultiple":
		entities := make([]*eventual.Entity, len(targets))
		for i, tg := range targets {
			entities[i] = tg.Entity
			switch {
			case tg.HasTarget && !tg.Target.ByKey():
				entities[i].ID = tg.Target.ID
			case tg.HasTarget:
				// A record named by alternate key is created with it, as
				// an upsert's create is: the body's own values win.
				for j, c := range tg.Target.Key.Columns {
					if _, ok := tg.Entity.Values[c.LogicalName]; !ok {
						tg.Entity.Values[c.LogicalName] = tg.Target.KeyValues[j]
					}
				}
			}
		}
		return q.ops.CreateMultiple(q.ctx, entities)
	case "DeleteMultiple":
		refs := make([]eventual.EntityReference, len(targets))
		for i, tg := range targets {
			refs[i] = tg.Target
		}
		return nil, q.ops.DeleteMultiple(q.ctx, refs)
	case "UpdateMultiple":
		return nil, q.ops.UpdateMultiple(q.ctx, targets)
	}
	return nil, q.ops.UpsertMultiple(q.ctx, targets)
}
