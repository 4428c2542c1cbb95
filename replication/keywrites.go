package replication

import (
	"context"
	"fmt"
	"slices"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// This file holds the writes of a table matched by alternate key
// (Table.Key). The state keeps, per source record, the id of the target's
// record it is written to (Applied.Target): the source's own id when the
// sync creates the record, the target's when the sync takes over a record
// the target had under the key (a placeholder made by key). Every write
// after the first goes by that id, so a key that changes on the source
// moves the target's record, and a deletion deletes exactly it.
//
// Alternate keys are unique on the target, so a record may only take key
// values nobody else holds there. Before a page is written, the target is
// asked who holds the values the page writes; a holder another source
// record owns is moved first (from the same page, or read from the source
// when the owner's change is in a later page, or deleted when the source
// has deleted it), and a ring of records trading keys (a swap) is broken
// by parking one on a temporary value.

// keyWrite is the write of one source record to a table matched by key.
type keyWrite struct {
	rec    *eventual.Record
	entity *eventual.Entity
	kv     []any     // the key values written
	enc    string    // kv as encodeKey writes them
	target uuid.UUID // the target's record written to; uuid.Nil: a new one, under the source's id
	prev   Applied
	seen   bool
}

// dest is the id the write goes to.
func (w *keyWrite) dest() uuid.UUID {
	if w.target != uuid.Nil {
		return w.target
	}
	return w.rec.ID
}

// keyHolders maps the key values of a table matched by key to the
// target's records holding them, both ways, as far as they are known.
type keyHolders struct {
	byKey map[string]uuid.UUID
	byID  map[uuid.UUID]string
}

func (h *keyHolders) set(enc string, id uuid.UUID) {
	if old, ok := h.byID[id]; ok && h.byKey[old] == id {
		delete(h.byKey, old)
	}
	h.byKey[enc], h.byID[id] = id, enc
}

// holderChunk bounds the key values of one query of the target, so its
// URL stays far under the Web API's limit.
const holderChunk = 100

// findHolders asks the target which records hold the given key values
// and adds them to h.
func (s *Syncer) findHolders(ctx context.Context, p *pair, kvs [][]any, h *keyHolders) error {
	cols := []*eventual.Column{p.dst.PrimaryKey()}
	cols = append(cols, p.key.Columns...)
	for part := range slices.Chunk(kvs, holderChunk) {
		recs := make([]*eventual.Record, len(part))
		for i, kv := range part {
			recs[i] = &eventual.Record{Table: p.dst, Values: eventual.Values{}}
			for j, c := range p.key.Columns {
				recs[i].Values[c.LogicalName] = kv[j]
			}
		}
		filter := keyFilter(p.dst, p.key, recs)
		if filter == nil {
			continue
		}
		page, err := s.opts.Target.RetrieveMultiple(ctx, &eventual.Query{Table: p.dst, Columns: cols, Filter: filter, Limit: 2 * len(part)}, nil, false)
		if err != nil {
			return fmt.Errorf("replication: reading which %s records hold the keys of a page on the target: %w", p.name, err)
		}
		for _, rec := range page.Records {
			if kv, err := p.keyValues(rec.Values); err == nil {
				h.set(string(p.encodeKey(kv)), rec.ID)
			}
		}
	}
	return nil
}

// upsertByKey writes records of a table matched by key (see the top of
// this file): the state learns the id each is written to before the
// target sees the write, and the writes go in waves, each in bulk, a
// record in the first wave in which its key values are free.
func (s *Syncer) upsertByKey(ctx context.Context, p *pair, recs []*eventual.Record, known map[uuid.UUID]Applied, epoch int64, mode writeMode, out *applied) error {
	refs, err := s.refKeys(ctx, p, recs)
	if err != nil {
		return err
	}
	var ws []*keyWrite
	for _, rec := range recs {
		w, err := s.keyWrite(p, rec, refs, known)
		if err != nil {
			out.dead = append(out.dead, deadLetter(p, rec, err, s.opts.Now()))
			continue
		}
		if mode.byID[rec.ID] && w.target == uuid.Nil {
			w.target = rec.ID // the target's placeholder under the source's id
		}
		ws = append(ws, w)
	}
	h := &keyHolders{byKey: map[string]uuid.UUID{}, byID: map[uuid.UUID]string{}}
	ws, err = s.resolveHolders(ctx, p, ws, refs, h, out)
	if err != nil || len(ws) == 0 {
		return err
	}
	if err := s.recordTargets(ctx, p, ws, epoch); err != nil {
		return err
	}
	wctx := s.writeContext(ctx)
	pending := ws
	for guard := 0; len(pending) > 0; guard++ {
		var wave, rest []*keyWrite
		for _, w := range pending {
			if id, held := h.byKey[w.enc]; !held || id == w.dest() {
				wave = append(wave, w)
			} else {
				rest = append(rest, w)
			}
		}
		if len(wave) == 0 {
			parked, err := s.park(wctx, p, pending, h)
			if err != nil {
				return err
			}
			if !parked || guard > 2*len(ws) {
				wave, rest = pending, nil // the target refuses what cannot be done
			} else {
				continue
			}
		}
		if err := s.writeWave(wctx, p, wave, epoch, h, out); err != nil {
			return err
		}
		pending = rest
	}
	for _, w := range ws {
		if mode.byID[w.rec.ID] && w.target != w.rec.ID {
			if err := s.fillTwin(wctx, p, w); err != nil {
				return err
			}
		}
	}
	return nil
}

// keyWrite builds the write of rec: the target's values and the record
// it goes to, as the state knows it.
func (s *Syncer) keyWrite(p *pair, rec *eventual.Record, refs map[uuid.UUID][]any, known map[uuid.UUID]Applied) (*keyWrite, error) {
	tg, kv, err := s.target(p, rec, refs)
	if err != nil {
		return nil, err
	}
	w := &keyWrite{rec: rec, entity: tg.Entity, kv: kv, enc: string(p.encodeKey(kv))}
	w.prev, w.seen = known[rec.ID]
	if w.seen && !w.prev.Deleted {
		w.target = w.prev.Target
	}
	return w, nil
}

// resolveHolders finds who holds the key values ws write on the target
// and settles each holder that is not the record written: a holder no
// source record owns is taken over by a record new to the target (a
// placeholder made by key, a record the target had); a holder another
// source record owns is that record's, which moved away or was deleted on
// the source: its change joins the page (read from the source, in a
// later round checked the same way), or its deletion is done now. The
// writes to make are returned, those that joined included.
func (s *Syncer) resolveHolders(ctx context.Context, p *pair, ws []*keyWrite, refs map[uuid.UUID][]any, h *keyHolders, out *applied) ([]*keyWrite, error) {
	inPage := map[uuid.UUID]bool{}
	for _, w := range ws {
		inPage[w.rec.ID] = true
	}
	checked := 0
	for round := 0; checked < len(ws) && round < 4; round++ {
		fresh := ws[checked:]
		checked = len(ws)
		var kvs [][]any
		for _, w := range fresh {
			kvs = append(kvs, w.kv)
			if w.target == uuid.Nil && w.seen && !w.prev.Deleted {
				// A state from before targets were kept: the record is
				// found by the key values it was written with.
				old, _ := p.decodeKeys(w.prev.Key)
				kvs = append(kvs, old...)
			}
		}
		if err := s.findHolders(ctx, p, kvs, h); err != nil {
			return nil, err
		}
		ids := make([]uuid.UUID, 0, len(h.byID))
		for id := range h.byID {
			ids = append(ids, id)
		}
		owners, err := s.opts.State.Owners(ctx, p.name, ids)
		if err != nil {
			return nil, err
		}
		for _, w := range fresh {
			if w.target != uuid.Nil || !w.seen || w.prev.Deleted {
				continue
			}
			old, _ := p.decodeKeys(w.prev.Key)
			for i := len(old) - 1; i >= 0; i-- {
				if id, ok := h.byKey[string(p.encodeKey(old[i]))]; ok && (owners[id] == uuid.Nil || owners[id] == w.rec.ID) {
					w.target = id
					break
				}
			}
		}
		var pull []any
		pulled := map[uuid.UUID]uuid.UUID{}  // owner → its target record
		unowned := map[*keyWrite]uuid.UUID{} // a record with a target, its key held by a record no other owns
		for _, w := range fresh {
			id, held := h.byKey[w.enc]
			if !held || id == w.dest() {
				continue
			}
			owner, owned := owners[id]
			switch {
			case !owned || owner == w.rec.ID:
				if w.target == uuid.Nil {
					w.target = id // take the target's record over
				} else {
					unowned[w] = id
				}
			case !inPage[owner]:
				inPage[owner] = true
				pulled[owner] = id
				pull = append(pull, owner)
			}
		}
		if err := s.takeOverIfMissing(ctx, p, unowned); err != nil {
			return nil, err
		}
		if len(pull) == 0 {
			break
		}
		joined, err := s.pullOwners(ctx, p, pull, pulled, refs, out)
		if err != nil {
			return nil, err
		}
		ws = append(ws, joined...)
	}
	return ws, nil
}

// takeOverIfMissing settles records whose state names a target record
// while another record, which no other source record owns, holds their key
// values on the target (a placeholder made by key, say). The state learns
// a record's target before the target sees the write; a sync killed in
// between left a target that was never made, and the holder is then the
// record's: it is taken over. A target that does exist keeps its record,
// and the write meets the holder as a conflict (a dead letter).
func (s *Syncer) takeOverIfMissing(ctx context.Context, p *pair, unowned map[*keyWrite]uuid.UUID) error {
	if len(unowned) == 0 {
		return nil
	}
	var ids []any
	for w := range unowned {
		ids = append(ids, w.target)
	}
	page, err := s.opts.Target.RetrieveMultiple(ctx, &eventual.Query{Table: p.dst, Columns: []*eventual.Column{p.dst.PrimaryKey()}, Limit: len(ids),
		Filter: eventual.In{Field: eventual.Field{Column: p.dst.PrimaryKey()}, Values: ids}}, nil, false)
	if err != nil {
		return fmt.Errorf("replication: reading which %s records the target has: %w", p.name, err)
	}
	present := map[uuid.UUID]bool{}
	for _, rec := range page.Records {
		present[rec.ID] = true
	}
	for w, holder := range unowned {
		if !present[w.target] {
			s.log.Info("replication: a record's target was never made; it takes over the record holding its key", "table", p.name, "id", w.rec.ID, "target", holder)
			w.target = holder
		}
	}
	return nil
}

// pullOwners reads from the source the records owning target records
// whose keys a page needs (their change has not reached the sync yet):
// those found join the page; those the source no longer has are deleted
// on the target now.
func (s *Syncer) pullOwners(ctx context.Context, p *pair, ids []any, targets map[uuid.UUID]uuid.UUID, refs map[uuid.UUID][]any, out *applied) ([]*keyWrite, error) {
	page, err := s.opts.Source.RetrieveMultiple(ctx, &eventual.Query{Table: p.src, Columns: p.cols, Limit: len(ids),
		Filter: eventual.In{Field: eventual.Field{Column: p.src.PrimaryKey()}, Values: ids}}, nil, false)
	if err != nil {
		return nil, fmt.Errorf("replication: reading %s records whose keys moved from the source: %w", p.name, err)
	}
	uids := make([]uuid.UUID, len(ids))
	for i, id := range ids {
		uids[i] = id.(uuid.UUID)
	}
	known, err := s.opts.State.Versions(ctx, p.name, uids)
	if err != nil {
		return nil, err
	}
	found := map[uuid.UUID]bool{}
	var joined []*keyWrite
	if more, err := s.refKeys(ctx, p, page.Records); err == nil {
		for id, kv := range more {
			if refs[id] == nil {
				refs[id] = kv
			}
		}
	}
	for _, rec := range page.Records {
		found[rec.ID] = true
		w, err := s.keyWrite(p, rec, refs, known)
		if err != nil {
			continue // its own change will make it a dead letter
		}
		if w.target == uuid.Nil {
			w.target = targets[rec.ID]
		}
		s.log.Info("replication: a record's key values are needed by another; its own change is written first", "table", p.name, "id", rec.ID)
		joined = append(joined, w)
	}
	for _, id := range uids {
		if found[id] {
			continue
		}
		a := known[id]
		gone := AppliedRecord{ID: id, Applied: Applied{Version: a.Version, Deleted: true, Epoch: a.Epoch, Key: a.Key, Target: targets[id]}}
		if err := s.delete(ctx, p, []AppliedRecord{gone}); err != nil {
			return nil, err
		}
		out.records = append(out.records, gone)
		out.writes++
	}
	return joined, nil
}

// recordTargets saves, before the target sees a write, the record each
// write goes to and the key values it writes, for those the state does
// not know them of yet: a write that lands but is never acknowledged (a
// crash, a timeout, a page behind a failed one) is not lost track of.
func (s *Syncer) recordTargets(ctx context.Context, p *pair, ws []*keyWrite, epoch int64) error {
	var ahead []AppliedRecord
	for _, w := range ws {
		var old [][]any
		if w.seen && !w.prev.Deleted {
			old, _ = p.decodeKeys(w.prev.Key)
		}
		if w.seen && !w.prev.Deleted && w.prev.Target == w.dest() && p.hasKey(old, w.kv) {
			continue
		}
		a := w.prev
		if !w.seen {
			a = Applied{Epoch: epoch}
		}
		if a.Deleted {
			a.Deleted, old = false, nil
		}
		if !p.hasKey(old, w.kv) {
			old = append(old, w.kv)
		}
		a.Key, a.Target = p.encodeKeys(old), w.dest()
		ahead = append(ahead, AppliedRecord{ID: w.rec.ID, Applied: a})
	}
	if len(ahead) == 0 {
		return nil
	}
	if err := s.opts.State.Commit(ctx, p.name, Commit{KeepCursor: true, Applied: ahead, Lease: s.lease()}); err != nil {
		return fmt.Errorf("replication: recording the targets of %d %s records: %w", len(ahead), p.name, err)
	}
	return nil
}

// writeWave writes records whose key values are free on the target, in
// bulk by the id each goes to, falling back to one by one to isolate the
// records the target refuses.
func (s *Syncer) writeWave(ctx context.Context, p *pair, wave []*keyWrite, epoch int64, h *keyHolders, out *applied) error {
	targets := make([]eventual.BulkTarget, len(wave))
	recs := make([]*eventual.Record, len(wave))
	for i, w := range wave {
		targets[i] = eventual.BulkTarget{Target: eventual.Ref(p.dst, w.dest()), HasTarget: true, Entity: w.entity}
		recs[i] = w.rec
	}
	landed, err := s.writeBulk(ctx, p, targets, recs, out)
	if err != nil {
		return err
	}
	for i, w := range wave {
		if !landed[i] {
			continue
		}
		h.set(w.enc, w.dest())
		out.records = append(out.records, AppliedRecord{ID: w.rec.ID, Applied: Applied{Version: w.rec.Version, Epoch: epoch,
			Key: p.encodeKeys([][]any{w.kv}), Target: w.dest()}})
		out.writes++
	}
	return nil
}

// park breaks a ring of records trading key values (no write of pending
// can go first): the target's record of one of them, holding values
// another wants, moves to a temporary value of a text column of the key,
// and takes its own values in a later wave. It reports false when no
// record can be parked (nothing in pending holds what another wants, or
// the key has no text column).
func (s *Syncer) park(ctx context.Context, p *pair, pending []*keyWrite, h *keyHolders) (bool, error) {
	var text *eventual.Column
	for _, c := range p.key.Columns {
		if c.Type == eventual.TypeString {
			text = c
			break
		}
	}
	if text == nil {
		return false, nil
	}
	wanted := map[uuid.UUID]bool{}
	for _, w := range pending {
		wanted[h.byKey[w.enc]] = true
	}
	for _, w := range pending {
		if w.target == uuid.Nil || !wanted[w.target] {
			continue
		}
		var tmp string
		var err error
		for attempt := range tempKeyAttempts {
			tmp = tempKey(w.target, attempt, text.MaxLength)
			_, err = s.opts.Target.Update(ctx, eventual.Ref(p.dst, w.target), eventual.Values{text.LogicalName: tmp}, eventual.Condition{IfMatch: "*"})
			if err == nil || eventual.ErrorCode(err) != eventual.CodeDuplicateRecordEntityKey {
				break // written, or refused for another reason than a taken value
			}
		}
		if err != nil {
			if retryable(err) {
				return false, fmt.Errorf("replication: moving a %s record off its key for another: %w", p.name, err)
			}
			s.log.Warn("replication: the target refused a temporary key value", "table", p.name, "id", w.target, "err", err)
			return false, nil
		}
		kv := slices.Clone(w.kv)
		for i, c := range p.key.Columns {
			if c == text {
				kv[i] = tmp
			}
		}
		h.set(string(p.encodeKey(kv)), w.target)
		return true, nil
	}
	return false, nil
}

// fillTwin hydrates a placeholder the target made under the source's id
// for a record the sync writes to another of the target's records (it
// took over a placeholder made by key): the twin gets the record's
// values but its key, which only one record may hold, so that it is no
// longer pending. Both stay; what references the twin is the target's to
// repoint.
func (s *Syncer) fillTwin(ctx context.Context, p *pair, w *keyWrite) error {
	vals := eventual.Values{}
	for name, v := range w.entity.Values {
		if !slices.ContainsFunc(p.key.Columns, func(c *eventual.Column) bool { return c.LogicalName == name }) {
			vals[name] = v
		}
	}
	_, err := s.opts.Target.Update(ctx, eventual.Ref(p.dst, w.rec.ID), vals, eventual.Condition{IfMatch: "*"})
	switch {
	case err == nil:
		s.log.Warn("replication: the target holds two records of one source record: a placeholder made by its id, and the record matched by key; the placeholder is filled but for the key",
			"table", p.name, "id", w.rec.ID, "target", w.target)
		return nil
	case eventual.ErrorKind(err) == eventual.KindNotFound:
		return nil
	case retryable(err):
		return fmt.Errorf("replication: filling a %s placeholder: %w", p.name, err)
	}
	s.log.Warn("replication: the target refused to fill a placeholder", "table", p.name, "id", w.rec.ID, "err", err)
	return nil
}
