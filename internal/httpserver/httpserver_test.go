package httpserver_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eventual-pp/eventual/internal/httpserver"
)

// api stands in for the Web API: it names every request it gets.
var api = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusNotFound)
	io.WriteString(w, "api "+r.Method+" "+r.URL.EscapedPath())
})

func text(h string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, h) })
}

// serve sends one request to h and returns the status and the body.
func serve(h http.Handler, method, target string) (int, string, http.Header) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec.Code, rec.Body.String(), rec.Header()
}

// Routes are exact paths with a method (GET also takes HEAD) or none;
// every other request, whatever its path, goes to the API.
func TestRoutes(t *testing.T) {
	s := httpserver.New(api)
	s.Handle("GET /metrics", text("metrics"))
	s.Handle("/status", text("status"))
	s.HandlePrefix("GET /status/", text("status subtree"))
	h := s.Handler()
	for _, c := range []struct {
		method, target string
		status         int
		body           string
	}{
		{"GET", "/healthz", 200, `{"status":"ok"}`},
		{"HEAD", "/healthz", 200, `{"status":"ok"}`},
		{"POST", "/healthz", 404, "api POST /healthz"},
		{"GET", "/healthz/", 404, "api GET /healthz/"},
		{"GET", "//healthz", 404, "api GET //healthz"},
		{"GET", "/healthz?x=1", 200, `{"status":"ok"}`},
		{"GET", "/metrics", 200, "metrics"},
		{"DELETE", "/metrics", 404, "api DELETE /metrics"},
		{"GET", "/status", 200, "status"},
		{"POST", "/status", 200, "status"},
		{"GET", "/status/data.json", 200, "status subtree"},
		{"HEAD", "/status/assets/a.js", 200, "status subtree"},
		{"POST", "/status/data.json", 404, "api POST /status/data.json"},
		{"GET", "/statusx", 404, "api GET /statusx"},
		{"GET", "/api/data/v9.2/accounts", 404, "api GET /api/data/v9.2/accounts"},
		{"POST", "/api/data/v9.2/./accounts", 404, "api POST /api/data/v9.2/./accounts"},
		{"GET", "/", 404, "api GET /"},
		{"GET", "/%68ealthz", 404, "api GET /%68ealthz"},
	} {
		status, body, _ := serve(h, c.method, c.target)
		if status != c.status || body != c.body {
			t.Errorf("%s %s: %d %q, want %d %q", c.method, c.target, status, body, c.status, c.body)
		}
	}
	if _, _, hdr := serve(h, "GET", "/healthz"); hdr.Get("Content-Type") != "application/json" {
		t.Errorf("healthz Content-Type %q", hdr.Get("Content-Type"))
	}
}

// Once Shutdown has begun, the probe answers 503.
func TestHealthWhileStopping(t *testing.T) {
	s := httpserver.New(api)
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if status, body, _ := serve(s.Handler(), "GET", "/healthz"); status != 503 || body != `{"status":"stopping"}` {
		t.Errorf("healthz while stopping: %d %q", status, body)
	}
}

func TestHandleRefuses(t *testing.T) {
	for _, pattern := range []string{
		"metrics", "GET metrics", "/metrics/", "/", "/{name}", "/a//b", "GET  /metrics",
		"/api", "/api/data/v9.2/x", "GET /api/", "/healthz", "HEAD /healthz",
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Handle(%q) did not panic", pattern)
				}
			}()
			httpserver.New(api).Handle(pattern, text("x"))
		}()
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Handle with a nil handler did not panic")
			}
		}()
		httpserver.New(api).Handle("/x", nil)
	}()
}

func TestHandlePrefixRefuses(t *testing.T) {
	for _, pattern := range []string{"/status", "/", "GET /", "/api/", "/api/data/", "/healthz/", "status/", "/a//b/"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("HandlePrefix(%q) did not panic", pattern)
				}
			}()
			httpserver.New(api).HandlePrefix(pattern, text("x"))
		}()
	}
}

func TestServeBeforeListen(t *testing.T) {
	if err := httpserver.New(api).Serve(); err == nil {
		t.Error("Serve before Listen returned nil")
	}
}

// On a real listener: the root URL, no redirects, the request-head limit
// net/http applies itself, and a clean shutdown.
func TestListenAndServe(t *testing.T) {
	s := httpserver.New(api)
	s.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s.MaxHeaderBytes = 4 << 10
	s.Handle("GET /metrics", text("metrics"))
	started, release := make(chan struct{}), make(chan struct{})
	s.Handle("GET /slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "slow")
	}))
	root, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(root, "http://127.0.0.1:") || !strings.HasSuffix(root, "/") {
		t.Errorf("root URL %q", root)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string, header ...string) (int, string) {
		req, err := http.NewRequest("GET", root+strings.TrimPrefix(path, "/"), nil)
		if err != nil {
			t.Error(err)
			return 0, ""
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Error(err)
			return 0, ""
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if loc := resp.Header.Get("Location"); loc != "" {
			t.Errorf("GET %s redirected to %s", path, loc)
		}
		return resp.StatusCode, string(body)
	}
	for _, c := range []struct {
		path, body string
	}{
		{"/healthz", `{"status":"ok"}`},
		{"/metrics", "metrics"},
		{"//metrics", "api GET //metrics"},
		{"/x/../metrics", "api GET /x/../metrics"},
	} {
		if _, body := get(c.path); body != c.body {
			t.Errorf("GET %s: %q, want %q", c.path, body, c.body)
		}
	}
	// Past MaxHeaderBytes (and net/http's slack of 4 KB) net/http answers
	// 431 itself; no handler runs.
	if status, body := get("/metrics", "X-Big", strings.Repeat("h", 16<<10)); status != http.StatusRequestHeaderFieldsTooLarge || body == "metrics" {
		t.Errorf("huge header: %d %q", status, body)
	}

	// Shutdown lets a request in flight finish.
	resp := make(chan string, 1)
	go func() {
		_, body := get("/slow")
		resp <- body
	}()
	<-started
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stopped <- s.Shutdown(ctx)
	}()
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned (%v) with a request in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if body := <-resp; body != "slow" {
		t.Errorf("request in flight: %q", body)
	}
	if err := <-stopped; err != nil {
		t.Errorf("shutdown: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("serve after shutdown: %v", err)
	}
	if _, err := http.Get(root + "healthz"); err == nil {
		t.Error("the server answered after shutdown")
	}
}
