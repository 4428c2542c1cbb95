package client

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"sync"
	"testing"
	"time"
)

// errRefused makes the fake fail before the request is written (a dial
// error); errDropped fails after it was written (the connection dropped).
var (
	errRefused = errors.New("connection refused")
	errDropped = errors.New("connection reset after the request was sent")
)

// fake is an in-memory Web API endpoint: an http.RoundTripper that calls
// handle and records when each request arrived. It works inside a
// testing/synctest bubble, where loopback sockets do not.
type fake struct {
	mu     sync.Mutex
	handle func(n int, w http.ResponseWriter, r *http.Request) error
	seen   []time.Time
	paths  []string
	auths  []string
}

func (f *fake) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	n := len(f.seen)
	f.seen = append(f.seen, time.Now())
	f.paths = append(f.paths, r.URL.Path)
	f.auths = append(f.auths, r.Header.Get("Authorization"))
	f.mu.Unlock()
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
	}
	rec := httptest.NewRecorder()
	err := f.handle(n, rec, r)
	if errors.Is(err, errRefused) {
		return nil, err
	}
	if tr := httptrace.ContextClientTrace(r.Context()); tr != nil && tr.WroteRequest != nil {
		tr.WroteRequest(httptrace.WroteRequestInfo{})
	}
	if err != nil {
		return nil, err
	}
	return rec.Result(), nil
}

// times returns the arrival times, relative to t0.
func (f *fake) times(t0 time.Time) []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	var d []time.Duration
	for _, s := range f.seen {
		d = append(d, s.Sub(t0))
	}
	return d
}

func (f *fake) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.seen)
}

// newFake returns a client over a fake endpoint; o's HTTPClient and Logger
// are set.
func newFake(t *testing.T, o Options, handle func(n int, w http.ResponseWriter, r *http.Request) error) (*Client, *fake) {
	t.Helper()
	f := &fake{handle: handle}
	o.HTTPClient = &http.Client{Transport: f}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	c, err := New("http://dataverse.test", o)
	if err != nil {
		t.Fatal(err)
	}
	return c, f
}

// answer writes a status with Dataverse's error body and headers.
func answer(w http.ResponseWriter, status int, code string, header ...string) {
	for i := 0; i+1 < len(header); i += 2 {
		w.Header().Set(header[i], header[i+1])
	}
	if status >= 400 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, `{"error":{"code":"`+code+`","message":"`+http.StatusText(status)+`"}}`)
		return
	}
	w.WriteHeader(status)
}

// get sends a GET of accounts.
func get(ctx context.Context, c *Client) (*Response, error) {
	return c.Do(ctx, &Request{Method: http.MethodGet, Path: "accounts"})
}

// noRetryJitter makes retries deterministic: RetryBase tiny.
func quick(o Options) Options {
	o.RetryBase, o.RetryMax = time.Millisecond, time.Millisecond
	return o
}
