package replication

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/codec"
	"github.com/google/uuid"
)

// This file holds the key values of matching by alternate key
// (Table.Key): a record's values of the key, their form in the state
// (Applied.Key), the key values of the records lookups reference (bound
// by key), and the deletions of records the state knows only by key
// values (a state from before Applied.Target). The writes are
// keywrites.go's.

// keyValues returns a record's values of the pair's key, in the key's
// column order; a record without one cannot be matched, and is refused
// like a record the target refuses.
func (p *pair) keyValues(vals eventual.Values) ([]any, error) {
	out := make([]any, len(p.key.Columns))
	for i, c := range p.key.Columns {
		v := vals[c.LogicalName]
		if v == nil {
			return nil, eventual.Errorf(eventual.KindInvalid, eventual.CodeBadRequest,
				"the record has no %s, a column of the key %s that %s is matched by on the target", c.LogicalName, p.key.LogicalName, p.name)
		}
		out[i] = v
	}
	return out, nil
}

// keyRef is the target reference of the record holding key values.
func (p *pair) keyRef(vals []any) eventual.EntityReference {
	return eventual.EntityReference{Table: p.dst, Key: p.key, KeyValues: vals}
}

// encodeKey is key values in the Web API's form: a JSON object of the
// key's columns.
func (p *pair) encodeKey(vals []any) []byte {
	o := codec.NewObject(nil)
	for i, c := range p.key.Columns {
		o.Key(c.LogicalName)
		o.B = codec.AppendValue(o.B, c, vals[i])
	}
	return o.Close()
}

// decodeKey reads what encodeKey wrote.
func (p *pair) decodeKey(b []byte) ([]any, error) {
	rec, err := codec.DecodeRecord(p.dst, b)
	if err != nil {
		return nil, fmt.Errorf("replication: the state's key of a %s record: %w", p.name, err)
	}
	return p.keyValues(rec.Values)
}

// encodeKeys is the key values a record may hold on the target, as the
// state keeps them (Applied.Key): a JSON array of encodeKey objects, the
// current values last. Before a page is written, the values it writes
// are added to those the target may still hold (a write the state never
// recorded as acknowledged may have landed); once acknowledged, only
// they remain.
func (p *pair) encodeKeys(keys [][]any) []byte {
	b := []byte{'['}
	for i, kv := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, p.encodeKey(kv)...)
	}
	return append(b, ']')
}

