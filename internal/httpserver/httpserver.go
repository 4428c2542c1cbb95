package httpserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// Defaults for the http.Server settings.
const (
	// DefaultReadHeaderTimeout bounds the reading of a request head.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultReadTimeout bounds the reading of a whole request, body
	// included.
	DefaultReadTimeout = 5 * time.Minute
	// DefaultIdleTimeout is how long a kept-alive connection waits for its
	// next request.
	DefaultIdleTimeout = 2 * time.Minute
)

// HealthPath is the readiness probe's path.
const HealthPath = "/healthz"

// Server is the process's HTTP server: routes beside an API handler, and
// the http.Server that serves them. Set its fields and add routes before
// Listen.
type Server struct {
	// API serves every request no route claims: in eventual, the Web API
	// under /api/data/, and its error body for every other path.
	API http.Handler
	// Logger receives net/http's errors (a failed TLS handshake, a
	// panic in a handler), at level Warn; it defaults to slog.Default().
	Logger *slog.Logger
	// MaxHeaderBytes bounds the request head (request line and header
	// fields) net/http reads; past it net/http answers 431 itself, in
	// plain text, before any handler runs. Set it past the API's own
	// limits so that the API answers oversized requests with its own error
	// body. Zero means http.DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// ReadHeaderTimeout, ReadTimeout and IdleTimeout are the http.Server's
	// (zero: DefaultReadHeaderTimeout, DefaultReadTimeout,
	// DefaultIdleTimeout).
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	IdleTimeout       time.Duration
	// TLSCertFile and TLSKeyFile, when set, make the server speak HTTPS
	// (TLS 1.2 or later, HTTP/2 offered) with that certificate chain and
	// key, both PEM files; Listen loads them, so a bad file stops the
	// start.
	TLSCertFile, TLSKeyFile string

	routes   map[string]route // by path
	prefixes []prefixRoute    // subtrees (HandlePrefix)
	http     *http.Server
	listener net.Listener
	draining atomic.Bool
}

// A route is the handler of one exact path, for one method or for all
// (method "").
type route struct {
	method string
	h      http.Handler
}

// New returns a server that sends every request to api, but GET and HEAD
// /healthz, which it answers itself.
func New(api http.Handler) *Server {
	s := &Server{API: api}
	s.Handle("GET "+HealthPath, http.HandlerFunc(s.serveHealth))
	return s
}

// Handle routes the requests for one path to h. The pattern is a path,
// such as "/metrics", matched exactly against the path as sent (escaped,
// not cleaned): no wildcards, no subtrees, no redirects. It may start with
// a method and a space ("GET /metrics"); GET also matches HEAD. A request
// for the path with another method goes to the API, as does every path
// no route claims. Handle panics on a malformed pattern, a path under
// /api/, or a path already routed. Call it before Serve.
func (s *Server) Handle(pattern string, h http.Handler) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = "", pattern
	}
	switch {
	case h == nil:
		panic("httpserver: nil handler for " + pattern)
	case !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " {}") || strings.Contains(path, "//") || strings.HasSuffix(path, "/"):
		panic(fmt.Sprintf("httpserver: pattern %q is not a method and an exact path such as \"GET /metrics\"", pattern))
	case path == "/api" || strings.HasPrefix(path, "/api/"):
		panic(fmt.Sprintf("httpserver: pattern %q is under /api/, which the API serves", pattern))
	}
	if _, dup := s.routes[path]; dup {
		panic(fmt.Sprintf("httpserver: path %s is already routed", path))
	}
	if s.routes == nil {
		s.routes = map[string]route{}
	}
	s.routes[path] = route{method: method, h: h}
}

// prefixRoute is the handler of a subtree.
type prefixRoute struct {
	prefix string
	route
}

