package replication

import (
	"context"

	"github.com/google/uuid"
)

// sweep ends a full read (the initial load, a resync): it deletes on the
// target every record this sync wrote (or may have written) there that
// the full read did not see (the state's records of
// an older epoch: an anti-join of the state and the re-read), as the
// source no longer has it, then moves the pair on to deltas. Records the
// sync never wrote (placeholders, records made on the target) are left
// alone. Each page of deletions is committed, so a crash goes on where
// the sweep stopped.
func (s *Syncer) sweep(ctx context.Context, p *pair, cur Cursor) error {
	total := 0
	for after := uuid.Nil; ; {
		stale, err := s.opts.State.Stale(ctx, p.name, cur.Epoch, after, s.opts.Batch)
		if err != nil {
			return err
		}
		if len(stale) == 0 {
			break
		}
		if err := s.delete(ctx, p, stale); err != nil {
			return err
		}
		gone := make([]AppliedRecord, len(stale))
		for i, r := range stale {
			r.Deleted, r.Epoch = true, cur.Epoch
			gone[i] = r
		}
		if err := s.opts.State.Commit(ctx, p.name, Commit{Cursor: cur, Applied: gone, Lease: s.lease()}); err != nil {
			return err
		}
		total += len(stale)
		after = stale[len(stale)-1].ID
	}
	if total > 0 {
		s.log.Warn("replication: the full read deleted on the target the records the source no longer has", "table", p.name, "records", total)
	}
	next := cur
	next.Phase = PhaseDelta
	return s.opts.State.Commit(ctx, p.name, Commit{Cursor: next, Lease: s.lease()})
}
