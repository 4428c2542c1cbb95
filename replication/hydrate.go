package replication

import (
	"context"
	"fmt"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// pullThrough hydrates the target's pending placeholders without waiting
// for the feed to mention them: it reads a page of them (going on where
// the last cycle stopped, so placeholders without a source row do not
// hold the others up), fetches exactly those records from the source, by
// id and by each alternate key the placeholder holds, and writes them.
// A placeholder made by alternate key has the target's own id; the
// source's record reaches it by adoption (Options.Adopt).
func (s *Syncer) pullThrough(ctx context.Context, p *pair, cur Cursor, r *TableReport) error {
	if p.phCol == nil {
		return nil
	}
	holders, err := s.placeholders(ctx, p)
	if err != nil || len(holders) == 0 {
		return err
	}
	r.Placeholders = len(holders)
	found, byID, err := s.fetchSources(ctx, p, holders)
	if err != nil || len(found) == 0 {
		return err
	}
	changes := make([]eventual.Change, len(found))
	for i, rec := range found {
		changes[i] = eventual.Change{ID: rec.ID, Record: rec}
	}
	before := r.Written
	if err := s.applyAndCommit(ctx, p, changes, cur.Epoch, cur, r, writeMode{force: true, byID: byID}); err != nil {
		return err
	}
	r.Hydrated += r.Written - before
	if r.Hydrated > 0 {
		s.log.Info("replication: hydrated placeholders from the source", "table", p.name, "records", r.Hydrated)
	}
	return nil
}

// placeholders reads the next page of the target's pending placeholders,
// with their alternate-key columns.
func (s *Syncer) placeholders(ctx context.Context, p *pair) ([]*eventual.Record, error) {
	cols := []*eventual.Column{p.dst.PrimaryKey()}
	for _, k := range p.dst.Keys {
		cols = append(cols, k.Columns...)
	}
	filter := eventual.Expr(eventual.Compare{Op: eventual.OpEq, Left: eventual.Field{Column: p.phCol}, Right: eventual.Literal{Value: p.phValue}})
	s.mu.Lock()
	after := s.phAfter[p.name]
	s.mu.Unlock()
	q := &eventual.Query{Table: p.dst, Columns: cols, Filter: filter, Limit: s.opts.Batch}
	if after != uuid.Nil {
		q.After = []any{after}
	}
	page, err := s.opts.Target.RetrieveMultiple(ctx, q, nil, false)
	if err != nil {
		return nil, fmt.Errorf("reading the target's placeholders: %w", err)
	}
	next := uuid.Nil // wrap around after the last page
	if page.More && len(page.Records) > 0 {
		next = page.Records[len(page.Records)-1].ID
	}
	s.mu.Lock()
	s.phAfter[p.name] = next
	s.mu.Unlock()
	return page.Records, nil
}

// fetchSources reads from the source the records the placeholders stand
// for: by primary key, then by each alternate key whose values a
// placeholder holds. Each record comes once. For a table matched by key,
// byID lists the records found by primary key: the target holds a
// placeholder under the source's GUID, which only a write by GUID fills.
func (s *Syncer) fetchSources(ctx context.Context, p *pair, holders []*eventual.Record) (found []*eventual.Record, byID map[uuid.UUID]bool, err error) {
	ids := make([]any, len(holders))
	for i, h := range holders {
		ids[i] = h.ID
	}
	filters := []eventual.Expr{eventual.In{Field: eventual.Field{Column: p.src.PrimaryKey()}, Values: ids}}
	for _, k := range p.src.Keys {
		if f := keyFilter(p.src, k, holders); f != nil {
			filters = append(filters, f)
		}
	}
	seen := map[uuid.UUID]bool{}
	for i, f := range filters {
		page, err := s.opts.Source.RetrieveMultiple(ctx, &eventual.Query{Table: p.src, Columns: p.cols, Filter: f, Limit: len(holders) * 2}, nil, false)
		if err != nil {
			return nil, nil, fmt.Errorf("reading placeholders' records from the source: %w", err)
		}
		for _, rec := range page.Records {
			if seen[rec.ID] {
				continue
			}
			seen[rec.ID] = true
			found = append(found, rec)
			if i == 0 && p.key != nil {
				if byID == nil {
					byID = map[uuid.UUID]bool{}
				}
				byID[rec.ID] = true
			}
		}
	}
	return found, byID, nil
}

// keyFilter selects the source records holding any placeholder's values
// of an alternate key (every column set): key1 in (…) for a one-column
// key, an or of ands for a composite one. Nil when no placeholder holds
// the key.
func keyFilter(t *eventual.Table, k *eventual.Key, holders []*eventual.Record) eventual.Expr {
	var ors eventual.Expr
	var single []any
	for _, h := range holders {
		var and eventual.Expr
		for _, c := range k.Columns {
			v, ok := h.Values[c.LogicalName]
			if !ok || v == nil {
				and = nil
				break
			}
			sc := t.Column(c.LogicalName)
			eq := eventual.Compare{Op: eventual.OpEq, Left: eventual.Field{Column: sc}, Right: eventual.Literal{Value: v}}
			if and == nil {
				and = eq
			} else {
				and = eventual.And{Left: and, Right: eq}
			}
		}
		switch {
		case and == nil:
		case len(k.Columns) == 1:
			single = append(single, h.Values[k.Columns[0].LogicalName])
		case ors == nil:
			ors = and
		default:
			ors = eventual.Or{Left: ors, Right: and}
		}
	}
	if len(single) > 0 {
		return eventual.In{Field: eventual.Field{Column: t.Column(k.Columns[0].LogicalName)}, Values: single}
	}
	return ors
}
