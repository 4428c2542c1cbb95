package client

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/eventual-pp/eventual"
)

// loopback is a real HTTP server on 127.0.0.1 that misbehaves as first
// says on its first request and answers 200 after; it records the arrival
// of each request.
type loopback struct {
	mu   sync.Mutex
	seen []time.Time
}

func (l *loopback) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seen)
}

func newLoopback(t *testing.T, o Options, first func(w http.ResponseWriter, r *http.Request)) (*Client, *loopback) {
	t.Helper()
	l := &loopback{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		l.mu.Lock()
		n := len(l.seen)
		l.seen = append(l.seen, time.Now())
		l.mu.Unlock()
		if n == 0 {
			first(w, r)
			return
		}
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"value":[]}`)
	}))
	t.Cleanup(srv.Close)
	o.HTTPClient = srv.Client()
	o.Logger = slog.New(slog.DiscardHandler)
	o.RetryBase, o.RetryMax = time.Millisecond, 5*time.Millisecond
	c, err := New(srv.URL, o)
	if err != nil {
		t.Fatal(err)
	}
	return c, l
}

// hangUp reads the request, then closes the connection without answering.
func hangUp(w http.ResponseWriter, r *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	conn.Close()
}

// slow answers after 2s, or when the client gives up.
func slow(w http.ResponseWriter, r *http.Request) {
	select {
	case <-time.After(2 * time.Second):
	case <-r.Context().Done():
	}
}

// TestLoopbackFaults sends one request to a real server whose first
// answer fails, and checks what the server saw: a request that may have
// been applied is sent again only when it is idempotent.
func TestLoopbackFaults(t *testing.T) {
	tests := []struct {
		name   string
		method string
		replay Replay
		first  func(w http.ResponseWriter, r *http.Request)
		sent   int
		ok     bool
	}{
		{"hang up GET", "GET", ReplayAuto, hangUp, 2, true},
		{"hang up PATCH", "PATCH", ReplayAuto, hangUp, 2, true},
		{"hang up POST", "POST", ReplayAuto, hangUp, 1, false},
		{"hang up POST never", "POST", ReplayNever, hangUp, 1, false},
		{"hang up POST safe", "POST", ReplaySafe, hangUp, 2, true},
		{"slow GET", "GET", ReplayAuto, slow, 2, true},
		{"slow POST", "POST", ReplayAuto, slow, 1, false},
		{"503 POST", "POST", ReplayAuto, func(w http.ResponseWriter, r *http.Request) { answer(w, 503, "") }, 2, true},
		{"503 GET", "GET", ReplayAuto, func(w http.ResponseWriter, r *http.Request) { answer(w, 503, "") }, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, l := newLoopback(t, Options{Timeout: 100 * time.Millisecond}, tt.first)
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			start := time.Now()
			resp, err := c.Do(ctx, &Request{Method: tt.method, Path: "accounts", Body: []byte(`{"name":"x"}`), Replay: tt.replay})
			if elapsed := time.Since(start); elapsed > time.Second {
				t.Errorf("took %v: the attempt timeout did not cut the slow answer", elapsed)
			}
			if l.count() != tt.sent {
				t.Fatalf("server saw %d requests, want %d (err %v)", l.count(), tt.sent, err)
			}
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				if resp.Attempts != 2 || string(resp.Body) != `{"value":[]}` {
					t.Fatalf("attempts %d body %q", resp.Attempts, resp.Body)
				}
				return
			}
			e, ok := errors.AsType[*Error](err)
			if !ok || !e.MaybeApplied || e.StatusCode != 0 || eventual.ErrorKind(err) != eventual.KindUnavailable {
				t.Fatalf("err %#v, want a transport *Error that may have been applied", err)
			}
		})
	}
}

// TestLoopbackServiceProtection answers the first request 429 with each
// service-protection code and Retry-After: 1 on a real socket: the request
// is sent again once, no earlier than a second later. (The subtests run in
// parallel, so the whole takes about a second; the exact timing is
// TestServiceProtectionCodes's.)
func TestLoopbackServiceProtection(t *testing.T) {
	for _, code := range []string{eventual.CodeRequestsLimitExceeded, eventual.CodeExecutionTimeLimitExceeded, eventual.CodeConcurrencyLimitExceeded} {
		t.Run(code, func(t *testing.T) {
			t.Parallel()
			c, l := newLoopback(t, Options{}, func(w http.ResponseWriter, r *http.Request) {
				answer(w, 429, code, "Retry-After", "1")
			})
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			resp, err := c.Do(ctx, &Request{Method: "POST", Path: "accounts", Body: []byte(`{}`)})
			if err != nil {
				t.Fatal(err)
			}
			l.mu.Lock()
			defer l.mu.Unlock()
			if len(l.seen) != 2 || resp.Attempts != 2 {
				t.Fatalf("server saw %d requests, attempts %d; want 2", len(l.seen), resp.Attempts)
			}
			if gap := l.seen[1].Sub(l.seen[0]); gap < time.Second || gap > 2*time.Second {
				t.Fatalf("re-sent %v after the 429, want 1s", gap)
			}
		})
	}
}

// TestServiceProtectionCodes: each service-protection code with a
// Retry-After pauses every request of the client until exactly then, the
// one that got it and one started during the pause alike; with retries
// off the 429 is a throttled error carrying the Retry-After.
func TestServiceProtectionCodes(t *testing.T) {
	for _, code := range []string{eventual.CodeRequestsLimitExceeded, eventual.CodeExecutionTimeLimitExceeded, eventual.CodeConcurrencyLimitExceeded} {
		t.Run(code, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, f := newFake(t, Options{RetryBase: time.Hour, RetryMax: time.Hour}, func(n int, w http.ResponseWriter, r *http.Request) error {
					if n == 0 {
						answer(w, 429, code, "Retry-After", "1")
						return nil
					}
					answer(w, 200, "")
					return nil
				})
				t0 := time.Now()
				var wg sync.WaitGroup
				wg.Go(func() {
					if _, err := get(t.Context(), c); err != nil {
						t.Error(err)
					}
				})
				synctest.Wait() // the 429 is in; its caller waits
				time.Sleep(500 * time.Millisecond)
				wg.Go(func() {
					if _, err := get(t.Context(), c); err != nil {
						t.Error(err)
					}
				})
				wg.Wait()
				if got := f.times(t0); !slices.Equal(got, []time.Duration{0, time.Second, time.Second}) {
					t.Fatalf("requests at %v, want [0 1s 1s]", got)
				}

				once, _ := newFake(t, Options{MaxAttempts: 1}, func(n int, w http.ResponseWriter, r *http.Request) error {
					answer(w, 429, code, "Retry-After", "1")
					return nil
				})
				_, err := get(t.Context(), once)
				e, ok := errors.AsType[*Error](err)
				if !IsThrottled(err) || !ok || e.Code != code || e.RetryAfter != time.Second || !e.Retryable || e.MaybeApplied {
					t.Fatalf("err %#v, want a retryable throttled error with code %s and Retry-After 1s", err, code)
				}
			})
		})
	}
}
