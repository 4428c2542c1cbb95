package main_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The source article's two journeys, replayed against a real "eventual
// serve": an integrated system writes a contact to instance B that refers
// to an account sync may not have delivered yet.

// hookRecorder is a webhook endpoint that records what it receives.
type hookRecorder struct {
	mu    sync.Mutex
	calls []hookCall
}

// hookCall is one webhook POST.
type hookCall struct {
	Message, Table string
	Context        map[string]any
}

func (h *hookRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var ctx map[string]any
	if err := json.Unmarshal(body, &ctx); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.calls = append(h.calls, hookCall{
		Message: r.Header.Get("x-ms-dynamics-request-name"),
		Table:   r.Header.Get("x-ms-dynamics-entity-name"),
		Context: ctx,
	})
	h.mu.Unlock()
}

// count returns how many calls came for message on table.
func (h *hookRecorder) count(message, table string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range h.calls {
		if c.Message == message && c.Table == table {
			n++
		}
	}
	return n
}

// journeyServer starts "eventual serve" on a fresh SQLite file with a
// synchronous webhook on the Hydrate and Create messages of account.
func journeyServer(t *testing.T, extra ...string) (*proc, *hookRecorder, string) {
	t.Helper()
	hooks := &hookRecorder{}
	hs := httptest.NewServer(hooks)
	t.Cleanup(hs.Close)
	dir := t.TempDir()
	config := fmt.Sprintf(`steps:
  - name: on-hydrate
    type: webhook
    message: Hydrate
    table: account
    stage: postoperation
    url: %[1]s/hydrate
  - name: on-create
    type: webhook
    message: Create
    table: account
    stage: postoperation
    url: %[1]s/create
`, hs.URL)
	cfgPath := filepath.Join(dir, "eventual.yaml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "b.db")
	args := append([]string{"--listen", "127.0.0.1:0", "--db", db, "--config", cfgPath}, extra...)
	return startServe(t, args...), hooks, db
}

func TestJourney_HappyPath(t *testing.T) {
	p, hooks, _ := journeyServer(t)
	c := newClient(t, requestTimeout)

	// Sync has delivered the account.
	account := uuid.NewString()
	must(t, c, 204, "PATCH", p.URL+"accounts("+account+")", map[string]any{"name": "Contoso", "accountnumber": "ACC-1"})
	before := object(t, must(t, c, 200, "GET", p.URL+"accounts("+account+")", nil))

	// The integrated system writes a contact referring to it, by GUID and
	// by alternate key.
	must(t, c, 204, "POST", p.URL+"contacts", map[string]any{
		"lastname": "Smith", "parentcustomerid_account@odata.bind": "/accounts(" + account + ")",
	})
	must(t, c, 204, "POST", p.URL+"contacts", map[string]any{
		"lastname": "Jones", "parentcustomerid_account@odata.bind": "/accounts(accountnumber='ACC-1')",
	})

	// Nothing about the account changed, and no placeholder was made.
	after := object(t, must(t, c, 200, "GET", p.URL+"accounts("+account+")", nil))
	if before["@odata.etag"] != after["@odata.etag"] || after["name"] != "Contoso" {
		t.Errorf("account changed by a bind to it:\nbefore %v\nafter  %v", before, after)
	}
	if got := after["eventual_hydrationstate"]; got != float64(0) {
		t.Errorf("eventual_hydrationstate = %v, want 0 (a record, not a placeholder)", got)
	}
	list := object(t, must(t, c, 200, "GET", p.URL+"contacts?$select=lastname,_parentcustomerid_value", nil))["value"].([]any)
	if len(list) != 2 {
		t.Fatalf("contacts = %v, want 2", list)
	}
	for _, v := range list {
		if got := v.(map[string]any)["_parentcustomerid_value"]; got != account {
			t.Errorf("contact %v refers to %v, want %s", v, got, account)
		}
	}
	if n := hooks.count("Hydrate", "account"); n != 0 {
		t.Errorf("Hydrate fired %d times, want 0", n)
	}
	if n := hooks.count("Create", "account"); n != 1 {
		t.Errorf("Create of account fired %d times, want 1", n)
	}
	p.Stop()
}

func TestJourney_UnhappyPath(t *testing.T) {
	p, hooks, db := journeyServer(t)
	c := newClient(t, requestTimeout)

	// Sync is late: the account does not exist in B. The write succeeds
	// and leaves a placeholder with the key it named.
	account := uuid.NewString()
	correlation := uuid.NewString()
	r, err := sendH(c, "POST", p.URL+"contacts", map[string]any{
		"lastname": "Smith", "parentcustomerid_account@odata.bind": "/accounts(" + account + ")",
	}, "x-ms-correlation-request-id", correlation)
	if err != nil || r.Status != 204 {
		t.Fatalf("POST contact: %v %v %s", err, r.Status, r.Body)
	}
	ph := object(t, must(t, c, 200, "GET", p.URL+"accounts("+account+")", nil))
	if ph["eventual_hydrationstate"] != float64(1) {
		t.Fatalf("account after the bind: %v, want a placeholder (eventual_hydrationstate 1)", ph)
	}
	if ph["eventual_placeholdercorrelationid"] != correlation {
		t.Errorf("eventual_placeholdercorrelationid = %v, want %s", ph["eventual_placeholdercorrelationid"], correlation)
	}
	if ph["eventual_placeholderon"] == nil {
		t.Errorf("eventual_placeholderon is empty")
	}
	// A second write naming the same account makes no second placeholder.
	must(t, c, 204, "POST", p.URL+"contacts", map[string]any{
		"lastname": "Jones", "parentcustomerid_account@odata.bind": "/accounts(" + account + ")",
	})
	pending := object(t, must(t, c, 200, "GET", p.URL+"accounts?$filter=eventual_hydrationstate%20eq%201&$select=accountid", nil))["value"].([]any)
	if len(pending) != 1 {
		t.Fatalf("placeholders = %v, want exactly 1", pending)
	}
	if n := hooks.count("Create", "account"); n != 0 {
		t.Errorf("Create of account fired %d times for a placeholder, want 0 (logic on create must not see half-empty records)", n)
	}
	code, out, errOut := runEventual(t, 30*time.Second, "placeholders", "list", "--db", db)
	if code != 0 || !strings.Contains(out, account) {
		t.Errorf("eventual placeholders list: exit %d, want the account %s listed\nstdout:\n%s\nstderr:\n%s", code, account, out, errOut)
	}

	// Sync catches up: it upserts the account with its real data.
	must(t, c, 204, "PATCH", p.URL+"accounts("+account+")", map[string]any{
		"name": "Contoso", "accountnumber": "ACC-1", "telephone1": "555-0100",
	})
	got := object(t, must(t, c, 200, "GET", p.URL+"accounts("+account+")", nil))
	if got["name"] != "Contoso" || got["accountnumber"] != "ACC-1" || got["eventual_hydrationstate"] != float64(2) || got["eventual_hydratedon"] == nil {
		t.Errorf("account after sync = %v, want the real data, hydrated", got)
	}
	if n := hooks.count("Hydrate", "account"); n != 1 {
		t.Errorf("Hydrate fired %d times, want 1", n)
	}
	// Later updates are ordinary updates: Hydrate does not fire again.
	must(t, c, 204, "PATCH", p.URL+"accounts("+account+")", map[string]any{"telephone1": "555-0199"})
	if n := hooks.count("Hydrate", "account"); n != 1 {
		t.Errorf("Hydrate fired %d times after a later update, want 1", n)
	}
	// The contacts still refer to the same, now real, account.
	list := object(t, must(t, c, 200, "GET", p.URL+"contacts?$select=lastname,_parentcustomerid_value", nil))["value"].([]any)
	for _, v := range list {
		if got := v.(map[string]any)["_parentcustomerid_value"]; got != account {
			t.Errorf("contact %v refers to %v, want %s", v, got, account)
		}
	}
	code, out, errOut = runEventual(t, 30*time.Second, "placeholders", "count", "--db", db)
	if code != 0 || !regexp.MustCompile(`(?m)^total\s+0\b`).MatchString(out) {
		t.Errorf("eventual placeholders count after hydration: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	p.Stop()
}

func TestJourney_AlternateKeyPlaceholder(t *testing.T) {
	p, hooks, _ := journeyServer(t)
	c := newClient(t, requestTimeout)
	must(t, c, 204, "POST", p.URL+"contacts", map[string]any{
		"lastname": "Smith", "parentcustomerid_account@odata.bind": "/accounts(accountnumber='ACC-42')",
	})
	ph := object(t, must(t, c, 200, "GET", p.URL+"accounts(accountnumber='ACC-42')", nil))
	if ph["eventual_hydrationstate"] != float64(1) || ph["accountnumber"] != "ACC-42" {
		t.Fatalf("placeholder by alternate key = %v", ph)
	}
	// Sync upserts by the same alternate key.
	must(t, c, 204, "PATCH", p.URL+"accounts(accountnumber='ACC-42')", map[string]any{"name": "Fabrikam"})
	got := object(t, must(t, c, 200, "GET", p.URL+"accounts(accountnumber='ACC-42')", nil))
	if got["name"] != "Fabrikam" || got["eventual_hydrationstate"] != float64(2) || got["accountid"] != ph["accountid"] {
		t.Errorf("after hydration by key: %v (placeholder was %v)", got, ph)
	}
	if n := hooks.count("Hydrate", "account"); n != 1 {
		t.Errorf("Hydrate fired %d times, want 1", n)
	}
	p.Stop()
}

func TestJourney_PlaceholdersOff(t *testing.T) {
	p, _, _ := journeyServer(t, "--placeholders", "off")
	c := newClient(t, requestTimeout)
	account := uuid.NewString()
	// Dataverse's errors for a bind to a missing record: ObjectDoesNotExist
	// by GUID, 0x80060891 by alternate key.
	for _, tc := range []struct{ bind, code, message string }{
		{"/accounts(" + account + ")", "0x80040217", "account With Id = " + account + " Does Not Exist"},
		{"/accounts(accountnumber='NOPE')", "0x80060891", "A record with the specified key values does not exist in account entity"},
	} {
		r, err := send(c, "POST", p.URL+"contacts", map[string]any{"lastname": "Smith", "parentcustomerid_account@odata.bind": tc.bind})
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != 404 || errorCode(r) != tc.code || !strings.Contains(string(r.Body), tc.message) {
			t.Errorf("bind %s with placeholders off: %d %s, want 404 %s %q", tc.bind, r.Status, r.Body, tc.code, tc.message)
		}
	}
	n := object(t, must(t, c, 200, "GET", p.URL+"contacts?$count=true&$select=contactid", nil))["@odata.count"]
	if n != float64(0) {
		t.Errorf("contacts after failed binds = %v, want 0", n)
	}
	n = object(t, must(t, c, 200, "GET", p.URL+"accounts?$count=true&$select=accountid", nil))["@odata.count"]
	if n != float64(0) {
		t.Errorf("accounts after failed binds = %v, want 0", n)
	}
	p.Stop()
}
