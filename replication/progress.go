package replication

import (
	"context"
	"time"

	"github.com/eventual-pp/eventual"
)

// progressEvery is how often a full read logs its progress.
const progressEvery = 5 * time.Second

// Progress is how far a full read (the initial load, a resync) of one
// table has come, for Options.Progress.
type Progress struct {
	Table string
	// Rows have been read and applied; Total is the source's count at the
	// start of the read, -1 when unknown (beyond what Dataverse counts).
	Rows, Total int64
	// Rate is rows per second since the read began; ETA the time left at
	// that rate (0 when unknown).
	Rate float64
	ETA  time.Duration
	// Done is set on the last report of the read.
	Done bool
}

// progress reports a full read's progress (the initial load, a resync):
// rows, rate and, against the source's count at the start, the share
// done and an ETA — to Options.Progress on every page, else in a log line
// every progressEvery. Deltas are not reported row by row.
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

// page records a page read and applied: reported at once to
// Options.Progress, logged at most every progressEvery, and logged at the
// end.
func (pr *progress) page(n int, more bool) {
	if !pr.on {
		return
	}
	pr.rows += int64(n)
	now := pr.s.opts.Now()
	elapsed := now.Sub(pr.start)
	rep := Progress{Table: pr.p.name, Rows: pr.rows, Total: pr.total, Done: !more}
	if elapsed > 0 {
		rep.Rate = float64(pr.rows) / elapsed.Seconds()
	}
	if pr.total > 0 && rep.Rate > 0 && pr.rows < pr.total {
		rep.ETA = time.Duration(float64(pr.total-pr.rows) / rep.Rate * float64(time.Second)).Round(time.Second)
	}
	if f := pr.s.opts.Progress; f != nil {
		f(rep)
		if more {
			return
		}
	}
	if more && now.Sub(pr.last) < progressEvery {
		return
	}
	pr.last = now
	args := []any{"table", pr.p.name, "rows", pr.rows, "rate", int64(rep.Rate), "elapsed", elapsed.Round(time.Millisecond)}
	if pr.total > 0 {
		args = append(args, "done", float64(pr.rows*1000/pr.total)/10)
		if rep.ETA > 0 {
			args = append(args, "eta", rep.ETA)
		}
	}
	msg := "replication: loading"
	if !more {
		msg = "replication: loaded"
	}
	pr.s.log.Info(msg, args...)
}
