package replication

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/codec"
	"github.com/google/uuid"
)

// applied is the outcome of writing a set of changes to the target: what
// to record in the state, and the records refused for good.
type applied struct {
	records []AppliedRecord
	dead    []DeadLetter
	writes  int // records written (upserted or deleted)
}

// retryable reports a failure that may heal by itself: the peer is down,
// slow or throttling, or the breaker is open. Anything else is the
// record's fault and will not heal.
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var e *eventual.Error
	if !errors.As(err, &e) {
		return true // a transport failure, an open breaker
	}
	switch e.Kind {
	case eventual.KindInvalid, eventual.KindNotFound, eventual.KindPrecondition, eventual.KindNotSupported, eventual.KindNotImplemented:
		return false
	}
	return true
}

// writeMode says how apply writes a page.
type writeMode struct {
	// force writes records no older than the sync's again: pull-through
	// reads the source's latest state for a placeholder the target holds,
	// whatever the sync wrote before.
	force bool
	// byID lists, for a table matched by alternate key, the records the
	// target holds a placeholder of under the source's GUID (see
	// pullThrough): written there, unless the record is the target's
	// under another id already (then the placeholder is filled, see
	// fillTwin).
	byID map[uuid.UUID]bool
	// full marks a page of a full read that has committed nothing yet:
	// records the state does not know are recorded (in the read's epoch)
	// before they are written, so that if the read starts again from
	// scratch, its sweep finds those that landed unacknowledged and that
	// the source has deleted since.
	full bool
}

