package replication

import (
	"context"
	"fmt"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// RetryDeadLetters writes a table's dead letters again (all of them with
// no ids), each from the source's current record: those the target now
// takes leave the dead letters; those it refuses again stay, with one
// more attempt; those the source no longer has are dropped. It returns
// how many were written.
func (s *Syncer) RetryDeadLetters(ctx context.Context, table string, ids []uuid.UUID) (int, error) {
	var p *pair
	for _, q := range s.pairs {
		if q.name == table {
			p = q
		}
	}
	if p == nil {
		return 0, fmt.Errorf("replication: %s is not a replicated table", table)
	}
	var lr TableReport
	if !s.holdLease(ctx, p, &lr) {
		if lr.Err != nil {
			return 0, lr.Err
		}
		return 0, fmt.Errorf("replication: another sync holds the lease of %s; retry there, or when it stops", table)
	}
	dead, err := s.opts.State.DeadLetters(ctx, table)
	if err != nil {
		return 0, err
	}
	want := map[uuid.UUID]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var retry []any
	for _, d := range dead {
		if len(ids) == 0 || want[d.ID] {
			retry = append(retry, d.ID)
		}
	}
	if len(retry) == 0 {
		return 0, nil
	}
	page, err := s.opts.Source.RetrieveMultiple(ctx, &eventual.Query{Table: p.src, Columns: p.cols, Limit: len(retry),
		Filter: eventual.In{Field: eventual.Field{Column: p.src.PrimaryKey()}, Values: retry}}, nil, false)
	if err != nil {
		return 0, fmt.Errorf("replication: reading dead letters' records from the source: %w", err)
	}
	found := map[uuid.UUID]bool{}
	changes := make([]eventual.Change, len(page.Records))
	for i, rec := range page.Records {
		changes[i], found[rec.ID] = eventual.Change{ID: rec.ID, Record: rec}, true
	}
	for _, id := range retry {
		if !found[id.(uuid.UUID)] {
			if err := s.opts.State.DropDeadLetter(ctx, table, id.(uuid.UUID)); err != nil {
				return 0, err
			}
		}
	}
	cur, err := s.opts.State.Cursor(ctx, table)
	if err != nil {
		return 0, err
	}
	var r TableReport
	err = s.applyAndCommit(ctx, p, changes, cur.Epoch, cur, &r, writeMode{force: true})
	return r.Written, err
}
