package client

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/eventual-pp/eventual"
)

// transitions records the breaker's state changes as OnStateChange sees
// them.
type transitions struct {
	mu  sync.Mutex
	got []string
}

func (tr *transitions) record(from, to State) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.got = append(tr.got, from.String()+">"+to.String())
}

func (tr *transitions) list() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.got)
}

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// breakerOptions: trips after 3 failed attempts, open 5s, each attempt
// sent once so the counts are the breaker's alone.
func breakerOptions(tr *transitions, log *syncBuffer) Options {
	o := Options{
		MaxAttempts:   1,
		Concurrency:   16,
		Breaker:       BreakerOptions{Failures: 3, OpenFor: 5 * time.Second, MaxOpenFor: 12 * time.Second},
		OnStateChange: tr.record,
	}
	if log != nil {
		o.Logger = slog.New(slog.NewTextHandler(log, nil))
	}
	return o
}

// TestBreakerOpensFailsFastAndProbesOnce walks the breaker through a whole
// cycle: three failures open it; while open nothing is sent; after OpenFor
// one probe passes while concurrent callers fail fast; its success closes
// the breaker. Every transition is reported in order and logged.
func TestBreakerOpensFailsFastAndProbesOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var tr transitions
		var logs syncBuffer
		probe := make(chan struct{})
		healthy := false
		c, f := newFake(t, breakerOptions(&tr, &logs), func(n int, w http.ResponseWriter, r *http.Request) error {
			if !healthy {
				answer(w, 503, "")
				return nil
			}
			if n == 3 {
				<-probe
			}
			answer(w, 200, "")
			return nil
		})
		for i := range 3 {
			_, err := get(t.Context(), c)
			if err == nil || IsBreakerOpen(err) {
				t.Fatalf("failure %d: %v, want the 503", i, err)
			}
		}
		if c.State() != StateOpen {
			t.Fatalf("after 3 failures: %v, want open", c.State())
		}
		// Open: fail fast, nothing sent, until the last instant of OpenFor.
		for _, at := range []time.Duration{0, time.Second, 5*time.Second - time.Nanosecond} {
			time.Sleep(at - time.Since(f.seen[2]))
			_, err := get(t.Context(), c)
			if !IsBreakerOpen(err) || eventual.ErrorKind(err) != eventual.KindUnavailable {
				t.Fatalf("open at %v: %v, want a breaker-open error", at, err)
			}
			if f.count() != 3 {
				t.Fatalf("open at %v: server saw %d requests, want 3", at, f.count())
			}
		}
		time.Sleep(time.Nanosecond)
		if c.State() != StateHalfOpen {
			t.Fatalf("after OpenFor: %v, want half-open", c.State())
		}
		healthy = true
		probeErr := make(chan error)
		go func() { _, err := get(t.Context(), c); probeErr <- err }()
		synctest.Wait() // the probe is at the server
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() { _, errs[i] = get(t.Context(), c) })
		}
		wg.Wait()
		for i, err := range errs {
			if !IsBreakerOpen(err) {
				t.Errorf("caller %d during the probe: %v, want a breaker-open error", i, err)
			}
		}
		if f.count() != 4 {
			t.Fatalf("half-open: server saw %d requests, want 3 + one probe", f.count())
		}
		close(probe)
		if err := <-probeErr; err != nil {
			t.Fatalf("probe: %v", err)
		}
		if c.State() != StateClosed {
			t.Fatalf("after a good probe: %v, want closed", c.State())
		}
		if _, err := get(t.Context(), c); err != nil || f.count() != 5 {
			t.Fatalf("closed again: %v, %d requests, want nil, 5", err, f.count())
		}
		want := []string{"closed>open", "open>half-open", "half-open>closed"}
		if got := tr.list(); !slices.Equal(got, want) {
			t.Fatalf("OnStateChange got %v, want %v", got, want)
		}
		var logged []string
		for line := range strings.Lines(logs.String()) {
			if strings.Contains(line, "circuit breaker state change") {
				from, to := attr(line, "from"), attr(line, "to")
				logged = append(logged, from+">"+to)
				if attr(line, "endpoint") != "dataverse.test" {
					t.Errorf("log line without the endpoint: %s", line)
				}
				if to == "open" && attr(line, "until") == "" {
					t.Errorf("open without until: %s", line)
				}
			}
		}
		if !slices.Equal(logged, want) {
			t.Fatalf("logged %v, want %v\n%s", logged, want, logs.String())
		}
	})
}

