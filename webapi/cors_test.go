package webapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/eventual-pp/eventual/webapi"
)

// corsServer serves the instance of s with CORS for the origins.
func corsServer(tb testing.TB, s *testServer, origins ...string) *testServer {
	tb.Helper()
	srv := webapi.NewServer(s.Instance, s.Instance.Schema, s.Store.Meta())
	srv.Logger = nil
	srv.CORSOrigins = origins
	ts := httptest.NewServer(srv.Handler())
	tb.Cleanup(ts.Close)
	c := *s
	c.tb, c.URL, c.Server, c.client = tb, ts.URL+"/api/data/v9.2/", srv, ts.Client()
	return &c
}

// preflight sends the OPTIONS request a browser sends before a
// cross-origin request with the method and headers.
func (s *testServer) preflight(path, origin, method, headers string) *response {
	s.tb.Helper()
	req, err := http.NewRequest(http.MethodOptions, s.URL+path, nil)
	if err != nil {
		s.tb.Fatal(err)
	}
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", method)
	if headers != "" {
		req.Header.Set("Access-Control-Request-Headers", headers)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.tb.Fatal(err)
	}
	resp.Body.Close()
	return &response{Status: resp.StatusCode, Header: resp.Header}
}

// The headers a SPA built on MSAL.js and dynamics-web-api asks for, in
// the lower case and order browsers send them.
const spaHeaders = "authorization,content-type,if-match,if-none-match,mscrm.bypasscustompluginexecution,mscrm.suppressduplicatedetection,odata-maxversion,odata-version,prefer"

