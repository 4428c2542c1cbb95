package replication

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// This file settles, in a table matched by primary key (the default), the
// writes the target refuses because another of its records holds their
// alternate key values (412, 0x80060892). Keys are unique on the target,
// and the feed's order is not the order that frees key values: a record
// deleted and created again under the same key on the source (the new
// record's write may come in a page before the deletion), a key that moved
// from one record to another, two records that swapped keys.
//
// For each such write, the target is asked which record holds the key
// values. A holder the sync wrote from the source (the state knows it)
// has changed there since: it is read from the source, moved off the key
// (to a temporary value, "~" and hex, in the key's first text column; a
// key without one is cleared), the write is made again, and the holder's
// own source version is written after it (or the holder is deleted when
// the source no longer has it). A holder the sync did not write is the
// target's own record: a true conflict, and the write stays a dead letter.

// keyConflictRounds bounds the rounds of settling (a chain of records each
// waiting for the next's key takes a round per link).
const keyConflictRounds = 4

// takenKey reports a dead letter of a key another record holds.
func takenKey(d DeadLetter) bool { return d.Code == eventual.CodeDuplicateRecordEntityKey }

// settleKeyConflicts retries the writes of recs that out.dead holds (from
// index from on) for a taken key, as the top of this file says.
func (s *Syncer) settleKeyConflicts(ctx context.Context, p *pair, recs []*eventual.Record, refs map[uuid.UUID][]any, epoch int64, from int, out *applied) error {
	if len(p.dst.Keys) == 0 {
		return nil
	}
	byID := make(map[uuid.UUID]*eventual.Record, len(recs))
	for _, r := range recs {
		byID[r.ID] = r
	}
	var pending []*eventual.Record
	kept := out.dead[:from]
	for _, d := range out.dead[from:] {
		if r := byID[d.ID]; r != nil && takenKey(d) {
			pending = append(pending, r)
			continue
		}
		kept = append(kept, d)
	}
	if len(pending) == 0 {
		return nil
	}
	out.dead = kept
	written := map[uuid.UUID]bool{} // what this settling wrote: each record once in out.records
	for round := 0; round < keyConflictRounds && len(pending) > 0; round++ {
		var next []*eventual.Record
		for _, rec := range pending {
			if written[rec.ID] {
				continue
			}
			again, err := s.settleKeyConflict(ctx, p, rec, refs, epoch, written, out)
			if err != nil {
				return err
			}
			next = append(next, again...)
		}
		pending = next
	}
	for _, rec := range pending { // still refused: a true conflict, or a chain too long
		if written[rec.ID] {
			continue
		}
		written[rec.ID] = true // once, landed or a dead letter
		if _, err := s.writeSettled(ctx, p, rec, refs, epoch, false, written, out); err != nil {
			return err
		}
	}
	return nil
}

// writeSettled writes rec to the target and records the outcome: in
// out.records and written when it lands; as a dead letter when the
// target refuses it for good, but for a taken key when again is set
// (reported as taken, for another round). A retryable failure is
// returned.
func (s *Syncer) writeSettled(ctx context.Context, p *pair, rec *eventual.Record, refs map[uuid.UUID][]any, epoch int64, again bool, written map[uuid.UUID]bool, out *applied) (taken bool, err error) {
	tg, _, err := s.target(p, rec, refs)
	if err == nil {
		_, _, err = s.opts.Target.Upsert(s.writeContext(ctx), tg.Target, tg.Entity, eventual.Condition{})
	}
	switch {
	case err == nil:
		written[rec.ID] = true
		out.records = append(out.records, AppliedRecord{ID: rec.ID, Applied: Applied{Version: rec.Version, Epoch: epoch}})
		out.writes++
	case retryable(err):
		return false, fmt.Errorf("replication: writing %s %v: %w", p.name, rec.ID, err)
	case again && eventual.ErrorCode(err) == eventual.CodeDuplicateRecordEntityKey:
		return true, nil
	default:
		out.dead = append(out.dead, deadLetter(p, rec, err, s.opts.Now()))
	}
	return false, nil
}

