package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/codec"
	"github.com/google/uuid"
)

// The bulk messages: POST <set>/Microsoft.Dynamics.CRM.<Message> with
// {"Targets": [...]}, every target carrying its @odata.type. Dataverse runs
// each message on a standard table in one transaction, all or nothing, so
// one call is one request: the client does not split large inputs (that
// would break the contract); keep calls around 1,000 records, as Microsoft
// advises, and within the server's limit (eventual: webapi.MaxBulkTargets).

// CreateMultiple creates records of one table in one request and returns
// their ids, in order. Entities with ID set are created with that primary
// key; when all have one, a request that may have been applied is sent
// again (a replay answers 412 and makes no second record).
func (r *Records) CreateMultiple(ctx context.Context, entities []*eventual.Entity) ([]uuid.UUID, error) {
	if len(entities) == 0 {
		return nil, nil
	}
	t := entities[0].Table
	replay := ReplaySafe
	targets := make([][]byte, len(entities))
	for i, e := range entities {
		if err := sameTable("CreateMultiple", i, t, e.Table); err != nil {
			return nil, err
		}
		if e.ID == uuid.Nil {
			replay = ReplayAuto
		}
		body, err := entityBody(e, e.ID != uuid.Nil)
		if err != nil {
			return nil, err
		}
		targets[i] = bulkTarget(t, "", body)
	}
	resp, err := r.bulk(ctx, t, "CreateMultiple", targets, replay)
	if err != nil {
		return nil, err
	}
	var out struct {
		Ids []uuid.UUID `json:"Ids"`
	}
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		return nil, fmt.Errorf("client: CreateMultiple of %s: the answer is not {\"Ids\": [...]}: %w", t.EntitySetName, err)
	}
	if len(out.Ids) != len(entities) {
		return nil, fmt.Errorf("client: CreateMultiple of %s answered %d ids for %d records", t.EntitySetName, len(out.Ids), len(entities))
	}
	return out.Ids, nil
}

// UpdateMultiple updates existing records of one table in one request,
// all or nothing. Every target names its record: by primary key (sent in
// the body, as Dataverse documents) or by alternate key (sent as the
// target's @odata.id, which eventual accepts; Dataverse documents the
// primary-key form only for UpdateMultiple).
func (r *Records) UpdateMultiple(ctx context.Context, targets []eventual.BulkTarget) error {
	if len(targets) == 0 {
		return nil
	}
	t := targets[0].Target.Table
	bodies := make([][]byte, len(targets))
	for i, tg := range targets {
		if !tg.HasTarget {
			return eventual.Errorf(eventual.KindInvalid, eventual.CodeBadRequest, "client: target %d of UpdateMultiple names no record", i)
		}
		e, err := targetEntity("UpdateMultiple", i, t, tg)
		if err != nil {
			return err
		}
		if !tg.Target.ByKey() {
			body, err := entityBody(&eventual.Entity{Table: t, ID: tg.Target.ID, Values: e.Values}, true)
			if err != nil {
				return err
			}
			bodies[i] = bulkTarget(t, "", body)
			continue
		}
		if bodies[i], err = keyedTarget(t, tg.Target, e.Values); err != nil {
			return err
		}
	}
	_, err := r.bulk(ctx, t, "UpdateMultiple", bodies, ReplaySafe)
	return err
}

// UpsertMultiple upserts records of one table in one request, all or
// nothing. A target with HasTarget names its record by @odata.id (primary
// or alternate key), and its key columns travel only there, never also in
// the body (Dataverse answers 400 on the create path otherwise); one
// without is created. When every target names its record, a request that
// may have been applied is sent again.
func (r *Records) UpsertMultiple(ctx context.Context, targets []eventual.BulkTarget) error {
	if len(targets) == 0 {
		return nil
	}
	t := targets[0].Target.Table
	if !targets[0].HasTarget && targets[0].Entity != nil {
		t = targets[0].Entity.Table
	}
	replay := ReplaySafe
	bodies := make([][]byte, len(targets))
	for i, tg := range targets {
		e, err := targetEntity("UpsertMultiple", i, t, tg)
		if err != nil {
			return err
		}
		if !tg.HasTarget {
			if e.ID == uuid.Nil {
				replay = ReplayAuto
			}
			body, err := entityBody(e, e.ID != uuid.Nil)
			if err != nil {
				return err
			}
			bodies[i] = bulkTarget(t, "", body)
			continue
		}
		if bodies[i], err = keyedTarget(t, tg.Target, e.Values); err != nil {
			return err
		}
	}
	_, err := r.bulk(ctx, t, "UpsertMultiple", bodies, replay)
	return err
}

