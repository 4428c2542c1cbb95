package replication

import (
	"context"
	"errors"
	"fmt"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// cycle runs one table's pass: under its lease, the change feed from the
// stored cursor to its end, page by page, each page committed to the
// state after the target acknowledged it; then the sweep of a resync;
// then pull-through hydration.
func (s *Syncer) cycle(ctx context.Context, p *pair) TableReport {
	r := TableReport{Table: p.name, Started: s.opts.Now(), Backlog: -1}
	defer func() {
		r.Ended = s.opts.Now()
		s.saveStatus(ctx, p, &r)
		if s.opts.OnCycle != nil && !r.Standby {
			s.opts.OnCycle(r)
		}
	}()
	if !s.holdLease(ctx, p, &r) {
		return r
	}
	cur, err := s.opts.State.Cursor(ctx, p.name)
	if err != nil {
		r.Err = err
		return r
	}
	if cur.Phase == "" || fullRead(cur) && cur.Until == "" {
		// A full read starts from scratch, under an epoch of its own
		// (saved first): what an earlier attempt wrote before it failed,
		// and this one does not see, is swept at its end.
		if cur.Phase == "" {
			cur = Cursor{Phase: PhaseInitial, ReadStarted: r.Started}
			s.log.Info("replication: initial load", "table", p.name)
		}
		cur.Epoch++
		if r.Err = s.opts.State.Commit(ctx, p.name, Commit{Cursor: cur, Lease: s.lease()}); r.Err != nil {
			return r
		}
	}
	if p.key != nil {
		// Matched by key, the feed's upsert by key would make a second
		// record beside a placeholder the target holds under the source's
		// GUID: those are claimed first.
		if r.Err = s.pullThrough(ctx, p, cur, &r); r.Err != nil {
			return r
		}
	}
	if cur, r.Err = s.readFeed(ctx, p, cur, &r); r.Err != nil {
		return r
	}
	if cur.Phase == PhaseSweep {
		if r.Err = s.sweep(ctx, p, cur); r.Err != nil {
			return r
		}
	}
	r.CaughtUp, r.Backlog = true, 0
	r.Err = s.pullThrough(ctx, p, cur, &r)
	return r
}

// readFeed reads the change feed from cur to its end and applies it. It
// returns the cursor it ended at (the last one committed).
//
// The ends work at once: the next page is read from the source while
// pages are written to the target, up to Options.Writers pages at a time
// (a target such as eventual decodes one request while its writer
// commits another). Pages are committed strictly in order, each after
// the target acknowledged it and every page before it, so a failure or a
// crash loses nothing but writes that are done again. A page whose
// records reference, through a self-referencing lookup, a record of a
// page still in flight waits for that page, so parents land first.
func (s *Syncer) readFeed(ctx context.Context, p *pair, cur Cursor, r *TableReport) (Cursor, error) {
	prog := s.newProgress(ctx, p, cur)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops a read ahead the loop leaves behind
	w := &writes{s: s, p: p, r: r, prog: prog, cur: cur}
	defer w.wait(context.WithoutCancel(ctx), 0) // never leave a write behind uncommitted or running
	ahead := s.readPage(ctx, p, cur)
	read := cur // where the feed is read from; w.cur is where it is committed to
	for {
		f := <-ahead
		page, err := f.page, f.err
		if errors.Is(err, eventual.ErrBadToken) {
			if err := w.wait(ctx, 0); err != nil {
				return w.cur, err
			}
			if read, err = s.tokenRefused(ctx, p, w.cur, err); err != nil {
				return w.cur, err
			}
			w.cur = read
			ahead = s.readPage(ctx, p, read)
			continue
		}
		if err != nil {
			werr := w.wait(ctx, 0)
			s.measureBacklog(ctx, p, w.cur, prog, r)
			return w.cur, errors.Join(fmt.Errorf("reading changes: %w", err), werr)
		}
		next := nextCursor(read, page)
		if page.More {
			ahead = s.readPage(ctx, p, next)
		}
		if w.dependsOnFlight(page.Changes) {
			if err := w.wait(ctx, 0); err != nil {
				return w.cur, err
			}
		}
		// Until a full read has committed a page, a failure makes it start
		// again from scratch, under a snapshot that no longer shows what
		// the source deleted meanwhile: its records are written ahead to
		// the state, for the sweep. Once a page is committed, a failed
		// read goes on from there, under its first snapshot, and the
		// deltas after it report those deletions.
		w.start(ctx, page, read.Epoch, next, writeMode{full: fullRead(read) && w.cur.Until == ""})
		if err := w.wait(ctx, max(s.opts.Writers-1, 0)); err != nil {
			return w.cur, err
		}
		read = next
		if !page.More {
			err := w.wait(ctx, 0) // before w.cur is read: it moves the cursor
			return w.cur, err
		}
	}
}

// readResult is a page of the change feed, or why it could not be read.
type readResult struct {
	page *eventual.ChangePage
	err  error
}

// readPage reads the feed's page at cur in the background.
func (s *Syncer) readPage(ctx context.Context, p *pair, cur Cursor) <-chan readResult {
	ch := make(chan readResult, 1)
	go func() {
		page, err := s.opts.Source.Changes(ctx, p.src, p.cols, cur.Since, cur.Until,
			eventual.ChangeCursor{After: cur.After, Deleted: cur.Deleted}, s.opts.Batch)
		ch <- readResult{page, err}
	}()
	return ch
}

// nextCursor is where the feed goes on after a page.
func nextCursor(cur Cursor, page *eventual.ChangePage) Cursor {
	if page.More && len(page.Changes) > 0 {
		last := page.Changes[len(page.Changes)-1]
		cur.Until, cur.After, cur.Deleted = page.Token, last.ID, last.Deleted
		return cur
	}
	next := Cursor{Phase: PhaseDelta, Since: page.Token, Epoch: cur.Epoch}
	if fullRead(cur) {
		next.Phase = PhaseSweep
	}
	return next
}

// fullRead reports a cursor in a read of the whole table (the initial
// load or a resync), which ends with a sweep.
func fullRead(cur Cursor) bool { return cur.Phase == PhaseInitial || cur.Phase == PhaseResync }

// tokenRefused handles a token the source cannot read: a page token (the
// read restarts from its delta token), or an expired delta token (a full
// re-read, then a sweep of what the source no longer has).
func (s *Syncer) tokenRefused(ctx context.Context, p *pair, cur Cursor, err error) (Cursor, error) {
	switch {
	case cur.Until != "":
		s.log.Warn("replication: the source refused the page token; reading the delta again", "table", p.name, "err", err)
		cur.Until, cur.After, cur.Deleted = "", uuid.Nil, false
		if fullRead(cur) {
			// From scratch, in an epoch of its own: its sweep removes what
			// it no longer sees.
			cur.Epoch++
			return cur, s.opts.State.Commit(ctx, p.name, Commit{Cursor: cur, Lease: s.lease()})
		}
		return cur, nil
	case cur.Since != "":
		s.log.Error("replication: THE SOURCE REFUSED THE DELTA TOKEN (expired: it kept changes for less time than the sync was away); re-reading the whole table and deleting on the target what the source no longer has",
			"table", p.name, "err", err)
		return Cursor{Phase: PhaseResync, Epoch: cur.Epoch + 1, ReadStarted: s.opts.Now()}, nil
	}
	return cur, fmt.Errorf("reading changes: %w", err)
}

// applyAndCommit applies a page and commits it with the cursor after it.
func (s *Syncer) applyAndCommit(ctx context.Context, p *pair, changes []eventual.Change, epoch int64, next Cursor, r *TableReport, mode writeMode) error {
	a, err := s.apply(ctx, p, changes, epoch, mode)
	if err != nil {
		return err
	}
	return s.commit(ctx, p, a, next, r)
}

// lastOfEach keeps, of records applied more than once in a page (deleted
// and created again, or written to free a key another needed), the last
// one, in order: a state commits each record once.
func lastOfEach(recs []AppliedRecord) []AppliedRecord {
	last := make(map[uuid.UUID]int, len(recs))
	for i, r := range recs {
		last[r.ID] = i
	}
	if len(last) == len(recs) {
		return recs
	}
	out := make([]AppliedRecord, 0, len(last))
	for i, r := range recs {
		if last[r.ID] == i {
			out = append(out, r)
		}
	}
	return out
}

// commit records an applied page: its dead letters, then, in one
// transaction, the cursor after it, what it applied and the dead letters
// it resolved.
func (s *Syncer) commit(ctx context.Context, p *pair, a *applied, next Cursor, r *TableReport) error {
	for _, d := range a.dead {
		s.log.Warn("replication: the target refused a record for good; kept as a dead letter", "table", p.name, "id", d.ID, "code", d.Code, "message", d.Message)
		if err := s.opts.State.AddDeadLetter(ctx, d); err != nil {
			return err
		}
	}
	a.records = lastOfEach(a.records)
	resolved := make([]uuid.UUID, 0, len(a.records))
	for _, rec := range a.records {
		resolved = append(resolved, rec.ID)
	}
	err := s.opts.State.Commit(ctx, p.name, Commit{Cursor: next, Applied: a.records, Resolved: resolved, Lease: s.lease()})
	if errors.Is(err, ErrLeaseLost) {
		r.Standby = true
	}
	if err != nil {
		return fmt.Errorf("committing progress: %w", err)
	}
	r.Written += a.writes
	r.DeadLetters += len(a.dead)
	return nil
}