// settleKeyConflict makes one round for rec: it frees rec's key values of
// the holders the sync wrote, writes rec, and then the holders' source
// versions. It returns the records to try again in the next round (rec,
// when it is still refused for a taken key; a holder whose own key is
// taken in turn).
func (s *Syncer) settleKeyConflict(ctx context.Context, p *pair, rec *eventual.Record, refs map[uuid.UUID][]any, epoch int64, written map[uuid.UUID]bool, out *applied) ([]*eventual.Record, error) {
	wctx := s.writeContext(ctx)
	tg, _, err := s.target(p, rec, refs)
	if err != nil {
		out.dead = append(out.dead, deadLetter(p, rec, err, s.opts.Now()))
		return nil, nil
	}
	holders, err := s.keyHoldersOf(ctx, p, rec.ID, tg.Entity.Values)
	if err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, 0, len(holders))
	for id := range holders {
		ids = append(ids, id)
	}
	known, err := s.opts.State.Versions(ctx, p.name, ids)
	if err != nil {
		return nil, err
	}
	var ours []any
	for _, id := range ids {
		if a, ok := known[id]; ok && !a.Deleted && !written[id] {
			ours = append(ours, id)
		}
	}
	var sources []*eventual.Record
	if len(ours) > 0 {
		page, err := s.opts.Source.RetrieveMultiple(ctx, &eventual.Query{Table: p.src, Columns: p.cols, Limit: len(ours),
			Filter: eventual.In{Field: eventual.Field{Column: p.src.PrimaryKey()}, Values: ours}}, nil, false)
		if err != nil {
			return nil, fmt.Errorf("replication: reading from the source the %s records holding another's key: %w", p.name, err)
		}
		sources = page.Records
		found := map[uuid.UUID]bool{}
		for _, r := range sources {
			found[r.ID] = true
		}
		var gone []AppliedRecord
		for _, id := range ours {
			if h := id.(uuid.UUID); !found[h] {
				written[h] = true
				gone = append(gone, AppliedRecord{ID: h, Applied: Applied{Version: known[h].Version, Deleted: true, Epoch: epoch}})
			}
		}
		if len(gone) > 0 {
			s.log.Info("replication: records holding another's key were deleted on the source; deleting them first", "table", p.name, "id", rec.ID, "holders", len(gone))
			if err := s.delete(ctx, p, gone); err != nil {
				return nil, err
			}
			out.records = append(out.records, gone...)
			out.writes += len(gone)
		}
		for _, h := range sources {
			if err := s.parkHolder(wctx, p, h.ID, holders[h.ID]); err != nil {
				return nil, err
			}
		}
	}
	var again []*eventual.Record
	taken, err := s.writeSettled(ctx, p, rec, refs, epoch, len(ours) > 0, written, out)
	if err != nil {
		return nil, err
	}
	if taken {
		again = append(again, rec) // a holder of another key, or a new one: next round
	}
	if len(sources) > 0 {
		s.log.Info("replication: records holding another's key moved on the source; their own change is written after it", "table", p.name, "id", rec.ID, "holders", len(sources))
	}
	for _, h := range sources { // the parked holders take their own values
		taken, err := s.writeSettled(ctx, p, h, refs, epoch, true, written, out)
		if err != nil {
			return nil, err
		}
		if taken {
			again = append(again, h)
		}
	}
	return again, nil
}

// keyHoldersOf asks the target which of its records other than id hold
// the key values in vals, and returns each with the keys it holds.
func (s *Syncer) keyHoldersOf(ctx context.Context, p *pair, id uuid.UUID, vals eventual.Values) (map[uuid.UUID][]*eventual.Key, error) {
	out := map[uuid.UUID][]*eventual.Key{}
	probe := []*eventual.Record{{Table: p.dst, Values: vals}}
	for _, k := range p.dst.Keys {
		filter := keyFilter(p.dst, k, probe)
		if filter == nil {
			continue // the write leaves this key unset
		}
		cols := append([]*eventual.Column{p.dst.PrimaryKey()}, k.Columns...)
		page, err := s.opts.Target.RetrieveMultiple(ctx, &eventual.Query{Table: p.dst, Columns: cols, Filter: filter, Limit: 2}, nil, false)
		if err != nil {
			return nil, fmt.Errorf("replication: reading which %s record holds a key on the target: %w", p.name, err)
		}
		for _, r := range page.Records {
			if r.ID != id {
				out[r.ID] = append(out[r.ID], k)
			}
		}
	}
	return out, nil
}

// tempKey is the temporary key value of the target's record id while it
// waits for its own: "~" and the hex of a hash of the whole id (and of the
// attempt, when an earlier value was taken), cut to max characters (0: no
// limit). A hash rather than the id itself: ids that share their first
// bytes (sequential ids a client chose) would be cut to one value.
func tempKey(id uuid.UUID, attempt, max int) string {
	h := sha256.Sum256(append(id[:], byte(attempt)))
	tmp := "~" + hex.EncodeToString(h[:])
	if max > 1 && max < len(tmp) {
		tmp = tmp[:max]
	}
	return tmp
}

// tempKeyAttempts bounds the temporary values tried for one record.
const tempKeyAttempts = 4

// parkHolder moves the target's record id off the given keys: their first
// text column takes a temporary value (tempKey; another when the target
// finds it taken), or, for a key without a text column, its first column
// is cleared.
func (s *Syncer) parkHolder(ctx context.Context, p *pair, id uuid.UUID, keys []*eventual.Key) error {
	var err error
	for attempt := range tempKeyAttempts {
		vals := eventual.Values{}
		for _, k := range keys {
			i := slices.IndexFunc(k.Columns, func(c *eventual.Column) bool { return c.Type == eventual.TypeString })
			if i < 0 {
				vals[k.Columns[0].LogicalName] = nil
				continue
			}
			c := k.Columns[i]
			vals[c.LogicalName] = tempKey(id, attempt, c.MaxLength)
		}
		_, err = s.opts.Target.Update(ctx, eventual.Ref(p.dst, id), vals, eventual.Condition{IfMatch: "*"})
		if err == nil || eventual.ErrorKind(err) == eventual.KindNotFound {
			return nil
		}
		if retryable(err) {
			return fmt.Errorf("replication: moving a %s record off a key another needs: %w", p.name, err)
		}
		if eventual.ErrorCode(err) != eventual.CodeDuplicateRecordEntityKey {
			break // refused for another reason: no other value helps
		}
	}
	s.log.Warn("replication: the target refused a temporary key value; the record waiting for the key may become a dead letter", "table", p.name, "id", id, "err", err)
	return nil
}