// DeleteMultiple deletes records of one table in one transaction. Dataverse
// offers the DeleteMultiple message on elastic tables only, and answers
// "DeleteMultiple has not yet been implemented." for standard tables; then
// the client deletes through a $batch with one change set of DELETEs
// (atomic as well, so at most MaxBatchRequests records) and remembers, per
// client and table, to go straight to the batch next time. The message is
// sent again after an attempt that may have been applied (a replay of an
// applied delete answers 404); the batch is not.
func (r *Records) DeleteMultiple(ctx context.Context, targets []eventual.EntityReference) error {
	if len(targets) == 0 {
		return nil
	}
	t := targets[0].Table
	bodies := make([][]byte, len(targets))
	for i, ref := range targets {
		if err := sameTable("DeleteMultiple", i, t, ref.Table); err != nil {
			return err
		}
		if ref.ByKey() {
			p, err := keyPath(ref)
			if err != nil {
				return err
			}
			bodies[i] = bulkTarget(t, p, []byte("{}"))
			continue
		}
		o := codec.NewObject(nil)
		o.Key(t.PrimaryIDAttribute)
		o.B = codec.AppendString(o.B, ref.ID.String())
		bodies[i] = bulkTarget(t, "", o.Close())
	}
	if _, off := r.c.noDeleteMultiple.Load(t.EntitySetName); off {
		return r.deleteBatch(ctx, targets)
	}
	_, err := r.bulk(ctx, t, "DeleteMultiple", bodies, ReplaySafe)
	if err == nil || !deleteMultipleUnavailable(err) {
		return err
	}
	r.c.noDeleteMultiple.Store(t.EntitySetName, true)
	return r.deleteBatch(ctx, targets)
}

// deleteMultipleUnavailable reports whether an error is Dataverse's refusal
// of DeleteMultiple for the table. Microsoft documents only the message
// text, not the status or code, so the test is by text, by 501 and by the
// kinds of an operation the resource does not offer.
func deleteMultipleUnavailable(err error) bool {
	var ce *Error
	if !errors.As(err, &ce) {
		return false
	}
	msg := strings.ToLower(ce.Message)
	switch {
	case ce.StatusCode == http.StatusNotImplemented:
		return true
	case strings.Contains(msg, "has not yet been implemented"), strings.Contains(msg, "not implemented"):
		return true
	case strings.Contains(msg, "resource not found for the segment") && strings.Contains(msg, "deletemultiple"):
		return true
	}
	k := eventual.ErrorKind(err)
	return k == eventual.KindNotImplemented || k == eventual.KindNotSupported
}

// deleteBatch deletes the records in one $batch change set.
func (r *Records) deleteBatch(ctx context.Context, targets []eventual.EntityReference) error {
	if len(targets) > MaxBatchRequests {
		return eventual.Errorf(eventual.KindInvalid, eventual.CodeBadRequest, "client: DeleteMultiple of %d records: the table has no DeleteMultiple, and one $batch change set holds at most %d", len(targets), MaxBatchRequests)
	}
	b := r.Batch()
	cs := b.ChangeSet()
	for _, ref := range targets {
		if _, err := cs.Delete(ref, eventual.Condition{}); err != nil {
			return err
		}
	}
	res, err := b.Send(ctx)
	if res != nil {
		for _, resp := range res.Responses {
			if resp.StatusCode >= 400 {
				return resp.Err // the failing request's own error
			}
		}
	}
	return err
}

