package replication

import (
	"context"
	"fmt"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// sweep ends a resync: it deletes on the target every record this sync
// wrote there that the full re-read did not see (its epoch is older), as
// the source no longer has it, then moves the pair on to deltas. Records
// the sync never wrote (placeholders, records made on the target) are
// left alone. A crash repeats the sweep, which finds less to delete.
func (s *Syncer) sweep(ctx context.Context, p *pair, cur Cursor) error {
	var after []any
	var gone []AppliedRecord
	for {
		q := &eventual.Query{Table: p.dst, Columns: []*eventual.Column{p.dst.PrimaryKey()}, Limit: s.opts.Batch, After: after}
		page, err := s.opts.Target.RetrieveMultiple(ctx, q, nil, false)
		if err != nil {
			return fmt.Errorf("sweep: reading the target: %w", err)
		}
		ids := make([]uuid.UUID, len(page.Records))
		for i, rec := range page.Records {
			ids[i] = rec.ID
		}
		known, err := s.opts.State.Versions(ctx, p.name, ids)
		if err != nil {
			return err
		}
		var stale []uuid.UUID
		for _, id := range ids {
			if a, ok := known[id]; ok && !a.Deleted && a.Epoch < cur.Epoch {
				stale = append(stale, id)
				gone = append(gone, AppliedRecord{ID: id, Applied: Applied{Version: a.Version, Deleted: true, Epoch: cur.Epoch}})
			}
		}
		if err := s.delete(ctx, p, stale); err != nil {
			return err
		}
		if !page.More || len(ids) == 0 {
			break
		}
		after = []any{ids[len(ids)-1]}
	}
	if len(gone) > 0 {
		s.log.Warn("replication: resync deleted on the target the records the source no longer has", "table", p.name, "records", len(gone))
	}
	next := cur
	next.Phase = PhaseDelta
	return s.opts.State.Commit(ctx, p.name, Commit{Cursor: next, Applied: gone, Lease: s.lease()})
}
