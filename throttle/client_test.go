package throttle_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/eventual-pp/eventual/client"
	"github.com/eventual-pp/eventual/throttle"
)

// handlerTransport sends requests straight to a handler (no sockets, so
// that the test runs in a synctest bubble) and checks that no request
// arrives before a Retry-After the handler answered has passed.
type handlerTransport struct {
	h http.Handler
	t *testing.T

	mu        sync.Mutex
	notBefore time.Time // the end of the last Retry-After
	sent      int
	refused   int
}

func (tr *handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	now := time.Now()
	tr.mu.Lock()
	if now.Before(tr.notBefore) {
		tr.t.Errorf("a request at %v, before the Retry-After ending at %v", now, tr.notBefore)
	}
	tr.sent++
	tr.mu.Unlock()
	w := httptest.NewRecorder()
	tr.h.ServeHTTP(w, r)
	if w.Code == http.StatusTooManyRequests {
		secs, _ := strconv.Atoi(w.Header().Get("Retry-After"))
		tr.mu.Lock()
		tr.refused++
		if end := now.Add(time.Duration(secs) * time.Second); end.After(tr.notBefore) {
			tr.notBefore = end
		}
		tr.mu.Unlock()
	}
	return w.Result(), nil
}

// TestClientFinishesUnderTheLimits: the Go client creates 10,000 records
// through a guard whose window holds 500 requests per 30 s: every call
// succeeds, after the client waited out each 429's Retry-After without
// sending before it ends.
func TestClientFinishesUnderTheLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		limits := throttle.Limits{Requests: 500, ExecutionTime: time.Hour, Concurrent: 52, Window: 30 * time.Second}
		h := throttle.New(limits, throttle.Options{}).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(time.Millisecond)
			w.WriteHeader(http.StatusNoContent)
		}))
		tr := &handlerTransport{h: h, t: t}
		c, err := client.New("http://127.0.0.1:1/", client.Options{HTTPClient: &http.Client{Transport: tr}, Token: "job",
			Concurrency: 1, MaxConcurrency: 1, Logger: nil})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		start := time.Now()
		const n = 10000
		for i := range n {
			if _, err := c.Do(ctx, &client.Request{Method: "POST", Path: "accounts", Body: fmt.Appendf(nil, `{"name":"A %d"}`, i)}); err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
		}
		took := time.Since(start)
		// 10,000 requests at 500 per 30 s take at least 19 more windows.
		if took < 19*limits.Window {
			t.Errorf("10,000 requests in %v: faster than the limit allows", took)
		}
		if tr.refused == 0 || tr.sent != n+tr.refused {
			t.Errorf("sent %d, refused %d; want %d plus the refused ones, some refused", tr.sent, tr.refused, n)
		}
		t.Logf("10,000 records in %v (fake time), %d requests refused and retried", took, tr.refused)
	})
}