// bulk posts a bulk message's targets.
func (r *Records) bulk(ctx context.Context, t *eventual.Table, message string, targets [][]byte, replay Replay) (*Response, error) {
	b := []byte(`{"Targets":[`)
	for i, tg := range targets {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, tg...)
	}
	b = append(b, "]}"...)
	path := t.EntitySetName + "/Microsoft.Dynamics.CRM." + message
	return r.c.Do(ctx, &Request{Method: http.MethodPost, Path: path, Body: b, Replay: replay})
}

// bulkTarget puts @odata.type (and @odata.id, when set) in front of an
// entity body.
func bulkTarget(t *eventual.Table, odataID string, body []byte) []byte {
	o := codec.NewObject(nil)
	o.Key("@odata.type")
	o.B = codec.AppendString(o.B, "Microsoft.Dynamics.CRM."+t.LogicalName)
	if odataID != "" {
		o.Key("@odata.id")
		o.B = codec.AppendString(o.B, odataID)
	}
	head := o.Close()
	if len(body) <= 2 { // {}
		return head
	}
	return append(append(head[:len(head)-1], ','), body[1:]...)
}

// keyedTarget is a target naming its record by @odata.id, its values
// without the key's columns (which must agree with the key if present).
func keyedTarget(t *eventual.Table, ref eventual.EntityReference, values eventual.Values) ([]byte, error) {
	p, err := keyPath(ref)
	if err != nil {
		return nil, err
	}
	vals := make(eventual.Values, len(values))
	for k, v := range values {
		vals[k] = v
	}
	delete(vals, t.PrimaryIDAttribute)
	if ref.ByKey() {
		for i, c := range ref.Key.Columns {
			if v, ok := vals[c.LogicalName]; ok && fmt.Sprint(v) != fmt.Sprint(ref.KeyValues[i]) {
				return nil, eventual.Errorf(eventual.KindInvalid, eventual.CodeBadRequest, "client: %s = %v conflicts with the target's key value %v", c.LogicalName, v, ref.KeyValues[i])
			}
			delete(vals, c.LogicalName)
		}
	}
	body, err := entityBody(&eventual.Entity{Table: t, Values: vals}, false)
	if err != nil {
		return nil, err
	}
	return bulkTarget(t, p, body), nil
}

// targetEntity checks target i of a bulk message against the message's
// table and returns its entity (an empty one when Entity is nil).
func targetEntity(message string, i int, t *eventual.Table, tg eventual.BulkTarget) (*eventual.Entity, error) {
	if tg.HasTarget {
		if err := sameTable(message, i, t, tg.Target.Table); err != nil {
			return nil, err
		}
	}
	e := tg.Entity
	if e == nil {
		if !tg.HasTarget {
			return nil, eventual.Errorf(eventual.KindInvalid, eventual.CodeBadRequest, "client: target %d of %s has neither a record nor an entity", i, message)
		}
		return &eventual.Entity{Table: t}, nil
	}
	if err := sameTable(message, i, t, e.Table); err != nil {
		return nil, err
	}
	if tg.HasTarget && !tg.Target.ByKey() && e.ID != uuid.Nil && e.ID != tg.Target.ID {
		return nil, eventual.Errorf(eventual.KindInvalid, eventual.CodeBadRequest, "client: target %d of %s has an entity id different from its target", i, message)
	}
	return e, nil
}

// sameTable checks that item i of a bulk message is of the message's table.
func sameTable(message string, i int, want, got *eventual.Table) error {
	if got == nil || want == nil {
		return eventual.Errorf(eventual.KindInvalid, eventual.CodeBadRequest, "client: item %d of %s names no table", i, message)
	}
	if got != want {
		return eventual.Errorf(eventual.KindInvalid, eventual.CodeBadRequest, "client: item %d of %s is of %s, not %s: a bulk message takes records of one table", i, message, got.LogicalName, want.LogicalName)
	}
	return nil
}