// apply writes a page of changes to the target: the deletions, then the
// newer records by UpsertMultiple (parents of the page before their
// children). Records no newer than what this sync already wrote are
// skipped (but recorded in epoch). A retryable failure is returned, and
// nothing of the page counts as applied; a record the target refuses for
// good becomes a dead letter and the rest goes on.
func (s *Syncer) apply(ctx context.Context, p *pair, changes []eventual.Change, epoch int64, mode writeMode) (*applied, error) {
	ids := make([]uuid.UUID, len(changes))
	for i, ch := range changes {
		ids[i] = ch.ID
	}
	known, err := s.opts.State.Versions(ctx, p.name, ids)
	if err != nil {
		return nil, err
	}
	out := &applied{}
	var upserts []*eventual.Record
	var deletes []AppliedRecord
	for _, ch := range changes {
		prev, seen := known[ch.ID]
		switch {
		case ch.Deleted:
			gone := AppliedRecord{ID: ch.ID, Applied: Applied{Version: prev.Version, Deleted: true, Epoch: epoch, Key: prev.Key, Target: prev.Target}}
			deletes = append(deletes, gone)
			out.records = append(out.records, gone)
		case seen && !prev.Deleted && (prev.Version > ch.Record.Version || prev.Version == ch.Record.Version && !mode.force):
			out.records = append(out.records, AppliedRecord{ID: ch.ID, Applied: Applied{Version: prev.Version, Epoch: epoch, Key: prev.Key, Target: prev.Target}})
		default:
			upserts = append(upserts, ch.Record)
		}
	}
	// Deletions first: they free key values the page's writes may take
	// (a record deleted and created again under its key), and a record
	// deleted and created again under its GUID ends up written.
	if err := s.delete(ctx, p, deletes); err != nil {
		return nil, err
	}
	out.writes += len(deletes)
	if len(upserts) == 0 {
		return out, nil
	}
	if p.key != nil {
		err = s.upsertByKey(ctx, p, parentsFirst(p, upserts), known, epoch, mode, out)
	} else {
		err = s.upsert(ctx, p, parentsFirst(p, upserts), known, epoch, mode, out)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// upsert writes records of a table matched by primary key to the target
// in bulk, falling back to one by one to isolate the records the target
// refuses. (A table matched by key is upsertByKey's.)
func (s *Syncer) upsert(ctx context.Context, p *pair, recs []*eventual.Record, known map[uuid.UUID]Applied, epoch int64, mode writeMode, out *applied) error {
	if len(recs) == 0 {
		return nil
	}
	refs, err := s.refKeys(ctx, p, recs)
	if err != nil {
		return err
	}
	wctx := s.writeContext(ctx)
	targets := make([]eventual.BulkTarget, 0, len(recs))
	kept := make([]*eventual.Record, 0, len(recs))
	var ahead []AppliedRecord // records of a full read, recorded first
	for _, rec := range recs {
		tg, _, err := s.target(p, rec, refs)
		if err != nil {
			out.dead = append(out.dead, deadLetter(p, rec, err, s.opts.Now()))
			continue
		}
		if _, seen := known[rec.ID]; mode.full && !seen {
			ahead = append(ahead, AppliedRecord{ID: rec.ID, Applied: Applied{Epoch: epoch}})
		}
		targets = append(targets, tg)
		kept = append(kept, rec)
	}
	if len(targets) == 0 {
		return nil
	}
	if len(ahead) > 0 {
		// See writeMode.full.
		if err := s.opts.State.Commit(ctx, p.name, Commit{KeepCursor: true, Applied: ahead, Lease: s.lease()}); err != nil {
			return fmt.Errorf("replication: recording %d %s records of a full read: %w", len(ahead), p.name, err)
		}
	}
	from := len(out.dead)
	landed, err := s.writeBulk(wctx, p, targets, kept, out)
	if err != nil {
		return err
	}
	for i, rec := range kept {
		if landed[i] {
			out.records = append(out.records, AppliedRecord{ID: rec.ID, Applied: Applied{Version: rec.Version, Epoch: epoch}})
			out.writes++
		}
	}
	if err := s.settleKeyConflicts(ctx, p, kept, refs, epoch, from, out); err != nil {
		return err
	}
	return nil
}

// writeBulk upserts targets (the writes of recs) in one UpsertMultiple,
// falling back to one by one to isolate the records the target refuses,
// which become dead letters. It reports which landed; a retryable
// failure is returned.
func (s *Syncer) writeBulk(ctx context.Context, p *pair, targets []eventual.BulkTarget, recs []*eventual.Record, out *applied) ([]bool, error) {
	landed := make([]bool, len(targets))
	err := s.opts.Target.UpsertMultiple(ctx, targets)
	if err != nil && retryable(err) {
		return nil, fmt.Errorf("replication: writing %d %s records: %w", len(targets), p.name, err)
	}
	for i, rec := range recs {
		if err != nil { // the bulk write was refused: find the culprits
			if _, _, e := s.opts.Target.Upsert(ctx, targets[i].Target, targets[i].Entity, eventual.Condition{}); e != nil {
				if retryable(e) {
					return nil, fmt.Errorf("replication: writing %s %v: %w", p.name, rec.ID, e)
				}
				out.dead = append(out.dead, deadLetter(p, rec, e, s.opts.Now()))
				continue
			}
		}
		landed[i] = true
	}
	return landed, nil
}

// writeContext marks the target's writes: placeholders are adopted when
// the target offers it.
func (s *Syncer) writeContext(ctx context.Context) context.Context {
	if s.opts.Adopt {
		return eventual.WithAdoptPlaceholders(ctx)
	}
	return ctx
}

// target is the target's write of a source record: an upsert by the
// source's primary key with the copied columns, lookups retargeted to the
// target's tables and bound by key to tables matched by key; for a table
// matched by alternate key, the record's key values too (upsertByKey
// chooses the record written to).
func (s *Syncer) target(p *pair, rec *eventual.Record, refs map[uuid.UUID][]any) (eventual.BulkTarget, []any, error) {
	vals := eventual.Values{}
	for _, name := range p.copy {
		v, ok := rec.Values[name]
		if !ok {
			continue
		}
		if ref, isRef := v.(eventual.EntityReference); isRef {
			t := s.opts.TargetSchema.Table(ref.Table.LogicalName)
			if t == nil {
				continue // a table the target does not have
			}
			v = eventual.Ref(t, ref.ID)
			if rp := s.byName[t.LogicalName]; rp != nil && rp.key != nil && refs[ref.ID] != nil {
				v = rp.keyRef(refs[ref.ID])
			}
		}
		vals[name] = v
	}
	tg := eventual.BulkTarget{Target: eventual.Ref(p.dst, rec.ID), HasTarget: true, Entity: &eventual.Entity{Table: p.dst, Values: vals}}
	if p.key == nil {
		return tg, nil, nil
	}
	kv, err := p.keyValues(rec.Values)
	if err != nil {
		return tg, nil, err
	}
	return tg, kv, nil
}

// delete deletes records on the target; a record the target does not
// have is deleted already. A deletion the target refuses for good is
// logged and given up (there is no record to keep as a dead letter).
func (s *Syncer) delete(ctx context.Context, p *pair, recs []AppliedRecord) error {
	refs, err := s.deletionRefs(ctx, p, recs)
	if err != nil || len(refs) == 0 {
		return err
	}
	err = s.opts.Target.DeleteMultiple(ctx, refs)
	if err == nil {
		return nil
	}
	if retryable(err) {
		return fmt.Errorf("replication: deleting %d %s records: %w", len(refs), p.name, err)
	}
	for _, ref := range refs { // one is missing (or refused): one by one
		err := s.opts.Target.Delete(ctx, ref, eventual.Condition{})
		switch {
		case err == nil, eventual.ErrorKind(err) == eventual.KindNotFound:
		case retryable(err):
			return fmt.Errorf("replication: deleting %s %v: %w", p.name, ref, err)
		default:
			s.log.Warn("replication: the target refused a deletion", "table", p.name, "record", ref.String(), "err", err)
		}
	}
	return nil
}

// parentsFirst orders records so a record referencing another of the same
// page through a self-referencing lookup (account.parentaccountid) comes
// after it. Cycles keep their order.
func parentsFirst(p *pair, recs []*eventual.Record) []*eventual.Record {
	if len(p.selfRefs) == 0 || len(recs) < 2 {
		return recs
	}
	index := make(map[uuid.UUID]*eventual.Record, len(recs))
	for _, r := range recs {
		index[r.ID] = r
	}
	out := make([]*eventual.Record, 0, len(recs))
	state := map[uuid.UUID]int{} // 1 visiting, 2 done
	var visit func(r *eventual.Record)
	visit = func(r *eventual.Record) {
		if state[r.ID] != 0 {
			return
		}
		state[r.ID] = 1
		for _, name := range p.selfRefs {
			if ref, ok := r.Values[name].(eventual.EntityReference); ok && ref.ID != r.ID {
				if parent := index[ref.ID]; parent != nil {
					visit(parent)
				}
			}
		}
		state[r.ID] = 2
		out = append(out, r)
	}
	for _, r := range recs {
		visit(r)
	}
	return out
}

// deadLetter records a refused record with its error and payload.
func deadLetter(p *pair, rec *eventual.Record, err error, now time.Time) DeadLetter {
	payload := recordJSON(p, rec)
	d := DeadLetter{Pair: p.name, ID: rec.ID, Version: rec.Version, Payload: payload, Message: err.Error(), Attempts: 1, First: now, Last: now}
	var e *eventual.Error
	if errors.As(err, &e) {
		d.Code, d.Message = e.Code, e.Message
	}
	var st interface{ HTTPStatus() int }
	if errors.As(err, &st) {
		d.Status = st.HTTPStatus()
	}
	return d
}

// recordJSON is a record's copied columns in the Web API's JSON form.
func recordJSON(p *pair, rec *eventual.Record) []byte {
	o := codec.NewObject(nil)
	o.Key(p.src.PrimaryIDAttribute)
	o.B = codec.AppendString(o.B, rec.ID.String())
	for _, name := range p.copy {
		if v, ok := rec.Values[name]; ok {
			o.Key(name)
			o.B = codec.AppendValue(o.B, p.src.Column(name), v)
		}
	}
	return o.Close()
}
