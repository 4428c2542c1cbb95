package main_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeServiceProtection: with limits.serviceProtection, the server
// counts a user's requests (a $batch as one, whatever its parts), sends
// the rate-limit headers and x-ms-dop-hint, and refuses the request past
// the limit with 429, 0x80072322 and a Retry-After; another user is not
// refused.
func TestServeServiceProtection(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "eventual.yaml")
	if err := os.WriteFile(cfg, []byte("limits:\n  serviceProtection: {requests: 3, window: 300s}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, "--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "b.db"), "--config", cfg)
	c := newClient(t, requestTimeout)
	do := func(token, method, url, contentType, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		r, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r
	}
	r := do("alice", "GET", p.URL+"accounts?$top=1", "", "")
	if r.StatusCode != 200 || r.Header.Get("x-ms-ratelimit-burst-remaining-xrm-requests") != "2" ||
		r.Header.Get("x-ms-ratelimit-time-remaining-xrm-requests") != "1,200.00" || r.Header.Get("x-ms-dop-hint") == "" {
		t.Fatalf("first request: %d, headers %v", r.StatusCode, r.Header)
	}
	batch := "--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET " + p.URL + "accounts?$top=1 HTTP/1.1\r\n\r\n" +
		"--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET " + p.URL + "contacts?$top=1 HTTP/1.1\r\n\r\n" +
		"--b\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET " + p.URL + "accounts?$top=2 HTTP/1.1\r\n\r\n--b--\r\n"
	r = do("alice", "POST", p.URL+"$batch", "multipart/mixed; boundary=b", batch)
	if r.StatusCode != 200 || r.Header.Get("x-ms-ratelimit-burst-remaining-xrm-requests") != "1" {
		t.Fatalf("a $batch of three: %d, burst remaining %q; want 200 and 1 (one request)", r.StatusCode, r.Header.Get("x-ms-ratelimit-burst-remaining-xrm-requests"))
	}
	if r = do("alice", "GET", p.URL+"accounts?$top=1", "", ""); r.StatusCode != 200 {
		t.Fatalf("third request: %d", r.StatusCode)
	}
	req, _ := http.NewRequest("GET", p.URL+"accounts?$top=1", nil)
	req.Header.Set("Authorization", "Bearer alice")
	res, err := send(c, "GET", p.URL+"accounts?$top=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 200 {
		t.Errorf("a request without a token (another user): %d", res.Status)
	}
	r2, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Body.Close()
	body := make([]byte, 4096)
	n, _ := r2.Body.Read(body)
	if r2.StatusCode != 429 || !strings.Contains(string(body[:n]), `"code":"0x80072322"`) || r2.Header.Get("Retry-After") == "" || r2.Header.Get("x-ms-service-request-id") == "" {
		t.Errorf("the fourth request: %d %s Retry-After %q; want 429 0x80072322 with Retry-After", r2.StatusCode, body[:n], r2.Header.Get("Retry-After"))
	}
	if r = do("bob", "GET", p.URL+"accounts?$top=1", "", ""); r.StatusCode != 200 {
		t.Errorf("another user: %d", r.StatusCode)
	}
	fams := scrape(t, c, p.Root+"metrics")
	if v, _ := value(fams, "eventual_http_requests_total", "code=429"); v != 1 {
		t.Errorf("metrics count %v 429s, want 1", v)
	}
}
