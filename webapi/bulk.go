package webapi

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/instance"
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
	body, err := q.readBody()
	if err != nil {
		return err
	}
	m, err := q.decodeObject(body, t.EntitySetName)
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
	type target struct {
		ref    eventual.EntityReference
		hasRef bool
		entity *eventual.Entity
	}
	targets := make([]target, len(raw))
	wantType := "Microsoft.Dynamics.CRM." + t.LogicalName
	for i, r := range raw {
		obj, ok := r.(map[string]any)
		if !ok {
			return errPayload(t.EntitySetName, fmt.Sprintf("Microsoft.OData.ODataException: Target %d of %s is not an object.", i, name))
		}
		typ, _ := obj["@odata.type"].(string)
		if strings.TrimPrefix(typ, "#") != wantType {
			return errPayload(t.EntitySetName, fmt.Sprintf("Microsoft.OData.ODataException: Target %d of %s must have \"@odata.type\": \"%s\".", i, name, wantType))
		}
		var tg target
		if id, ok := obj["@odata.id"].(string); ok {
			ref, err := q.parseReferenceURL(id)
			if err != nil {
				return err
			}
			if ref.Table != t {
				return errBadRequest("Target %d of %s names a record of '%s', not '%s'.", i, name, ref.Table.LogicalName, t.LogicalName)
			}
			tg.ref, tg.hasRef = ref, true
		}
		e, err := q.decodeEntity(t, obj, 0)
		if err != nil {
			return err
		}
		if v, ok := e.Values[t.PrimaryIDAttribute]; ok {
			id, err := instance.PrimaryKeyValue(t, v)
			if err != nil {
				return err
			}
			if tg.hasRef && !tg.ref.ByKey() && tg.ref.ID != id {
				return errBadRequest("Target %d of %s has a primary key different from its @odata.id.", i, name)
			}
			if !tg.hasRef {
				tg.ref, tg.hasRef = eventual.Ref(t, id), true
			}
			delete(e.Values, t.PrimaryIDAttribute)
			e.ID = id
		}
		tg.entity = e
		if (name == "UpdateMultiple" || name == "DeleteMultiple") && !tg.hasRef {
			return errBadRequest("Target %d of %s needs its primary key '%s' or an @odata.id.", i, name, t.PrimaryIDAttribute)
		}
		targets[i] = tg
	}
	var ids []uuid.UUID
	err = q.atomic(func(s *instance.Session) error {
		switch name {
		case "CreateMultiple":
			entities := make([]*eventual.Entity, len(targets))
			for i, tg := range targets {
				entities[i] = tg.entity
				if tg.hasRef && !tg.ref.ByKey() {
					entities[i].ID = tg.ref.ID
				}
			}
			var err error
			ids, err = s.CreateMultiple(q.ctx, entities)
			return err
		case "UpsertMultiple":
			bts := make([]instance.BulkTarget, len(targets))
			for i, tg := range targets {
				bts[i] = instance.BulkTarget{Target: tg.ref, HasTarget: tg.hasRef, Entity: tg.entity}
			}
			return s.UpsertMultiple(q.ctx, bts)
		}
		for _, tg := range targets {
			var err error
			if name == "UpdateMultiple" {
				_, err = s.Update(q.ctx, tg.ref, tg.entity.Values, instance.Condition{IfMatch: "*"})
			} else {
				err = s.Delete(q.ctx, tg.ref, instance.Condition{})
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
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
