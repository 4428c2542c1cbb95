package client

import (
	"math/rand/v2"
	"net/http"
	"slices"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/eventual-pp/eventual"
)

// Replay says whether a request may be sent again after an attempt that
// may have been applied: the request reached the server and no answer came
// back (the connection dropped after sending, the attempt timed out, a
// gateway answered 502 or 504).
//
// Whatever the Replay, a request is re-sent after an attempt that surely
// was not applied: nothing was written to the connection (dial errors), or
// Dataverse itself refused it (429, 503, a transient code, a 401 that a new
// token may cure).
//
// The classification of Dataverse's requests:
//
//	GET, HEAD                         ReplayAuto → idempotent: reads
//	PUT (a column value), DELETE      ReplayAuto → idempotent: the same end state
//	PATCH (update, upsert)            ReplayAuto → idempotent; with If-Match or
//	                                  If-None-Match a replay of an applied first
//	                                  attempt answers 412, never writes twice
//	POST create, bound/unbound action ReplayAuto → not idempotent: a replay may
//	                                  create a second record. ReplaySafe when the
//	                                  body carries the primary key (a replay then
//	                                  answers 412 duplicate, never a second record)
//	POST $batch with change sets      ReplayAuto → not idempotent; ReplaySafe only
//	                                  when every part is (reads, keyed upserts)
//	POST CreateMultiple …             as POST create; UpsertMultiple is ReplaySafe
type Replay int

const (
	// ReplayAuto decides by method: GET, HEAD, OPTIONS, PUT, PATCH and
	// DELETE are idempotent, POST is not.
	ReplayAuto Replay = iota
	// ReplaySafe says the caller knows the request is idempotent.
	ReplaySafe
	// ReplayNever says the request must not be re-sent once it may have
	// been applied, whatever its method.
	ReplayNever
)

// idempotent applies the classification to a method.
func (r Replay) idempotent(method string) bool {
	switch r {
	case ReplaySafe:
		return true
	case ReplayNever:
		return false
	}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// serviceProtection are Dataverse's service-protection codes (429).
var serviceProtection = []string{
	eventual.CodeRequestsLimitExceeded,
	eventual.CodeExecutionTimeLimitExceeded,
	eventual.CodeConcurrencyLimitExceeded,
}

// classify decides, for an error response, whether it is worth retrying
// and whether the request may have been applied.
func (c *Client) classify(status int, code string) (retryable, maybeApplied bool) {
	switch {
	case status == http.StatusTooManyRequests, status == http.StatusServiceUnavailable:
		return true, false
	case status == http.StatusBadGateway, status == http.StatusGatewayTimeout:
		return true, true // a gateway gave up waiting; the server may have finished
	case code != "" && (slices.Contains(serviceProtection, code) || slices.Contains(c.opts.TransientCodes, code)):
		return true, false
	}
	return false, false
}

// breakerFailure reports whether a response status counts against the
// endpoint's health: 5xx and 429. Other answers show a working server.
func breakerFailure(status int) bool {
	return status >= 500 || status == http.StatusTooManyRequests
}

// jitter is the retry policy: exponential backoff with full jitter, from
// backoff's ExponentialBackOff without its own randomisation. The
// operation sets next to replace the coming wait: with the time left of a
// Retry-After, or zero after a 401 that a new token should cure.
type jitter struct {
	exp     *backoff.ExponentialBackOff
	next    time.Duration
	nextSet bool
	// gate, when set, is how long the breaker stays open: every wait
	// ends with it, so a call that tripped the breaker (or found it open)
	// sends the probe the moment the open period ends, neither sleeping
	// past it while nothing else probes nor waking before it only to be
	// refused (a jittered wait is often shorter than the open period).
	gate func() time.Duration
}

func newJitter(base, maxWait time.Duration) *jitter {
	return &jitter{exp: &backoff.ExponentialBackOff{
		InitialInterval: base,
		Multiplier:      2,
		MaxInterval:     maxWait,
	}}
}

// set makes d the next wait.
func (j *jitter) set(d time.Duration) { j.next, j.nextSet = max(d, 0), true }

// NextBackOff implements backoff.BackOff.
func (j *jitter) NextBackOff() time.Duration {
	d := j.wait()
	if j.gate != nil && d >= 0 {
		if open := j.gate(); open > 0 {
			return open
		}
	}
	return d
}

// wait is the next wait before the breaker's gate bounds it.
func (j *jitter) wait() time.Duration {
	if j.nextSet {
		j.nextSet = false
		return j.next
	}
	d := j.exp.NextBackOff()
	if d <= 0 {
		return d
	}
	return rand.N(d + 1)
}

// Reset implements backoff.BackOff. backoff.Retry calls it once, before the
// first attempt.
func (j *jitter) Reset() { j.exp.Reset(); j.nextSet = false }
