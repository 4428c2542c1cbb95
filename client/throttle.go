package client

import (
	"context"
	"strconv"
	"sync"
	"time"
)

// governor paces the requests of one client (one identity) as Dataverse's
// service protection wants: a Retry-After on a 429 pauses every request,
// not only the one that got it, and the number of requests in flight
// follows additive increase, multiplicative decrease, starting from the
// server's x-ms-dop-hint.
type governor struct {
	mu           sync.Mutex
	pausedUntil  time.Time
	limit        float64 // requests allowed in flight; at least 1
	ceiling      float64 // the dop hint, or MaxConcurrency before one
	maxLimit     float64
	hinted       bool
	inFlight     int
	lastDecrease time.Time
	wake         chan struct{} // closed and replaced when a slot frees or the pause changes
}

func newGovernor(initial, maxLimit int) *governor {
	return &governor{limit: float64(initial), ceiling: float64(maxLimit), maxLimit: float64(maxLimit), wake: make(chan struct{})}
}

// acquire waits until no pause is on and a slot is free, takes the slot and
// returns when it did.
func (g *governor) acquire(ctx context.Context) (time.Time, error) {
	for {
		g.mu.Lock()
		now := time.Now()
		wake := g.wake
		if wait := g.pausedUntil.Sub(now); wait > 0 {
			g.mu.Unlock()
			if err := sleep(ctx, wait, wake); err != nil {
				return time.Time{}, err
			}
			continue
		}
		if g.inFlight < int(g.limit) {
			g.inFlight++
			g.mu.Unlock()
			return now, nil
		}
		g.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return time.Time{}, context.Cause(ctx)
		}
	}
}

// sleep waits for d, an early wake, or the end of ctx.
func sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-wake:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	return nil
}

// broadcast wakes every waiter; g.mu is held.
func (g *governor) broadcast() {
	close(g.wake)
	g.wake = make(chan struct{})
}

// release gives back the slot taken at start and adapts the limit to the
// outcome: a 429 halves it (once for the requests sent before the last
// halving), a success adds 1/limit (about one per round of requests). A
// dop hint sets the ceiling, and the first one the limit too.
func (g *governor) release(start time.Time, throttled, success bool, dopHint string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inFlight--
	if n, err := strconv.Atoi(dopHint); err == nil && n > 0 {
		g.ceiling = min(float64(n), g.maxLimit)
		if !g.hinted {
			g.limit, g.hinted = g.ceiling, true
		}
		g.limit = min(g.limit, g.ceiling)
	}
	switch {
	case throttled && !start.Before(g.lastDecrease):
		g.limit = max(1, g.limit/2)
		g.lastDecrease = time.Now()
	case success:
		g.limit = min(g.ceiling, g.limit+1/g.limit)
	}
	g.broadcast()
}

// pause holds every request until until, unless a longer pause is on.
func (g *governor) pause(until time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if until.After(g.pausedUntil) {
		g.pausedUntil = until
		g.broadcast()
	}
}

func (g *governor) currentLimit() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return int(g.limit)
}

func (g *governor) pausedUntilTime() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.pausedUntil
}
