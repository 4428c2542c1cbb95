package client

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/eventual-pp/eventual"
)

// TestRetryClassification sends one request whose first attempt fails as
// the case says and whose second succeeds, and counts the attempts.
func TestRetryClassification(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		replay   Replay
		fail     func(w http.ResponseWriter) error
		sent     int
		maybe    bool
		kind     eventual.Kind
		transien []string
	}{
		{"503 GET", "GET", ReplayAuto, status(503, ""), 2, false, 0, nil},
		{"503 POST", "POST", ReplayAuto, status(503, ""), 2, false, 0, nil},
		{"429 POST", "POST", ReplayAuto, status(429, eventual.CodeRequestsLimitExceeded), 2, false, 0, nil},
		{"502 GET", "GET", ReplayAuto, status(502, ""), 2, false, 0, nil},
		{"504 PATCH", "PATCH", ReplayAuto, status(504, ""), 2, false, 0, nil},
		{"502 POST create", "POST", ReplayAuto, status(502, ""), 1, true, eventual.KindUnavailable, nil},
		{"504 POST safe", "POST", ReplaySafe, status(504, ""), 2, false, 0, nil},
		{"504 GET never", "GET", ReplayNever, status(504, ""), 1, true, eventual.KindUnavailable, nil},
		{"404", "GET", ReplayAuto, status(404, eventual.CodeObjectDoesNotExist), 1, false, eventual.KindNotFound, nil},
		{"412", "PATCH", ReplayAuto, status(412, eventual.CodeConcurrencyVersionMismatch), 1, false, eventual.KindPrecondition, nil},
		{"500", "GET", ReplayAuto, status(500, eventual.CodeUnexpected), 1, false, eventual.KindInternal, nil},
		{"500 transient code", "GET", ReplayAuto, status(500, "0x80044151"), 2, false, 0, []string{"0x80044151"}},
		{"refused POST", "POST", ReplayAuto, fails(errRefused), 2, false, 0, nil},
		{"dropped GET", "GET", ReplayAuto, fails(errDropped), 2, false, 0, nil},
		{"dropped DELETE", "DELETE", ReplayAuto, fails(errDropped), 2, false, 0, nil},
		{"dropped POST create", "POST", ReplayAuto, fails(errDropped), 1, true, eventual.KindUnavailable, nil},
		{"dropped POST with key", "POST", ReplaySafe, fails(errDropped), 2, false, 0, nil},
		{"dropped $batch", "POST", ReplayAuto, fails(errDropped), 1, true, eventual.KindUnavailable, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, f := newFake(t, quick(Options{TransientCodes: tt.transien}), func(n int, w http.ResponseWriter, r *http.Request) error {
					if n == 0 {
						return tt.fail(w)
					}
					answer(w, http.StatusNoContent, "")
					return nil
				})
				_, err := c.Do(t.Context(), &Request{Method: tt.method, Path: "accounts", Body: []byte(`{}`), Replay: tt.replay})
				if f.count() != tt.sent {
					t.Fatalf("server saw %d requests, want %d (err %v)", f.count(), tt.sent, err)
				}
				if tt.sent == 2 {
					if err != nil {
						t.Fatal(err)
					}
					return
				}
				e, ok := errors.AsType[*Error](err)
				if !ok {
					t.Fatalf("error %T %v", err, err)
				}
				if e.MaybeApplied != tt.maybe || eventual.ErrorKind(err) != tt.kind {
					t.Fatalf("MaybeApplied %v kind %v: %v", e.MaybeApplied, eventual.ErrorKind(err), err)
				}
			})
		})
	}
}

func status(code int, dvCode string) func(w http.ResponseWriter) error {
	return func(w http.ResponseWriter) error { answer(w, code, dvCode); return nil }
}

func fails(err error) func(w http.ResponseWriter) error {
	return func(http.ResponseWriter) error { return err }
}

// TestRetryAfterExact: nothing is re-sent before Retry-After, in seconds or
// as an HTTP date, and the retry goes exactly when it ends.
func TestRetryAfterExact(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header func(now time.Time) string
		want   time.Duration
	}{
		{"429 seconds", 429, func(time.Time) string { return "7" }, 7 * time.Second},
		{"429 date", 429, func(now time.Time) string { return now.Add(10 * time.Second).UTC().Format(http.TimeFormat) }, 10 * time.Second},
		{"503 seconds", 503, func(time.Time) string { return "3" }, 3 * time.Second},
		{"429 zero", 429, func(time.Time) string { return "0" }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				t0 := time.Now()
				c, f := newFake(t, Options{RetryBase: time.Hour, RetryMax: time.Hour}, func(n int, w http.ResponseWriter, r *http.Request) error {
					if n == 0 {
						answer(w, tt.status, eventual.CodeRequestsLimitExceeded, "Retry-After", tt.header(time.Now()))
						return nil
					}
					answer(w, 200, "")
					return nil
				})
				resp, err := get(t.Context(), c)
				if err != nil {
					t.Fatal(err)
				}
				if got := f.times(t0); !slices.Equal(got, []time.Duration{0, tt.want}) || resp.Attempts != 2 {
					t.Fatalf("requests at %v, want [0 %v]", got, tt.want)
				}
			})
		})
	}
}

// TestRetriesRunOut returns the last error after MaxAttempts, and the
// waits grow with full jitter within their caps.
func TestRetriesRunOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		c, f := newFake(t, Options{MaxAttempts: 4, RetryBase: time.Second, RetryMax: 3 * time.Second, Breaker: BreakerOptions{Failures: 100}},
			func(n int, w http.ResponseWriter, r *http.Request) error { answer(w, 503, ""); return nil })
		_, err := get(t.Context(), c)
		if eventual.ErrorKind(err) != eventual.KindUnavailable || f.count() != 4 {
			t.Fatalf("%d requests, %v", f.count(), err)
		}
		got := f.times(t0)
		caps := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}
		for i, cp := range caps {
			if gap := got[i+1] - got[i]; gap < 0 || gap > cp {
				t.Fatalf("wait %d is %v, cap %v", i, gap, cp)
			}
		}
	})
}

// TestContextEndsRetries: a context that ends during a wait ends the call
// with its error, wrapping the last attempt's.
func TestContextEndsRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, f := newFake(t, Options{}, func(n int, w http.ResponseWriter, r *http.Request) error {
			answer(w, 429, eventual.CodeRequestsLimitExceeded, "Retry-After", "60")
			return nil
		})
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		_, err := get(ctx, c)
		if !errors.Is(err, context.DeadlineExceeded) || !IsThrottled(err) || f.count() != 1 {
			t.Fatalf("%d requests: %v", f.count(), err)
		}
	})
}

// TestAttemptTimeout: Options.Timeout ends a slow attempt; the caller's
// context is still live, so it counts as a failure and is retried.
func TestAttemptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		c, f := newFake(t, Options{Timeout: 2 * time.Second, MaxAttempts: 2, RetryBase: time.Nanosecond, RetryMax: time.Nanosecond},
			func(n int, w http.ResponseWriter, r *http.Request) error {
				select {
				case <-r.Context().Done():
					return r.Context().Err()
				case <-time.After(time.Hour):
				}
				return nil
			})
		_, err := get(t.Context(), c)
		if !errors.Is(err, context.DeadlineExceeded) || f.count() != 2 {
			t.Fatalf("%d requests: %v", f.count(), err)
		}
		if d := time.Since(t0); d < 4*time.Second || d > 4*time.Second+time.Millisecond {
			t.Fatalf("took %v", d)
		}
	})
}