// attr returns the value of key=value in a slog text line.
func attr(line, key string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

// TestBreakerOpenPeriodGrows fails the probes: each re-opening doubles the
// open period up to MaxOpenFor, and a good probe resets it. At each step
// the breaker refuses until the last instant and the probe is sent exactly
// when the period ends.
func TestBreakerOpenPeriodGrows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var tr transitions
		healthy := false
		c, f := newFake(t, breakerOptions(&tr, nil), func(n int, w http.ResponseWriter, r *http.Request) error {
			if healthy {
				answer(w, 200, "")
			} else {
				answer(w, 500, "")
			}
			return nil
		})
		trip := func() {
			t.Helper()
			for range 3 {
				get(t.Context(), c)
			}
			if c.State() != StateOpen {
				t.Fatalf("not open after 3 failures: %v", c.State())
			}
		}
		// waitOut checks the breaker refuses for d after the last request,
		// then sends the probe; ok is the probe's answer.
		waitOut := func(d time.Duration, ok bool) {
			t.Helper()
			healthy = ok
			n := f.count()
			last := f.seen[n-1]
			time.Sleep(d - time.Nanosecond - time.Since(last))
			if _, err := get(t.Context(), c); !IsBreakerOpen(err) || f.count() != n {
				t.Fatalf("%v after opening: %v, %d requests, want breaker-open, %d", d-time.Nanosecond, err, f.count(), n)
			}
			time.Sleep(time.Nanosecond)
			_, err := get(t.Context(), c)
			if f.count() != n+1 || f.seen[n].Sub(last) != d {
				t.Fatalf("probe: %d requests, want %d, sent %v after opening, want %v", f.count(), n+1, f.seen[n].Sub(last), d)
			}
			if (err == nil) != ok {
				t.Fatalf("probe answered %v", err)
			}
		}
		trip()
		waitOut(5*time.Second, false)  // first trip: OpenFor
		waitOut(10*time.Second, false) // doubled
		waitOut(12*time.Second, false) // 20s capped at MaxOpenFor
		waitOut(12*time.Second, true)  // still capped; this probe closes it
		if c.State() != StateClosed {
			t.Fatalf("after a good probe: %v", c.State())
		}
		healthy = false
		trip()
		waitOut(5*time.Second, true) // closing reset the period
		want := []string{"closed>open"}
		for range 3 {
			want = append(want, "open>half-open", "half-open>open")
		}
		want = append(want, "open>half-open", "half-open>closed", "closed>open", "open>half-open", "half-open>closed")
		if got := tr.list(); !slices.Equal(got, want) {
			t.Fatalf("OnStateChange got\n%v, want\n%v", got, want)
		}
	})
}

