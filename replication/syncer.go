package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Syncer replicates tables from a source to a target (see the package
// documentation). Cycle runs one pass; Run runs passes until its context
// ends; CatchUp runs passes until nothing is left.
type Syncer struct {
	opts   Options
	pairs  []*pair          // parents first
	byName map[string]*pair // by table
	log    *slog.Logger
	wake   chan struct{}

	mu       sync.Mutex
	phAfter  map[string]uuid.UUID // where each table's placeholder scan goes on
	reports  map[string]TableReport
	standbys map[string]bool
}

// TableReport is what one cycle did for one table.
type TableReport struct {
	Table string
	// Written counts the records upserted and deleted on the target;
	// Hydrated those of them that pull-through fetched for placeholders.
	Written, Hydrated int
	// DeadLetters counts the records the target refused for good.
	DeadLetters int
	// CaughtUp reports that the cycle read the change feed to its end.
	CaughtUp bool
	// Standby reports that another process holds the table's lease.
	Standby bool
	// Placeholders is the number of pending placeholders the target
	// showed (in the one page looked at).
	Placeholders int
	// Oldest is the source's modification time of the oldest change the
	// cycle read and could not apply; zero when none.
	Oldest time.Time
	// Backlog counts the changes left on the source when the cycle
	// stopped short of the end of the feed; -1 when unknown, 0 when it
	// caught up.
	Backlog int64
	// Started and Ended bound the cycle.
	Started, Ended time.Time
	// Err is the cycle's failure, if any.
	Err error
}

// New returns a syncer for the options.
func New(opts Options) (*Syncer, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Syncer{opts: opts, log: opts.Logger, wake: make(chan struct{}, 1),
		byName: map[string]*pair{}, phAfter: map[string]uuid.UUID{}, reports: map[string]TableReport{}, standbys: map[string]bool{}}
	for _, t := range opts.Tables {
		p, err := opts.plan(t)
		if err != nil {
			return nil, err
		}
		s.pairs = append(s.pairs, p)
		s.byName[p.name] = p
	}
	s.pairs = orderParentsFirst(s.pairs)
	return s, nil
}

// Tables returns the tables in the order a cycle runs them.
func (s *Syncer) Tables() []string {
	names := make([]string, len(s.pairs))
	for i, p := range s.pairs {
		names[i] = p.name
	}
	return names
}

// Wake starts the next cycle now (a webhook said the source changed, or
// the target's breaker closed) instead of after the interval.
func (s *Syncer) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Cycle runs one pass over every table, parents first: the change feed to
// its end, then pull-through hydration of the target's placeholders. A
// table that fails does not stop the others; the error joins them all.
func (s *Syncer) Cycle(ctx context.Context) ([]TableReport, error) {
	var errs []error
	reports := make([]TableReport, 0, len(s.pairs))
	for _, p := range s.pairs {
		r := s.cycle(ctx, p)
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.name, r.Err))
		}
		reports = append(reports, r)
		s.mu.Lock()
		s.reports[p.name] = r
		s.mu.Unlock()
		if ctx.Err() != nil {
			break
		}
	}
	return reports, errors.Join(errs...)
}

// Reports returns the last cycle's report of each table.
func (s *Syncer) Reports() map[string]TableReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]TableReport, len(s.reports))
	for k, v := range s.reports {
		out[k] = v
	}
	return out
}

// Run runs cycles until ctx ends: one after another while they write,
// else after the interval or a Wake. It never returns because a peer is
// down: failures are logged, and the next cycle tries again (the
// clients' breakers keep the requests to a down peer few). It returns
// nil when ctx ends.
func (s *Syncer) Run(ctx context.Context) error {
	defer s.ReleaseLeases()
	for ctx.Err() == nil {
		reports, err := s.Cycle(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("replication: cycle failed", "err", err)
		}
		if busy(reports) && err == nil {
			continue
		}
		t := time.NewTimer(s.opts.Interval)
		select {
		case <-ctx.Done():
		case <-s.wake:
		case <-t.C:
		}
		t.Stop()
	}
	return nil
}

// CatchUp runs cycles until one writes nothing and reads every feed to
// its end, and returns nil; or until a cycle fails, and returns its error
// (the caller decides whether to try again). While another process holds
// a table's lease it waits for it. Pending placeholders whose
// source row does not exist do not hold it up.
func (s *Syncer) CatchUp(ctx context.Context) error {
	defer s.ReleaseLeases()
	for {
		reports, err := s.Cycle(ctx)
		if err != nil {
			return err
		}
		if standby(reports) { // wait for the lease: another sync holds it, or a killed one did
			t := time.NewTimer(s.opts.Interval)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
			continue
		}
		if !busy(reports) {
			return nil
		}
	}
}

// standby reports whether a table of the cycle was another process's.
func standby(reports []TableReport) bool {
	for _, r := range reports {
		if r.Standby {
			return true
		}
	}
	return false
}

// busy reports whether a cycle wrote anything or stopped before the end
// of a feed: then another cycle should follow at once.
func busy(reports []TableReport) bool {
	for _, r := range reports {
		if r.Standby {
			continue
		}
		if r.Written > 0 || !r.CaughtUp {
			return true
		}
	}
	return false
}

// ReleaseLeases gives up the leases this syncer holds, so a standby takes
// over at once rather than after their expiry.
func (s *Syncer) ReleaseLeases() {
	if s.opts.LeaseTTL < 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, p := range s.pairs {
		if err := s.opts.State.ReleaseLease(ctx, p.name, s.opts.Owner); err != nil {
			s.log.Warn("replication: releasing the lease", "table", p.name, "err", err)
		}
	}
}

// orderParentsFirst sorts pairs so a table comes after the tables its
// lookups reference (among the pairs). The given order breaks ties, and
// settles cycles (account and contact reference each other): of tables
// waiting on one another, the first given goes first.
func orderParentsFirst(pairs []*pair) []*pair {
	left := slices.Clone(pairs)
	out := make([]*pair, 0, len(pairs))
	waits := func(p *pair) bool { // on a table still left
		for _, c := range p.cols {
			if !c.Type.IsLookup() {
				continue
			}
			for _, t := range c.Targets {
				if t != p.name && slices.ContainsFunc(left, func(q *pair) bool { return q.name == t }) {
					return true
				}
			}
		}
		return false
	}
	for len(left) > 0 {
		next := slices.IndexFunc(left, func(p *pair) bool { return !waits(p) })
		if next < 0 {
			next = 0 // a cycle: the first given
		}
		out = append(out, left[next])
		left = slices.Delete(left, next, next+1)
	}
	return out
}
