package client

import (
	"log/slog"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
)

// State is the state of a circuit breaker.
type State int

// Breaker states.
const (
	// StateClosed sends requests and counts failures.
	StateClosed State = iota
	// StateHalfOpen lets one probe through; its success closes the
	// breaker, its failure opens it again for longer.
	StateHalfOpen
	// StateOpen sends nothing: calls fail with ErrOpen.
	StateOpen
)

// String returns "closed", "half-open" or "open".
func (s State) String() string {
	switch s {
	case StateClosed:
		return "closed"
	case StateHalfOpen:
		return "half-open"
	}
	return "open"
}

// breaker is the endpoint's circuit breaker: gobreaker behind a gate.
//
// gobreaker counts consecutive failures, trips, and lets exactly one probe
// through when half-open. Its open period (Settings.Timeout) is fixed, but
// ours must grow with each trip and never end before a Retry-After the
// server named. So gobreaker gets a 1ns Timeout, and the gate refuses every
// call until openUntil, which the gate sets when gobreaker trips. The gate
// holds mu around every call into gobreaker, so no call slips between a
// trip and its openUntil; gobreaker's OnStateChange runs under mu.
type breaker struct {
	opts     BreakerOptions
	log      *slog.Logger
	onChange func(from, to State)

	mu        sync.Mutex
	cb        *gobreaker.TwoStepCircuitBreaker[struct{}]
	cur       State     // gobreaker's state as its last change left it
	trips     int       // trips since the breaker last closed
	openUntil time.Time // the gate: nothing passes before it
	notBefore time.Time // the latest Retry-After named; floors openUntil
	changes   []change  // state changes to report once mu is released
	reporting bool      // a goroutine is reporting changes
}

type change struct {
	from, to State
	until    time.Time // the gate's end, for a change to open
}

func newBreaker(name string, o BreakerOptions, log *slog.Logger, onChange func(from, to State)) *breaker {
	b := &breaker{opts: o, log: log, onChange: onChange}
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        name,
		MaxRequests: 1,
		Timeout:     time.Nanosecond,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= o.Failures },
		IsExcluded:  func(err error) bool { return err == errExcluded },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			b.changed(state(from), state(to))
		},
	})
	return b
}

// errExcluded reports an attempt that says nothing of the endpoint's health
// (the caller gave up); the other outcomes are nil (success) or errFailed.
var (
	errExcluded = &Error{Message: "excluded"}
	errFailed   = &Error{Message: "failed"}
)

func state(s gobreaker.State) State {
	switch s {
	case gobreaker.StateClosed:
		return StateClosed
	case gobreaker.StateHalfOpen:
		return StateHalfOpen
	}
	return StateOpen
}

// changed records a state change; b.mu is held.
func (b *breaker) changed(from, to State) {
	b.cur = to
	switch to {
	case StateOpen:
		b.trips++
		d := b.opts.OpenFor
		for i := 1; i < b.trips && d < b.opts.MaxOpenFor; i++ {
			d *= 2
		}
		b.openUntil = time.Now().Add(min(d, b.opts.MaxOpenFor))
		if b.notBefore.After(b.openUntil) {
			b.openUntil = b.notBefore
		}
	case StateClosed:
		b.trips = 0
	}
	b.changes = append(b.changes, change{from, to, b.openUntil})
}

// unlock releases mu, then logs and reports the state changes. One
// goroutine at a time reports, draining the queue in the order the changes
// happened; an unlock that finds a report under way leaves its changes to
// that reporter, so a slow logger or callback cannot reorder them, and a
// callback that calls the client does not deadlock.
func (b *breaker) unlock() {
	if b.reporting || len(b.changes) == 0 {
		b.mu.Unlock()
		return
	}
	b.reporting = true
	defer func() { // also if a callback panics
		b.reporting = false
		b.mu.Unlock()
	}()
	for len(b.changes) > 0 {
		changes := b.changes
		b.changes = nil
		b.mu.Unlock()
		b.report(changes)
		b.mu.Lock()
	}
}

// report logs and passes on changes; b.mu is not held.
func (b *breaker) report(changes []change) {
	defer func() {
		if p := recover(); p != nil {
			b.mu.Lock() // the deferred unlock in unlock releases it
			panic(p)
		}
	}()
	for _, c := range changes {
		attrs := []any{"endpoint", b.cb.Name(), "from", c.from.String(), "to", c.to.String()}
		if c.to == StateOpen {
			attrs = append(attrs, "until", c.until)
		}
		b.log.Warn("client: circuit breaker state change", attrs...)
		if b.onChange != nil {
			b.onChange(c.from, c.to)
		}
	}
}

// remaining is how long the gate still refuses calls; 0 when it does not.
// It is never earlier than a Retry-After the server named while open.
func (b *breaker) remaining() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return max(time.Until(b.openUntil), 0)
}

// open reports whether the gate refuses calls now, without taking a probe.
func (b *breaker) open() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return time.Now().Before(b.openUntil)
}

// allow admits one attempt, or returns ErrOpen. done reports the outcome
// (nil, errFailed or errExcluded) and the end of a Retry-After the
// response named (zero for none).
func (b *breaker) allow() (done func(outcome error, retryAt time.Time), err error) {
	b.mu.Lock()
	defer b.unlock()
	if time.Now().Before(b.openUntil) {
		return nil, ErrOpen
	}
	report, err := b.cb.Allow()
	if err != nil {
		return nil, ErrOpen
	}
	return func(outcome error, retryAt time.Time) {
		b.mu.Lock()
		defer b.unlock()
		if retryAt.After(b.notBefore) {
			b.notBefore = retryAt
		}
		report(outcome)
		// An answer from before the trip (gobreaker ignores its outcome)
		// may name a Retry-After beyond the open period: the gate holds
		// until then too.
		if b.cur == StateOpen && b.notBefore.After(b.openUntil) {
			b.openUntil = b.notBefore
		}
	}, nil
}

// state is the breaker's state as callers see it: open while the gate
// refuses, else gobreaker's.
func (b *breaker) state() State {
	b.mu.Lock()
	defer b.unlock()
	if time.Now().Before(b.openUntil) {
		return StateOpen
	}
	s := state(b.cb.State())
	if s == StateOpen { // the gate has passed: the next call half-opens it
		return StateHalfOpen
	}
	return s
}