// TestBreakerHonoursRetryAfter: a 429 or 503 whose Retry-After outlasts
// OpenFor keeps the breaker open until the Retry-After; nothing is sent
// before it, the probe exactly at it.
func TestBreakerHonoursRetryAfter(t *testing.T) {
	for _, status := range []int{429, 503} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var tr transitions
				o := breakerOptions(&tr, nil)
				o.Breaker.Failures = 1
				c, f := newFake(t, o, func(n int, w http.ResponseWriter, r *http.Request) error {
					if n == 0 {
						answer(w, status, eventual.CodeRequestsLimitExceeded, "Retry-After", "30")
						return nil
					}
					answer(w, 200, "")
					return nil
				})
				t0 := time.Now()
				if _, err := get(t.Context(), c); err == nil {
					t.Fatal("first request succeeded")
				}
				for _, at := range []time.Duration{5 * time.Second, 30*time.Second - time.Nanosecond} {
					time.Sleep(at - time.Since(t0))
					if c.State() != StateOpen {
						t.Fatalf("at %v: %v, want open", at, c.State())
					}
					if _, err := get(t.Context(), c); !IsBreakerOpen(err) || f.count() != 1 {
						t.Fatalf("at %v: %v, %d requests; want breaker-open, 1", at, err, f.count())
					}
				}
				time.Sleep(time.Nanosecond)
				if _, err := get(t.Context(), c); err != nil {
					t.Fatal(err)
				}
				if got := f.times(t0); !slices.Equal(got, []time.Duration{0, 30 * time.Second}) {
					t.Fatalf("requests at %v, want [0 30s]", got)
				}
			})
		})
	}
}

// TestBreakerRetryAfterOfALateAnswer: a request sent while the breaker was
// closed answers 503 with a Retry-After after another failure has opened
// it. The breaker must not half-open before that Retry-After either.
func TestBreakerRetryAfterOfALateAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var tr transitions
		o := breakerOptions(&tr, nil)
		o.Breaker.Failures = 1
		slow := make(chan struct{})
		c, f := newFake(t, o, func(n int, w http.ResponseWriter, r *http.Request) error {
			switch n {
			case 0:
				<-slow
				answer(w, 503, "", "Retry-After", "60")
			case 1:
				answer(w, 500, "")
			default:
				answer(w, 200, "")
			}
			return nil
		})
		t0 := time.Now()
		late := make(chan error)
		go func() { _, err := get(t.Context(), c); late <- err }()
		synctest.Wait()
		if _, err := get(t.Context(), c); err == nil || c.State() != StateOpen {
			t.Fatalf("second request: %v, state %v; want the 500, open", err, c.State())
		}
		close(slow)
		if err := <-late; err == nil {
			t.Fatal("late request succeeded")
		}
		time.Sleep(60*time.Second - time.Nanosecond)
		if _, err := get(t.Context(), c); !IsBreakerOpen(err) || f.count() != 2 {
			t.Fatalf("before the Retry-After: %v, %d requests; want breaker-open, 2", err, f.count())
		}
		time.Sleep(time.Nanosecond)
		if _, err := get(t.Context(), c); err != nil {
			t.Fatal(err)
		}
		if got := f.times(t0); !slices.Equal(got, []time.Duration{0, 0, 60 * time.Second}) {
			t.Fatalf("requests at %v, want [0 0 60s]", got)
		}
	})
}

// blockingHandler is a slog handler whose first record waits for release:
// a slow log sink.
type blockingHandler struct {
	slog.Handler
	first   atomic.Bool
	release chan struct{}
}

func (h *blockingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *blockingHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.first.CompareAndSwap(false, true) {
		<-h.release
	}
	return nil
}

// TestBreakerReportsInOrder: the goroutine that trips the breaker is slow
// to report it (its log write blocks); meanwhile another caller's probe
// half-opens and closes the breaker. OnStateChange must still see the
// changes in the order they happened.
func TestBreakerReportsInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var tr transitions
		o := breakerOptions(&tr, nil)
		o.Breaker.Failures = 1
		h := &blockingHandler{Handler: slog.DiscardHandler, release: make(chan struct{})}
		o.Logger = slog.New(h)
		c, _ := newFake(t, o, func(n int, w http.ResponseWriter, r *http.Request) error {
			if n == 0 {
				answer(w, 500, "")
			} else {
				answer(w, 200, "")
			}
			return nil
		})
		tripped := make(chan struct{})
		go func() { get(t.Context(), c); close(tripped) }()
		synctest.Wait() // tripped; its report is stuck in the log
		time.Sleep(5 * time.Second)
		done := make(chan struct{})
		go func() { get(t.Context(), c); close(done) }()
		synctest.Wait()
		close(h.release)
		<-tripped
		<-done
		synctest.Wait()
		want := []string{"closed>open", "open>half-open", "half-open>closed"}
		if got := tr.list(); !slices.Equal(got, want) {
			t.Fatalf("OnStateChange got %v, want %v", got, want)
		}
	})
}

