package replication

import (
	"context"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// This file holds the pages of a feed in flight: written to the target
// several at a time (Options.Writers), committed in order (see readFeed).

// writes are the pages of a feed being written to the target, oldest
// first, and the cursor committed so far.
type writes struct {
	s      *Syncer
	p      *pair
	r      *TableReport
	prog   *progress
	cur    Cursor
	flight []*write
	failed error
}

// write is one page being written.
type write struct {
	page  *eventual.ChangePage
	next  Cursor
	ids   map[uuid.UUID]bool
	done  chan struct{}
	a     *applied
	err   error
	epoch int64
}

// start writes a page to the target in the background.
func (w *writes) start(ctx context.Context, page *eventual.ChangePage, epoch int64, next Cursor, mode writeMode) {
	wr := &write{page: page, next: next, epoch: epoch, done: make(chan struct{})}
	if len(w.p.selfRefs) > 0 {
		wr.ids = make(map[uuid.UUID]bool, len(page.Changes))
		for _, ch := range page.Changes {
			wr.ids[ch.ID] = true
		}
	}
	w.flight = append(w.flight, wr)
	go func() {
		defer close(wr.done)
		wr.a, wr.err = w.s.apply(ctx, w.p, page.Changes, epoch, mode)
	}()
}

// dependsOnFlight reports whether a record of changes references, through
// a self-referencing lookup, a record of a page in flight.
func (w *writes) dependsOnFlight(changes []eventual.Change) bool {
	if len(w.flight) == 0 || len(w.p.selfRefs) == 0 {
		return false
	}
	for _, ch := range changes {
		if ch.Record == nil {
			continue
		}
		for _, name := range w.p.selfRefs {
			ref, ok := ch.Record.Values[name].(eventual.EntityReference)
			if !ok {
				continue
			}
			for _, wr := range w.flight {
				if wr.ids[ref.ID] {
					return true
				}
			}
		}
	}
	return false
}

// wait commits, in order, the pages in flight until at most keep are
// left. After a failure nothing more is committed: the failure is
// returned (again) and the pages after it are waited for and dropped.
func (w *writes) wait(ctx context.Context, keep int) error {
	for len(w.flight) > keep {
		wr := w.flight[0]
		w.flight = w.flight[1:]
		<-wr.done
		if w.failed != nil {
			continue
		}
		err := wr.err
		if err == nil {
			err = w.s.commit(ctx, w.p, wr.a, wr.next, w.r)
		}
		if err != nil {
			w.failed = err
			w.r.Oldest = oldestChange(wr.page.Changes)
			w.s.measureBacklog(ctx, w.p, w.cur, w.prog, w.r)
			continue
		}
		w.cur = wr.next
		w.prog.page(len(wr.page.Changes), wr.page.More)
	}
	return w.failed
}
