package replication

import (
	"context"
	"time"

	"github.com/eventual-pp/eventual"
)

// progressEvery is how often a full read logs its progress.
const progressEvery = 5 * time.Second

// progress logs a full read's progress (the initial load, a resync):
// rows, rate and, against the source's count at the start, the share
// done and an ETA. Deltas are not logged row by row.
type progress struct {
	s           *Syncer
	p           *pair
	on          bool
	total       int64 // the source's count at the start; -1 unknown
	rows        int64
	start, last time.Time
}

func (s *Syncer) newProgress(ctx context.Context, p *pair, cur Cursor) *progress {
	pr := &progress{s: s, p: p, on: cur.Phase == PhaseInitial || cur.Phase == PhaseResync, total: -1, start: s.opts.Now()}
	pr.last = pr.start
	if pr.on {
		if n, err := s.opts.Source.Count(ctx, p.src, nil); err == nil && n < eventual.MaxCount {
			pr.total = n
		} else if err == nil {
			pr.total = -1 // more than Dataverse counts
		}
	}
	return pr
}

// page records a page read and applied, logging at most every
// progressEvery, and once at the end.
func (pr *progress) page(n int, more bool) {
	if !pr.on {
		return
	}
	pr.rows += int64(n)
	now := pr.s.opts.Now()
	if more && now.Sub(pr.last) < progressEvery {
		return
	}
	pr.last = now
	elapsed := now.Sub(pr.start)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(pr.rows) / elapsed.Seconds()
	}
	args := []any{"table", pr.p.name, "rows", pr.rows, "rate", int64(rate), "elapsed", elapsed.Round(time.Millisecond)}
	if pr.total > 0 {
		args = append(args, "done", float64(pr.rows*1000/pr.total)/10)
		if rate > 0 && pr.rows < pr.total {
			args = append(args, "eta", time.Duration(float64(pr.total-pr.rows)/rate*float64(time.Second)).Round(time.Second))
		}
	}
	msg := "replication: loading"
	if !more {
		msg = "replication: loaded"
	}
	pr.s.log.Info(msg, args...)
}
