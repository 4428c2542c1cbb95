package throttle_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/eventual-pp/eventual/throttle"
)

// get sends one request through h as the user with token and returns the
// response.
func get(h http.Handler, token string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "/api/data/v9.2/accounts", nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// refused checks a 429 with the code and a Retry-After of secs seconds.
func refused(t *testing.T, w *httptest.ResponseRecorder, code string, secs int) {
	t.Helper()
	var body struct {
		Error struct{ Code, Message string }
	}
	json.Unmarshal(w.Body.Bytes(), &body)
	if w.Code != http.StatusTooManyRequests || body.Error.Code != code || w.Header().Get("Retry-After") != strconv.Itoa(secs) {
		t.Fatalf("got %d %s Retry-After %q (%s); want 429 %s Retry-After %d", w.Code, body.Error.Code, w.Header().Get("Retry-After"), body.Error.Message, code, secs)
	}
}

func ok(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("got %d %s, want 200", w.Code, w.Body)
	}
}

var served = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) })

// TestRequestLimitAtItsBoundary: the window holds exactly Requests
// requests; the next is refused with 0x80072322 and a Retry-After until
// the oldest leaves the window; after exactly that wait it succeeds, and
// a second earlier it does not. The remaining-requests header counts
// down.
func TestRequestLimitAtItsBoundary(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := throttle.New(throttle.Limits{Requests: 5, ExecutionTime: time.Hour, Concurrent: 10, Window: 300 * time.Second}, throttle.Options{})
		h := g.Handler(served)
		for i := range 5 {
			w := get(h, "a")
			ok(t, w)
			if got := w.Header().Get("x-ms-ratelimit-burst-remaining-xrm-requests"); got != strconv.Itoa(4-i) {
				t.Errorf("request %d: burst remaining %q, want %d", i+1, got, 4-i)
			}
			time.Sleep(10 * time.Second)
		}
		// 50 s after the first request: it leaves the window in 250 s.
		w := get(h, "a")
		refused(t, w, throttle.CodeRequests, 250)
		if got := w.Header().Get("x-ms-ratelimit-burst-remaining-xrm-requests"); got != "0" {
			t.Errorf("burst remaining %q when refused, want 0", got)
		}
		var body struct{ Error struct{ Message string } }
		json.Unmarshal(w.Body.Bytes(), &body)
		if want := "Number of requests exceeded the limit of 5 over time window of 300 seconds."; body.Error.Message != want {
			t.Errorf("message %q, want %q", body.Error.Message, want)
		}
		time.Sleep(249 * time.Second)
		refused(t, get(h, "a"), throttle.CodeRequests, 1)
		time.Sleep(time.Second)
		ok(t, get(h, "a"))
		// The window is full again; the next frees when the second
		// request leaves: 10 s after the first.
		refused(t, get(h, "a"), throttle.CodeRequests, 10)
	})
}

// TestExecutionTimeLimit: the request that passes the combined execution
// time still runs; the next ones are refused with 0x80072321 until
// enough time leaves the window; then one succeeds.
func TestExecutionTimeLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := throttle.New(throttle.Limits{Requests: 100, ExecutionTime: 250 * time.Second, Concurrent: 10, Window: 300 * time.Second}, throttle.Options{})
		slow := g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { time.Sleep(100 * time.Second) }))
		for range 3 { // 100 s, 200 s, then 300 s: past the limit once ended
			ok(t, get(slow, "a"))
		}
		w := get(slow, "a")
		// Ended at 100, 200 and 300 s; now 300 s. Dropping the first
		// (ended at 100 s) leaves 200 s < 250 s: free at 100 + 300 = 400 s.
		refused(t, w, throttle.CodeExecutionTime, 100)
		if got := w.Header().Get("x-ms-ratelimit-time-remaining-xrm-requests"); got != "0.00" {
			t.Errorf("time remaining %q, want 0.00", got)
		}
		time.Sleep(99 * time.Second)
		refused(t, get(slow, "a"), throttle.CodeExecutionTime, 1)
		time.Sleep(time.Second)
		w = get(g.Handler(served), "a")
		ok(t, w)
		if got := w.Header().Get("x-ms-ratelimit-time-remaining-xrm-requests"); got != "50.00" {
			t.Errorf("time remaining %q, want 50.00 (250 s less the 200 s in the window)", got)
		}
	})
}

// TestConcurrencyLimit: with Concurrent requests in flight the next is
// refused at once with 0x80072326; once one ends, a request succeeds.
func TestConcurrencyLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := throttle.New(throttle.Limits{Requests: 100, ExecutionTime: time.Hour, Concurrent: 2, Window: 300 * time.Second}, throttle.Options{})
		release := make(chan struct{})
		blocked := g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() { ok(t, get(blocked, "a")) })
		}
		synctest.Wait() // both in flight
		w := get(blocked, "a")
		refused(t, w, throttle.CodeConcurrent, 1)
		ok(t, get(g.Handler(served), "b")) // another user is not limited
		release <- struct{}{}              // one of the two ends
		synctest.Wait()
		ok(t, get(g.Handler(served), "a"))
		close(release)
		wg.Wait()
	})
}

// TestUsersDoNotThrottleEachOther: one user's full window leaves another
// user's requests alone.
func TestUsersDoNotThrottleEachOther(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := throttle.New(throttle.Limits{Requests: 3, ExecutionTime: time.Hour, Concurrent: 10, Window: 300 * time.Second}, throttle.Options{}).Handler(served)
		for range 3 {
			ok(t, get(h, "alice"))
		}
		refused(t, get(h, "alice"), throttle.CodeRequests, 300)
		for range 3 {
			ok(t, get(h, "bob"))
		}
		ok(t, get(h, "")) // anonymous, a third user
		refused(t, get(h, "bob"), throttle.CodeRequests, 300)
		// The same token, spelt otherwise, is the same user.
		for _, header := range []string{"bearer bob", "BEARER  bob", "Bearer bob "} {
			r := httptest.NewRequest("GET", "/api/data/v9.2/accounts", nil)
			r.Header.Set("Authorization", header)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusTooManyRequests {
				t.Errorf("%q: %d, want 429 (bob's window is full)", header, w.Code)
			}
		}
	})
}

// TestFormatSeconds: Dataverse's form of the execution time left.
func TestFormatSeconds(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{1200 * time.Second, "1,200.00"},
		{1199*time.Second + 460*time.Millisecond, "1,199.46"},
		{0, "0.00"},
		{999*time.Second + 999*time.Millisecond, "1,000.00"},
		{1234567 * time.Second, "1,234,567.00"},
	} {
		if got := throttle.FormatSeconds(tc.d); got != tc.want {
			t.Errorf("FormatSeconds(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
