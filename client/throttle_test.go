package client

import (
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/eventual-pp/eventual"
)

// TestSharedPause: one 429 with Retry-After, with each of the three
// service-protection codes, pauses every request of the client; nothing
// is sent before it ends, and then all go.
func TestSharedPause(t *testing.T) {
	for _, code := range serviceProtection {
		t.Run(code, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				t0 := time.Now()
				c, f := newFake(t, Options{Concurrency: 50}, func(n int, w http.ResponseWriter, r *http.Request) error {
					if n == 0 {
						answer(w, 429, code, "Retry-After", "5")
						return nil
					}
					answer(w, 200, "")
					return nil
				})
				var wg sync.WaitGroup
				wg.Go(func() {
					if _, err := get(t.Context(), c); err != nil {
						t.Error(err)
					}
				})
				synctest.Wait() // the 429 has arrived; its caller waits out the pause
				time.Sleep(time.Second)
				const callers = 30
				for range callers {
					wg.Go(func() {
						if _, err := get(t.Context(), c); err != nil {
							t.Error(err)
						}
					})
				}
				synctest.Wait()
				if n := f.count(); n != 1 {
					t.Fatalf("%d requests sent during the pause", n)
				}
				wg.Wait()
				got := f.times(t0)
				if len(got) != callers+2 {
					t.Fatalf("%d requests, want %d", len(got), callers+2)
				}
				for _, d := range got[1:] {
					if d != 5*time.Second {
						t.Fatalf("a request went at %v, want 5s: %v", d, got)
					}
				}
				if !c.PausedUntil().Equal(t0.Add(5 * time.Second)) {
					t.Fatalf("paused until %v", c.PausedUntil().Sub(t0))
				}
			})
		})
	}
}

// TestDopHintLimitsConcurrency: the first x-ms-dop-hint sets the limit, and
// no more requests than that are ever in flight.
func TestDopHintLimitsConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		inFlight, most := 0, 0
		c, f := newFake(t, Options{Concurrency: 1}, func(n int, w http.ResponseWriter, r *http.Request) error {
			mu.Lock()
			inFlight++
			most = max(most, inFlight)
			mu.Unlock()
			time.Sleep(time.Second)
			mu.Lock()
			inFlight--
			mu.Unlock()
			answer(w, 200, "", "x-ms-dop-hint", "3")
			return nil
		})
		if _, err := get(t.Context(), c); err != nil {
			t.Fatal(err)
		}
		if c.Concurrency() != 3 {
			t.Fatalf("limit %d after the hint, want 3", c.Concurrency())
		}
		most = 0
		var wg sync.WaitGroup
		for range 30 {
			wg.Go(func() {
				if _, err := get(t.Context(), c); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if most != 3 || f.count() != 31 {
			t.Fatalf("at most %d in flight, %d requests; want 3 and 31", most, f.count())
		}
	})
}

// TestAIMD: a 429 halves the limit once for the requests in flight with
// it; successes add about one per round, up to the ceiling.
func TestAIMD(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		throttle := true
		var mu sync.Mutex
		c, _ := newFake(t, quick(Options{Concurrency: 16, MaxConcurrency: 16, MaxAttempts: 1, Breaker: BreakerOptions{Failures: 1000}}), func(n int, w http.ResponseWriter, r *http.Request) error {
			time.Sleep(time.Second)
			mu.Lock()
			th := throttle
			mu.Unlock()
			if th {
				answer(w, 429, eventual.CodeConcurrencyLimitExceeded)
				return nil
			}
			answer(w, 200, "")
			return nil
		})
		var wg sync.WaitGroup
		for range 8 { // eight in flight together, all throttled: one halving
			wg.Go(func() { get(t.Context(), c) })
		}
		wg.Wait()
		if got := c.Concurrency(); got != 8 {
			t.Fatalf("limit %d after one burst of 429s, want 8", got)
		}
		get(t.Context(), c) // sent after the halving: halves again
		if got := c.Concurrency(); got != 4 {
			t.Fatalf("limit %d, want 4", got)
		}
		mu.Lock()
		throttle = false
		mu.Unlock()
		for range 4 { // 4 + 4·(1/limit) ≈ 5
			get(t.Context(), c)
		}
		if got := c.Concurrency(); got != 4 && got != 5 {
			t.Fatalf("limit %d after four successes, want 4 or 5", got)
		}
		for range 200 {
			get(t.Context(), c)
		}
		if got := c.Concurrency(); got != 16 {
			t.Fatalf("limit %d after many successes", got)
		}
	})
}
