package replication

import (
	"context"
	"time"

	"github.com/eventual-pp/eventual"
)

// This file holds what a cycle reports for `eventual sync status`: the
// backlog, the oldest change not applied, the breakers.

// oldestChange is the earliest modification time of the changes (deletions
// carry none); zero when none has one.
func oldestChange(changes []eventual.Change) time.Time {
	var oldest time.Time
	for _, ch := range changes {
		if ch.Record == nil {
			continue
		}
		if t, ok := ch.Record.Values["modifiedon"].(time.Time); ok && (oldest.IsZero() || t.Before(oldest)) {
			oldest = t
		}
	}
	return oldest
}

// changeCounter is a source that counts the changes after a delta token
// (client.Records does, with GET set/$count?$deltatoken=).
type changeCounter interface {
	CountChanges(ctx context.Context, t *eventual.Table, token string) (int64, error)
}

// measureBacklog sets the report's backlog when the feed stopped at cur:
// during a full read, the rows not yet read; after it, the changes since
// the delta token, if the source counts them. Unknown stays -1.
func (s *Syncer) measureBacklog(ctx context.Context, p *pair, cur Cursor, prog *progress, r *TableReport) {
	switch {
	case prog.on && prog.total >= 0:
		r.Backlog = max(prog.total-prog.rows, 0)
	case cur.Since != "":
		if cc, ok := s.opts.Source.(changeCounter); ok {
			if n, err := cc.CountChanges(ctx, p.src, cur.Since); err == nil {
				r.Backlog = n
			}
		}
	}
}

// saveStatus records the cycle for `eventual sync status`.
func (s *Syncer) saveStatus(ctx context.Context, p *pair, r *TableReport) {
	if r.Standby || ctx.Err() != nil {
		return
	}
	st, err := s.opts.State.Statuses(ctx)
	if err != nil {
		return
	}
	prev := st[p.name]
	next := prev
	next.Applied += int64(r.Written)
	next.Placeholder = int64(r.Placeholders)
	next.LastError = ""
	if s.opts.Breakers != nil {
		next.Breaker = s.opts.Breakers()
	}
	if r.Err != nil {
		next.LastError = r.Err.Error()
	}
	if r.Backlog >= 0 {
		next.Backlog = r.Backlog
	}
	switch {
	case r.CaughtUp:
		next.LastCycle = r.Ended
		next.Lag = r.Ended.Sub(r.Started)
		next.Oldest = time.Time{}
	case r.Written > 0: // the oldest change not applied before may be applied now
		next.Oldest = r.Oldest
	case !r.Oldest.IsZero() && (next.Oldest.IsZero() || r.Oldest.Before(next.Oldest)):
		next.Oldest = r.Oldest
	}
	if err := s.opts.State.SetStatus(ctx, p.name, next); err != nil {
		s.log.Warn("replication: saving the status", "table", p.name, "err", err)
	}
}
