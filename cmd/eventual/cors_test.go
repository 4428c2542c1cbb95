package main_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestServe_CORS checks the cors.allowedOrigins setting and the
// --cors-origins flag, which overrides it.
func TestServe_CORS(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string { return writeFile(t, dir, name, content) }
	preflight := func(t *testing.T, url, origin string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodOptions, url+"accounts", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,odata-version")
		resp, err := newClient(t, requestTimeout).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	allowed := func(resp *http.Response, origin string) bool {
		return resp.StatusCode == http.StatusNoContent && resp.Header.Get("Access-Control-Allow-Origin") == origin
	}

	t.Run("ConfigAndFlag", func(t *testing.T) {
		cfg := write("cors.yaml", "cors:\n  allowedOrigins: [\"https://app.example.com\", \"http://localhost:3000\"]\n")
		p := startServe(t, "--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "cors.db"), "--config", cfg)
		for _, o := range []string{"https://app.example.com", "http://localhost:3000"} {
			if resp := preflight(t, p.URL, o); !allowed(resp, o) {
				t.Errorf("preflight from %s: %d %v", o, resp.StatusCode, resp.Header)
			}
		}
		if resp := preflight(t, p.URL, "https://other.example.com"); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight from another origin: %d %v", resp.StatusCode, resp.Header)
		}
		p.Stop()

		// The flag replaces the file's list.
		p = startServe(t, "--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "cors.db"), "--config", cfg, "--cors-origins", "https://other.example.com, https://*.example.org")
		if resp := preflight(t, p.URL, "https://app.example.com"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("the file's origin is still allowed with --cors-origins: %v", resp.Header)
		}
		for _, o := range []string{"https://other.example.com", "https://team.example.org"} {
			if resp := preflight(t, p.URL, o); !allowed(resp, o) {
				t.Errorf("preflight from %s with --cors-origins: %d %v", o, resp.StatusCode, resp.Header)
			}
		}
		p.Stop()
	})

	t.Run("Default", func(t *testing.T) {
		p := startServe(t, "--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "default.db"))
		if resp := preflight(t, p.URL, "https://app.example.com"); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight without CORS configured: %d %v", resp.StatusCode, resp.Header)
		}
		p.Stop()
	})

	for _, tc := range []struct{ name, yaml, flag, want string }{
		{"TrailingSlash", "cors:\n  allowedOrigins: [\"https://app.example.com/\"]\n", "", `"https://app.example.com/"`},
		{"NoScheme", "cors:\n  allowedOrigins: [app.example.com]\n", "", `"app.example.com"`},
		{"UnknownField", "cors:\n  allowedOrigin: [\"https://app.example.com\"]\n", "", "allowedOrigin"},
		{"BadFlag", "", "https://app.example.com/path", `"https://app.example.com/path"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"serve", "--listen", "127.0.0.1:0", "--db", filepath.Join(dir, tc.name+".db")}
			if tc.yaml != "" {
				args = append(args, "--config", write(tc.name+".yaml", tc.yaml))
			}
			if tc.flag != "" {
				args = append(args, "--cors-origins", tc.flag)
			}
			code, stdout, stderr := runEventual(t, exitTimeout, args...)
			if code == 0 || strings.Contains(stdout, "serving") {
				t.Fatalf("exit code %d, want a refusal to start\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr does not name %s:\n%s", tc.want, stderr)
			}
		})
	}
}