// TestBreakerCallbackMayCallTheClient: OnStateChange runs outside the
// client's locks, so it may ask the client its state or send a request
// without deadlocking, and the changes those cause are reported too.
func TestBreakerCallbackMayCallTheClient(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var tr transitions
		var c *Client
		o := breakerOptions(&tr, nil)
		o.Breaker.Failures = 1
		var states []State
		o.OnStateChange = func(from, to State) {
			tr.record(from, to)
			states = append(states, c.State())
			if to == StateOpen && len(states) == 1 {
				time.Sleep(5 * time.Second)
				get(context.Background(), c) // the probe, from inside the callback
			}
		}
		c, f := newFake(t, o, func(n int, w http.ResponseWriter, r *http.Request) error {
			if n == 0 {
				answer(w, 500, "")
			} else {
				answer(w, 200, "")
			}
			return nil
		})
		get(t.Context(), c)
		want := []string{"closed>open", "open>half-open", "half-open>closed"}
		if got := tr.list(); !slices.Equal(got, want) || f.count() != 2 {
			t.Fatalf("OnStateChange got %v, %d requests; want %v, 2", got, f.count(), want)
		}
		if !slices.Equal(states, []State{StateOpen, StateClosed, StateClosed}) {
			t.Fatalf("State() inside the callback: %v", states)
		}
	})
}

// TestRetryWaitEndsWithTheOpenPeriod: a call whose failures trip the
// breaker does not sleep its (long) backoff past the open period, while
// nothing else probes: its next attempt is the probe, sent the moment the
// period ends, and when the peer is back the call succeeds then. A
// Retry-After longer than the period is still honoured to the instant.
func TestRetryWaitEndsWithTheOpenPeriod(t *testing.T) {
	for _, retryAfter := range []string{"", "3"} {
		t.Run("retry-after="+retryAfter, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var tr transitions
				o := breakerOptions(&tr, nil)
				o.MaxAttempts = 10
				o.RetryBase, o.RetryMax = time.Minute, time.Minute
				o.Breaker = BreakerOptions{Failures: 3, OpenFor: time.Second, MaxOpenFor: 4 * time.Second}
				c, f := newFake(t, o, func(n int, w http.ResponseWriter, r *http.Request) error {
					switch {
					case n < 2:
						answer(w, 503, "")
					case n == 2 && retryAfter != "":
						answer(w, 429, "0x80072322", "Retry-After", retryAfter)
					case n == 2:
						answer(w, 503, "")
					default:
						answer(w, 200, "")
					}
					return nil
				})
				// The first two retries wait their backoff of up to a
				// minute (the breaker is closed); the third would too.
				start := time.Now()
				done := make(chan error, 1)
				go func() { _, err := get(t.Context(), c); done <- err }()
				var err error
				select {
				case err = <-done:
				case <-time.After(10 * time.Minute):
					t.Fatal("the call did not end")
				}
				if err != nil {
					t.Fatalf("call: %v", err)
				}
				seen := f.times(start)
				if len(seen) != 4 {
					t.Fatalf("requests at %v, want 3 failures and the probe", seen)
				}
				want := time.Second
				if retryAfter != "" {
					want = 3 * time.Second
				}
				if gap := seen[3] - seen[2]; gap != want {
					t.Errorf("the probe came %v after the trip, want %v (requests at %v)", gap, want, seen)
				}
			})
		})
	}
}
