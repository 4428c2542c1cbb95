package client

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/oauth2/clientcredentials"
)

const tokenURL = "http://login.test/tenant/oauth2/v2.0/token"

// tokenServer wraps an API handler with an OAuth2 token endpoint at
// tokenURL's path on the same fake; the n-th token issued is "tok-n",
// valid for an hour. apiCount counts only the API's requests.
type tokenServer struct {
	mu       sync.Mutex
	issued   int
	apiCount int
	api      func(n int, w http.ResponseWriter, r *http.Request) error
}

func (s *tokenServer) handle(_ int, w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	if r.URL.Host == "login.test" {
		s.issued++
		n := s.issued
		s.mu.Unlock()
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			w.WriteHeader(400)
			return nil
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"Bearer","expires_in":3600}`, n)
		return nil
	}
	n := s.apiCount
	s.apiCount++
	s.mu.Unlock()
	return s.api(n, w, r)
}

func (s *tokenServer) counts() (tokens, api int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued, s.apiCount
}

func credentials() *clientcredentials.Config {
	return &clientcredentials.Config{ClientID: "app", ClientSecret: "s3cret-value", TokenURL: tokenURL, Scopes: []string{"https://org.crm.dynamics.com/.default"}}
}

// apiAuths returns the Authorization headers the API (not the token
// endpoint) saw.
func apiAuths(f *fake) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var a []string
	for i, p := range f.paths {
		if strings.HasPrefix(p, webAPIPath) {
			a = append(a, f.auths[i])
		}
	}
	return a
}

// TestClientCredentialsCachedAndRefreshed: many calls, concurrent ones
// included, cost one token request; the token is replaced exactly
// TokenRefreshMargin before its expiry, not earlier.
func TestClientCredentialsCachedAndRefreshed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ts := &tokenServer{api: func(n int, w http.ResponseWriter, r *http.Request) error {
			answer(w, 200, "")
			return nil
		}}
		margin := 5 * time.Minute
		c, f := newFake(t, Options{ClientCredentials: credentials(), TokenRefreshMargin: margin, Concurrency: 16}, ts.handle)
		t0 := time.Now()
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				if _, err := get(t.Context(), c); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		for range 20 {
			if _, err := get(t.Context(), c); err != nil {
				t.Fatal(err)
			}
		}
		if tok, api := ts.counts(); tok != 1 || api != 30 {
			t.Fatalf("token requests %d, API requests %d; want 1, 30", tok, api)
		}
		time.Sleep(time.Hour - margin - time.Nanosecond - time.Since(t0))
		get(t.Context(), c)
		if tok, _ := ts.counts(); tok != 1 {
			t.Fatalf("refreshed %v before expiry, margin %v", time.Hour-time.Since(t0), margin)
		}
		time.Sleep(time.Nanosecond)
		for range 5 {
			get(t.Context(), c)
		}
		if tok, api := ts.counts(); tok != 2 || api != 36 {
			t.Fatalf("at expiry-margin: token requests %d, API requests %d; want 2, 36", tok, api)
		}
		a := apiAuths(f)
		for i, h := range a {
			want := "Bearer tok-1"
			if i >= 31 {
				want = "Bearer tok-2"
			}
			if h != want {
				t.Fatalf("API request %d: Authorization %q, want %q", i, h, want)
			}
		}
	})
}

// TestUnauthorized: a 401 costs the cached token once and the request is
// sent again with a new one; a second 401 fails, and a static token (that
// nothing can refresh) is not retried at all.
func TestUnauthorized(t *testing.T) {
	tests := []struct {
		name       string
		static     bool
		rejects    int // how many API requests answer 401 before 200s
		ok         bool
		tokens     int
		api        int
		lastHeader string
	}{
		{"credentials, one 401", false, 1, true, 2, 2, "Bearer tok-2"},
		{"credentials, always 401", false, 100, false, 2, 2, "Bearer tok-2"},
		{"static, 401", true, 100, false, 0, 1, "Bearer static-tok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ts := &tokenServer{api: func(n int, w http.ResponseWriter, r *http.Request) error {
					if n < tt.rejects {
						answer(w, 401, "0x80040220")
						return nil
					}
					answer(w, 200, "")
					return nil
				}}
				o := quick(Options{})
				if tt.static {
					o.Token = "static-tok"
				} else {
					o.ClientCredentials = credentials()
				}
				c, f := newFake(t, o, ts.handle)
				t0 := time.Now()
				_, err := get(t.Context(), c)
				if (err == nil) != tt.ok {
					t.Fatalf("err %v, want ok=%v", err, tt.ok)
				}
				if e, ok := errors.AsType[*Error](err); !tt.ok && (!ok || e.StatusCode != 401 || e.Code != "0x80040220") {
					t.Errorf("err %v, want the 401", err)
				}
				if tok, api := ts.counts(); tok != tt.tokens || api != tt.api {
					t.Fatalf("token requests %d, API requests %d; want %d, %d", tok, api, tt.tokens, tt.api)
				}
				if a := apiAuths(f); a[len(a)-1] != tt.lastHeader {
					t.Fatalf("last Authorization %q, want %q", a[len(a)-1], tt.lastHeader)
				}
				if d := time.Since(t0); d != 0 {
					t.Fatalf("the 401 retry waited %v, want none", d)
				}
				if c.State() != StateClosed {
					t.Fatalf("401s moved the breaker: %v", c.State())
				}
			})
		})
	}
}

// TestTokensNeverLogged runs retries, a 401 refresh and a breaker trip
// with debug logging, and finds neither a token nor the client secret in
// the log or the errors.
func TestTokensNeverLogged(t *testing.T) {
	for _, static := range []bool{false, true} {
		t.Run(fmt.Sprint("static=", static), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var logs syncBuffer
				ts := &tokenServer{api: func(n int, w http.ResponseWriter, r *http.Request) error {
					switch {
					case n == 0:
						answer(w, 401, "")
					case n < 3:
						answer(w, 503, "", "Retry-After", "1")
					case n < 8:
						answer(w, 500, "")
					default:
						answer(w, 200, "")
					}
					return nil
				}}
				o := quick(Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), MaxAttempts: 3})
				o.Breaker.Failures = 3
				if static {
					o.Token = "tok-static"
				} else {
					o.ClientCredentials = credentials()
				}
				c, _ := newFake(t, o, ts.handle)
				var errs []string
				for range 6 {
					if _, err := get(t.Context(), c); err != nil {
						errs = append(errs, err.Error(), fmt.Sprintf("%+v %#v", err, err))
					}
				}
				if !strings.Contains(logs.String(), "retrying") || !strings.Contains(logs.String(), "circuit breaker") {
					t.Fatalf("scenario logged no retry or breaker change:\n%s", logs.String())
				}
				all := logs.String() + strings.Join(errs, "\n")
				for _, secret := range []string{"tok-", "s3cret", "Bearer"} {
					if strings.Contains(all, secret) {
						t.Fatalf("%q in the log or errors:\n%s", secret, all)
					}
				}
			})
		})
	}
}
