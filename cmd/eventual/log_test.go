package main_test

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeLogsJSONAtDebug: --log-format json --log-level debug logs one
// JSON object a line, a line per request with its correlation id.
func TestServeLogsJSONAtDebug(t *testing.T) {
	p := startServe(t, "--listen", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "b.db"), "--log-format", "json", "--log-level", "debug")
	c := newClient(t, requestTimeout)
	req, err := http.NewRequest("GET", p.URL+"accounts?$top=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-ms-correlation-request-id", "0f8fad5b-d9cb-469f-a165-70867728950e")
	r, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	p.Stop()
	var found bool
	for line := range strings.Lines(p.Stderr.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("a log line is not JSON: %q", line)
		}
		if rec["msg"] == "request" && rec["correlation_id"] == "0f8fad5b-d9cb-469f-a165-70867728950e" && rec["status"] == float64(200) && rec["level"] == "DEBUG" {
			found = true
		}
	}
	if !found {
		t.Errorf("no request line with the correlation id:\n%s", p.Stderr.String())
	}
}