func TestCORS(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		const app = "https://app.example.com"
		id := s.create("accounts", map[string]any{"name": "cors"})

		t.Run("Off", func(t *testing.T) {
			// Without allowed origins nothing changes: a preflight is an
			// OPTIONS the Web API does not serve.
			r := s.do(http.MethodOptions, "accounts", nil, "Origin", app, "Access-Control-Request-Method", "POST")
			expectError(t, r, http.StatusMethodNotAllowed, "", "does not support http method 'OPTIONS'")
			if v := r.Header.Get("Access-Control-Allow-Origin"); v != "" {
				t.Errorf("Access-Control-Allow-Origin %q without CORS configured", v)
			}
			if v := s.do("GET", "accounts("+id+")", nil, "Origin", app).Header.Get("Access-Control-Allow-Origin"); v != "" {
				t.Errorf("GET: Access-Control-Allow-Origin %q without CORS configured", v)
			}
		})

		t.Run("Preflight", func(t *testing.T) {
			c := corsServer(t, s, app)
			for _, m := range []string{"GET", "POST", "PATCH", "PUT", "DELETE"} {
				r := c.preflight("accounts("+id+")", app, m, spaHeaders)
				if r.Status != http.StatusNoContent {
					t.Errorf("preflight %s: status %d, want 204", m, r.Status)
				}
				h := r.Header
				if h.Get("Access-Control-Allow-Origin") != app || h.Get("Access-Control-Allow-Methods") != m ||
					h.Get("Access-Control-Allow-Headers") != spaHeaders || h.Get("Access-Control-Max-Age") != "3600" {
					t.Errorf("preflight %s headers: %v", m, h)
				}
				if !strings.Contains(h.Get("Vary"), "Origin") {
					t.Errorf("preflight %s: Vary %q does not name Origin", m, h.Get("Vary"))
				}
				if h.Get("Access-Control-Allow-Credentials") != "" {
					t.Errorf("preflight %s allows credentials", m)
				}
			}
			// Any header asked for is allowed, whatever its case.
			if r := c.preflight("accounts", app, "POST", "X-Ms-Correlation-Request-Id, CallerObjectId, Consistency"); r.Header.Get("Access-Control-Allow-Headers") == "" || r.Status != 204 {
				t.Errorf("preflight with other headers: %d %v", r.Status, r.Header)
			}
			// Not an allowed preflight: the answer without CORS.
			for _, tc := range []struct{ name, origin, method string }{
				{"OtherOrigin", "https://evil.example.org", "POST"},
				{"OriginPrefix", "https://app.example.com.evil.org", "POST"},
				{"OtherScheme", "http://app.example.com", "POST"},
				{"MethodNotServed", app, "TRACE"},
			} {
				r := c.do(http.MethodOptions, "accounts", nil, "Origin", tc.origin, "Access-Control-Request-Method", tc.method)
				expectError(t, r, http.StatusMethodNotAllowed, "", "OPTIONS")
				if v := r.Header.Get("Access-Control-Allow-Origin"); v != "" {
					t.Errorf("%s: Access-Control-Allow-Origin %q", tc.name, v)
				}
			}
			// A plain OPTIONS, without Access-Control-Request-Method.
			expectError(t, c.do(http.MethodOptions, "accounts", nil, "Origin", app), http.StatusMethodNotAllowed, "", "OPTIONS")
		})

		t.Run("Requests", func(t *testing.T) {
			c := corsServer(t, s, app, "http://localhost:3000")
			exposed := func(r *response) string { return r.Header.Get("Access-Control-Expose-Headers") }
			r := c.must(http.StatusNoContent, "POST", "accounts", map[string]any{"name": "from the app"}, "Origin", app)
			if r.Header.Get("Access-Control-Allow-Origin") != app {
				t.Errorf("POST: Access-Control-Allow-Origin %q", r.Header.Get("Access-Control-Allow-Origin"))
			}
			for _, h := range []string{"Odata-Entityid", "Etag", "Preference-Applied", "Odata-Version", "Location", "Retry-After", "X-Ms-Service-Request-Id"} {
				if !strings.Contains(exposed(r), h) {
					t.Errorf("Access-Control-Expose-Headers %q lacks %s", exposed(r), h)
				}
			}
			r = c.must(http.StatusOK, "GET", "accounts("+id+")", nil, "Origin", "http://localhost:3000")
			if r.Header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" || exposed(r) == "" {
				t.Errorf("GET from the second origin: %v", r.Header)
			}
			// Errors too, so that the app can read Dataverse's error body.
			r = c.do("GET", "accounts(00000000-0000-0000-0000-00000000c0de)", nil, "Origin", app)
			if r.Status != http.StatusNotFound || r.Header.Get("Access-Control-Allow-Origin") != app {
				t.Errorf("404: %d %v", r.Status, r.Header)
			}
			r = c.do("POST", "accounts", "x", "Origin", app, "Content-Type", "text/plain")
			if r.Status != http.StatusUnsupportedMediaType || r.Header.Get("Access-Control-Allow-Origin") != app {
				t.Errorf("415: %d %v", r.Status, r.Header)
			}
			// Other origins and same-origin requests get no CORS headers.
			for _, origin := range []string{"https://evil.example.org", ""} {
				h := []string{}
				if origin != "" {
					h = []string{"Origin", origin}
				}
				r = c.must(http.StatusOK, "GET", "accounts("+id+")", nil, h...)
				if r.Header.Get("Access-Control-Allow-Origin") != "" || exposed(r) != "" {
					t.Errorf("origin %q: CORS headers %v", origin, r.Header)
				}
			}
		})

		t.Run("Wildcards", func(t *testing.T) {
			c := corsServer(t, s, "*")
			if r := c.preflight("accounts", "https://anything.example", "PATCH", "content-type"); r.Status != 204 || r.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("* preflight: %d %v", r.Status, r.Header)
			}
			if r := c.must(http.StatusOK, "GET", "accounts("+id+")", nil, "Origin", "https://anything.example"); r.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("* GET: %v", r.Header)
			}
			c = corsServer(t, s, "https://*.example.com")
			if r := c.preflight("accounts", "https://team.example.com", "POST", ""); r.Status != 204 || r.Header.Get("Access-Control-Allow-Origin") != "https://team.example.com" {
				t.Errorf("subdomain wildcard preflight: %d %v", r.Status, r.Header)
			}
			if r := c.do(http.MethodOptions, "accounts", nil, "Origin", "https://example.org", "Access-Control-Request-Method", "POST"); r.Status != 405 || r.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("subdomain wildcard, other domain: %d %v", r.Status, r.Header)
			}
		})
	})
}

func TestCheckCORSOrigin(t *testing.T) {
	for _, ok := range []string{"*", "https://app.example.com", "http://localhost:3000", "https://*.example.com", "http://127.0.0.1:8080", "capacitor://localhost"} {
		if err := webapi.CheckCORSOrigin(ok); err != nil {
			t.Errorf("CheckCORSOrigin(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "null", "app.example.com", "https://app.example.com/", "https://app.example.com/path", "https://app.example.com?x=1",
		"https://app.example.com#x", "https://user@app.example.com", "https://*.*.example.com", "*.example.com", "https://"} {
		if err := webapi.CheckCORSOrigin(bad); err == nil {
			t.Errorf("CheckCORSOrigin(%q) = nil, want an error", bad)
		}
	}
}
