package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// demoHooks is the step on Instance B that counts the Hydrate message: a
// webhook endpoint on loopback that B calls, synchronously, after each
// placeholder of account is hydrated, counting the calls per record.
type demoHooks struct {
	srv *http.Server
	url string

	mu       sync.Mutex
	hydrated map[string]int         // PrimaryEntityId → calls
	at       map[string][]time.Time // PrimaryEntityId → when each call came
}

// startDemoHooks listens on a free loopback port.
func startDemoHooks() (*demoHooks, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("the Hydrate step's endpoint: %w", err)
	}
	h := &demoHooks{url: "http://" + ln.Addr().String(), hydrated: map[string]int{}, at: map[string][]time.Time{}}
	h.srv = &http.Server{Handler: h}
	go h.srv.Serve(ln)
	return h, nil
}

// ServeHTTP records one webhook call (a RemoteExecutionContext).
func (h *demoHooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var ec struct {
		MessageName     string
		PrimaryEntityID string `json:"PrimaryEntityId"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(body, &ec)
	}
	if err != nil || ec.MessageName != "Hydrate" {
		http.Error(w, "not a Hydrate context", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.hydrated[ec.PrimaryEntityID]++
	h.at[ec.PrimaryEntityID] = append(h.at[ec.PrimaryEntityID], time.Now())
	h.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// counts returns the calls per record so far.
func (h *demoHooks) counts() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]int, len(h.hydrated))
	for id, n := range h.hydrated {
		out[id] = n
	}
	return out
}

// times returns when each record's calls came.
func (h *demoHooks) times() map[string][]time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string][]time.Time, len(h.at))
	for id, ts := range h.at {
		out[id] = append([]time.Time(nil), ts...)
	}
	return out
}

// close stops the endpoint.
func (h *demoHooks) close() { h.srv.Close() }

// writeConfig writes B's serve configuration, which registers the step,
// into dir and returns its path.
func (h *demoHooks) writeConfig(dir string) (string, error) {
	config := fmt.Sprintf(`steps:
  - name: count-hydrate
    type: webhook
    message: Hydrate
    table: account
    stage: postoperation
    url: %s/hydrate
`, h.url)
	path := filepath.Join(dir, "b.yaml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		return "", fmt.Errorf("B's configuration: %w", err)
	}
	return path, nil
}