// HandlePrefix routes the requests for every path under prefix (which
// ends in "/", such as "/status/": "/status/data.json" and
// "/status/assets/x.js", not "/status" itself, which Handle routes) to h.
// The pattern may start with a method and a space, as for Handle; it may
// not be under /api/ or be "/" itself. Call it before Serve.
func (s *Server) HandlePrefix(pattern string, h http.Handler) {
	method, prefix, ok := strings.Cut(pattern, " ")
	if !ok {
		method, prefix = "", pattern
	}
	switch {
	case h == nil:
		panic("httpserver: nil handler for " + pattern)
	case !strings.HasPrefix(prefix, "/") || !strings.HasSuffix(prefix, "/") || prefix == "/" || strings.ContainsAny(prefix, " {}") || strings.Contains(prefix, "//"):
		panic(fmt.Sprintf("httpserver: pattern %q is not a method and a path prefix such as \"GET /status/\"", pattern))
	case strings.HasPrefix(prefix, "/api/") || prefix == HealthPath+"/":
		panic(fmt.Sprintf("httpserver: pattern %q is under a path the server or the API serves", pattern))
	}
	for _, p := range s.prefixes {
		if p.prefix == prefix {
			panic(fmt.Sprintf("httpserver: prefix %s is already routed", prefix))
		}
	}
	s.prefixes = append(s.prefixes, prefixRoute{prefix: prefix, route: route{method: method, h: h}})
}

// Handler returns the server's handler: its routes, and the API for every
// other request.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	if rt, ok := s.routes[path]; ok && rt.matches(r.Method) {
		rt.h.ServeHTTP(w, r)
		return
	}
	for _, p := range s.prefixes {
		if strings.HasPrefix(path, p.prefix) && p.matches(r.Method) {
			p.h.ServeHTTP(w, r)
			return
		}
	}
	s.API.ServeHTTP(w, r)
}

func (rt route) matches(method string) bool {
	return rt.method == "" || method == rt.method || (rt.method == http.MethodGet && method == http.MethodHead)
}

// serveHealth answers the readiness probe: 200 {"status":"ok"}, or 503
// {"status":"stopping"} once Shutdown has begun.
func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if s.draining.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"status":"stopping"}`)
		return
	}
	io.WriteString(w, `{"status":"ok"}`)
}

// Listen binds the address (host:port; port 0 picks a free one) and
// returns the server's root URL, for example "http://127.0.0.1:8765/".
func (s *Server) Listen(addr string) (string, error) {
	var tlsConfig *tls.Config
	if s.TLSCertFile != "" || s.TLSKeyFile != "" {
		cert, err := tls.LoadX509KeyPair(s.TLSCertFile, s.TLSKeyFile)
		if err != nil {
			return "", fmt.Errorf("httpserver: TLS certificate %s and key %s: %w", s.TLSCertFile, s.TLSKeyFile, err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("httpserver: listen %s: %w", addr, err)
	}
	s.listener = ln
	logger := s.Logger
	if logger == nil {
		logger = slog.Default()
	}
	s.http = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: or(s.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		ReadTimeout:       or(s.ReadTimeout, DefaultReadTimeout),
		IdleTimeout:       or(s.IdleTimeout, DefaultIdleTimeout),
		MaxHeaderBytes:    s.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		TLSConfig:         tlsConfig,
	}
	if tlsConfig != nil {
		return "https://" + ln.Addr().String() + "/", nil
	}
	return "http://" + ln.Addr().String() + "/", nil
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Serve serves requests until Shutdown. It returns nil after a clean
// shutdown.
func (s *Server) Serve() error {
	if s.http == nil {
		return errors.New("httpserver: Serve before Listen")
	}
	serve := s.http.Serve
	if s.http.TLSConfig != nil {
		serve = func(ln net.Listener) error { return s.http.ServeTLS(ln, "", "") }
	}
	if err := serve(s.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown marks the server not ready (/healthz answers 503), stops
// accepting connections and waits for requests in flight to finish (or
// ctx to end).
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	if s.http == nil {
		return nil
	}
	return s.http.Shutdown(ctx)
}