// decodeKeys reads what encodeKeys wrote (or one encodeKey object, the
// form of earlier states); nil reads as none.
func (p *pair) decodeKeys(b []byte) ([][]any, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if b[0] == '{' {
		kv, err := p.decodeKey(b)
		if err != nil {
			return nil, err
		}
		return [][]any{kv}, nil
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(b, &raws); err != nil {
		return nil, fmt.Errorf("replication: the state's keys of a %s record: %w", p.name, err)
	}
	out := make([][]any, 0, len(raws))
	for _, raw := range raws {
		kv, err := p.decodeKey(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, kv)
	}
	return out, nil
}

// hasKey reports whether keys holds kv.
func (p *pair) hasKey(keys [][]any, kv []any) bool {
	want := string(p.encodeKey(kv))
	for _, k := range keys {
		if string(p.encodeKey(k)) == want {
			return true
		}
	}
	return false
}

// refKeys finds, for the lookups of recs to tables matched by key, the key
// values of the records they reference, by the referenced record's source
// GUID: from recs themselves, then from what the state says the sync
// wrote, then from the source. A record found nowhere stays out; its
// lookup is bound by GUID.
func (s *Syncer) refKeys(ctx context.Context, p *pair, recs []*eventual.Record) (map[uuid.UUID][]any, error) {
	out := map[uuid.UUID][]any{}
	want := map[*pair][]uuid.UUID{}
	for _, rec := range recs {
		if p.key != nil {
			if kv, err := p.keyValues(rec.Values); err == nil {
				out[rec.ID] = kv
			}
		}
		for _, name := range p.copy {
			ref, ok := rec.Values[name].(eventual.EntityReference)
			if !ok || ref.ID == uuid.Nil {
				continue
			}
			if rp := s.byName[ref.Table.LogicalName]; rp != nil && rp.key != nil {
				want[rp] = append(want[rp], ref.ID)
			}
		}
	}
	for rp, ids := range want {
		if err := s.lookUpKeys(ctx, rp, ids, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// lookUpKeys adds to out the key values of the records of rp with the ids
// that out lacks: from the state, then from the source.
func (s *Syncer) lookUpKeys(ctx context.Context, rp *pair, ids []uuid.UUID, out map[uuid.UUID][]any) error {
	var missing []uuid.UUID
	for _, id := range ids {
		if out[id] == nil {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	known, err := s.opts.State.Versions(ctx, rp.name, missing)
	if err != nil {
		return err
	}
	var fetch []any
	for _, id := range missing {
		if a, ok := known[id]; ok && a.Key != nil && !a.Deleted {
			if keys, err := rp.decodeKeys(a.Key); err == nil && len(keys) > 0 {
				out[id] = keys[len(keys)-1]
				continue
			}
		}
		if out[id] == nil {
			fetch = append(fetch, id)
		}
	}
	if len(fetch) == 0 {
		return nil
	}
	cols := []*eventual.Column{rp.src.PrimaryKey()}
	for _, c := range rp.key.Columns {
		cols = append(cols, rp.src.Column(c.LogicalName))
	}
	page, err := s.opts.Source.RetrieveMultiple(ctx, &eventual.Query{Table: rp.src, Columns: cols, Limit: len(fetch),
		Filter: eventual.In{Field: eventual.Field{Column: rp.src.PrimaryKey()}, Values: fetch}}, nil, false)
	if err != nil {
		return fmt.Errorf("replication: reading the keys of referenced %s records from the source: %w", rp.name, err)
	}
	for _, rec := range page.Records {
		if kv, err := rp.keyValues(rec.Values); err == nil {
			out[rec.ID] = kv
		}
	}
	return nil
}

// deletionRefs are the target's records of deleted source records: by
// GUID, or, for a table matched by key, by the id of the target's record
// it was written to (Applied.Target), or, in a state from before that was
// kept, by every key value the sync may have written (see encodeKeys) —
// none for a record it never wrote, and none when the source now has
// another record with those values (the key passed to it, and the
// target's record is that one's).
func (s *Syncer) deletionRefs(ctx context.Context, p *pair, recs []AppliedRecord) ([]eventual.EntityReference, error) {
	var refs []eventual.EntityReference
	if p.key == nil {
		for _, r := range recs {
			refs = append(refs, eventual.Ref(p.dst, r.ID))
		}
		return refs, nil
	}
	var holders []*eventual.Record
	seen := map[string]bool{}
	var byTarget []eventual.EntityReference
	for _, r := range recs {
		if r.Target != uuid.Nil {
			byTarget = append(byTarget, eventual.Ref(p.dst, r.Target))
			continue
		}
		keys, err := p.decodeKeys(r.Key)
		if err != nil {
			s.log.Warn("replication: cannot delete a record on the target: its key values in the state do not read", "table", p.name, "id", r.ID, "err", err)
			continue
		}
		for _, kv := range keys { // every value it may hold there
			if enc := string(p.encodeKey(kv)); !seen[enc] {
				seen[enc] = true
				h := &eventual.Record{Table: p.dst, Values: eventual.Values{}}
				for i, c := range p.key.Columns {
					h.Values[c.LogicalName] = kv[i]
				}
				holders = append(holders, h)
				refs = append(refs, p.keyRef(kv))
			}
		}
	}
	if len(refs) == 0 {
		return byTarget, nil
	}
	page, err := s.opts.Source.RetrieveMultiple(ctx, &eventual.Query{Table: p.src, Columns: p.cols, Limit: len(refs) * 2,
		Filter: keyFilter(p.src, p.key, holders)}, nil, false)
	if err != nil {
		return nil, fmt.Errorf("replication: checking the keys of deleted %s records on the source: %w", p.name, err)
	}
	held := map[string]bool{}
	for _, rec := range page.Records {
		if kv, err := p.keyValues(rec.Values); err == nil {
			held[string(p.encodeKey(kv))] = true
		}
	}
	out := byTarget
	for _, ref := range refs {
		if !held[string(p.encodeKey(ref.KeyValues))] {
			out = append(out, ref)
		}
	}
	return out, nil
}
