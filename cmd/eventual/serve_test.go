package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eventual-pp/eventual/internal/testproc"
	"github.com/google/uuid"
)

// binary is the eventual binary TestMain builds.
var binary string

// Time bounds of the tests.
const (
	buildTimeout   = 5 * time.Minute
	exitTimeout    = testproc.ExitTimeout
	requestTimeout = 15 * time.Second
)

func TestMain(m *testing.M) {
	b, cleanup, err := testproc.Build(buildTimeout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "serve_test:", err)
		os.Exit(1)
	}
	binary = b
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// proc is a running "eventual serve" process.
type proc = testproc.Proc

// syncBuffer is a buffer safe for concurrent use.
type syncBuffer = testproc.Buffer

// startServe starts "eventual serve" with args and waits until it prints
// its base URL. The process is killed at the end of the test if the test
// has not stopped it.
func startServe(t testing.TB, args ...string) *proc {
	t.Helper()
	p := testproc.Start(t, binary, append([]string{"serve"}, args...)...)
	t.Cleanup(func() {
		if t.Failed() {
			var errs []string
			for line := range strings.Lines(p.Stderr.String()) {
				if strings.Contains(line, "level=ERROR") && !strings.Contains(line, "context canceled") && !strings.Contains(line, "broken pipe") {
					errs = append(errs, line)
				}
			}
			if len(errs) > 0 {
				t.Logf("eventual serve %v logged %d errors, the last:\n%.3000s", args, len(errs), errs[len(errs)-1])
			}
		}
	})
	return p
}

// runEventual runs the binary to completion (bounded by timeout) and
// returns its exit code and output.
func runEventual(t testing.TB, timeout time.Duration, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.WaitDelay = 5 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("eventual %v did not finish within %v\nstdout:\n%s\nstderr:\n%s", args, timeout, out.String(), errb.String())
	}
	if err != nil && cmd.ProcessState == nil {
		t.Fatalf("run eventual %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

// newClient returns an HTTP client with its own connection pool.
func newClient(t testing.TB, timeout time.Duration) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Timeout: timeout, Transport: tr}
}

// response is a received response.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// send sends a Web API request; body, if not nil, is sent as JSON.
func send(c *http.Client, method, url string, body any) (*response, error) {
	return sendH(c, method, url, body)
}

// must sends a request and fails the test unless it gets status.
func must(t testing.TB, c *http.Client, status int, method, url string, body any) *response {
	t.Helper()
	r, err := send(c, method, url, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	if r.Status != status {
		t.Fatalf("%s %s: status %d, want %d\n%s", method, url, r.Status, status, r.Body)
	}
	return r
}

// object decodes a JSON object body.
func object(t testing.TB, r *response) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// idFromEntityID returns the GUID of an OData-EntityId header.
func idFromEntityID(t testing.TB, r *response) string {
	t.Helper()
	loc := r.Header.Get("OData-EntityId")
	i := strings.LastIndexByte(loc, '(')
	if i < 0 || !strings.HasSuffix(loc, ")") {
		t.Fatalf("OData-EntityId %q does not end in (<id>)", loc)
	}
	return loc[i+1 : len(loc)-1]
}

// ackSet is the set of record ids the server acknowledged with a 2xx.
type ackSet struct {
	mu  sync.Mutex
	ids []string
}

func (a *ackSet) add(id string) {
	a.mu.Lock()
	a.ids = append(a.ids, id)
	a.mu.Unlock()
}

func (a *ackSet) list() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.ids...)
}

// load runs workers goroutines that create accounts with client-chosen
// ids until stop is closed or a request fails at the transport level, and
// records the ids answered with a 2xx. It returns a function that waits
// for the workers.
func load(t testing.TB, c *http.Client, url string, workers int, prefix string, acked *ackSet, stop <-chan struct{}) (wait func() (sent, failed int64)) {
	var wg sync.WaitGroup
	var nSent, nFailed atomic.Int64
	for w := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := uuid.NewString()
				nSent.Add(1)
				r, err := send(c, "POST", url+"accounts", map[string]any{"accountid": id, "name": fmt.Sprintf("%s w%d #%d", prefix, w, i)})
				if err != nil {
					nFailed.Add(1)
					return // the server is going away
				}
				switch {
				case r.Status >= 200 && r.Status < 300:
					acked.add(id)
				case r.Status >= 500:
					// A 5xx during a stop is allowed (the request was not
					// acknowledged), but say so.
					t.Logf("POST accounts during load: %d %s", r.Status, r.Body)
					nFailed.Add(1)
				default:
					t.Errorf("POST accounts during load: %d %s", r.Status, r.Body)
					nFailed.Add(1)
					return
				}
			}
		})
	}
	return func() (int64, int64) {
		wg.Wait()
		return nSent.Load(), nFailed.Load()
	}
}

// checkPresent fails the test for every id that accounts(<id>) does not
// return.
func checkPresent(t testing.TB, c *http.Client, url string, ids []string) {
	t.Helper()
	var wg sync.WaitGroup
	var missing atomic.Int64
	// One read first, alone: concurrent first reads of a query shape hang
	// (see TestServe_ConcurrentFirstReads), and this test is about
	// durability.
	if len(ids) > 0 {
		must(t, c, http.StatusOK, "GET", url+"accounts("+ids[0]+")?$select=name", nil)
	}
	ch := make(chan string)
	for range 4 {
		wg.Go(func() {
			for id := range ch {
				r, err := send(c, "GET", url+"accounts("+id+")?$select=name", nil)
				if err != nil {
					t.Errorf("GET accounts(%s): %v", id, err)
					missing.Add(1)
					continue
				}
				if r.Status != http.StatusOK {
					if missing.Add(1) <= 10 {
						t.Errorf("acknowledged account %s is lost: GET answered %d %s", id, r.Status, r.Body)
					}
				}
			}
		})
	}
	for _, id := range ids {
		ch <- id
	}
	close(ch)
	wg.Wait()
	if n := missing.Load(); n > 0 {
		t.Fatalf("%d of %d acknowledged records are missing", n, len(ids))
	}
}

// TestServe_GracefulStop starts the server, writes, stops it with SIGTERM
// while requests are in flight, and checks that it exits 0 after finishing
// them, that every acknowledged write survives a restart and that nothing
// is served after exit.
func TestServe_GracefulStop(t *testing.T) {
	db := filepath.Join(t.TempDir(), "eventual.db")
	p := startServe(t, "--listen", "127.0.0.1:0", "--db", db)
	c := newClient(t, requestTimeout)

	r := must(t, c, http.StatusOK, "GET", p.Root+"healthz", nil)
	if got := object(t, r)["status"]; got != "ok" {
		t.Errorf("healthz status %v, want ok", got)
	}
	var acked ackSet
	r = must(t, c, http.StatusNoContent, "POST", p.URL+"accounts", map[string]any{"name": "x"})
	acked.add(idFromEntityID(t, r))

	// A slow request: its body arrives in two parts, the second only after
	// the server has begun to stop.
	slowID := uuid.NewString()
	pr, pw := io.Pipe()
	slowReq, err := http.NewRequest("POST", p.URL+"accounts", pr)
	if err != nil {
		t.Fatal(err)
	}
	slowReq.Header.Set("Content-Type", "application/json")
	slowReq.Header.Set("OData-Version", "4.0")
	wroteHeaders := make(chan struct{})
	slowReq = slowReq.WithContext(httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		WroteHeaders: func() { close(wroteHeaders) },
	}))
	type result struct {
		status int
		body   string
		err    error
	}
	slowDone := make(chan result, 1)
	slowClient := &http.Client{Timeout: 2 * exitTimeout, Transport: &http.Transport{DisableKeepAlives: true}}
	go func() {
		resp, err := slowClient.Do(slowReq)
		if err != nil {
			slowDone <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		slowDone <- result{status: resp.StatusCode, body: string(b)}
	}()
	if _, err := io.WriteString(pw, `{"accountid":"`+slowID+`",`); err != nil {
		t.Fatalf("write first part of the slow body: %v", err)
	}
	select {
	case <-wroteHeaders:
	case r := <-slowDone:
		t.Fatalf("slow request ended early: %+v", r)
	case <-time.After(requestTimeout):
		t.Fatal("slow request headers not written")
	}

	// Concurrent writers, running while the signal arrives.
	stop := make(chan struct{})
	waitLoad := load(t, c, p.URL, 4, "graceful", &acked, stop)
	time.Sleep(300 * time.Millisecond)

	p.Signal(syscall.SIGTERM)
	p.WaitStderr("stopping: finishing requests in flight", exitTimeout)
	select {
	case <-p.Exited:
		t.Fatalf("the server exited with a request in flight\nstderr:\n%s", p.Stderr.String())
	case <-time.After(200 * time.Millisecond):
	}
	if _, err := io.WriteString(pw, `"name":"slow"}`); err != nil {
		t.Fatalf("write second part of the slow body: %v", err)
	}
	pw.Close()
	select {
	case res := <-slowDone:
		if res.err != nil || res.status != http.StatusNoContent {
			t.Fatalf("request in flight during the stop: status %d, error %v, body %s; want 204", res.status, res.err, res.body)
		}
		acked.add(slowID)
	case <-time.After(2 * exitTimeout):
		t.Fatal("request in flight during the stop got no response")
	}

	if code := p.Wait(exitTimeout); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0\nstderr:\n%s", code, p.Stderr.String())
	}
	close(stop)
	sent, failed := waitLoad()
	if !strings.Contains(p.Stderr.String(), "stopped") {
		t.Errorf("stderr does not report the stop:\n%s", p.Stderr.String())
	}

	// Nothing is served after exit.
	after := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := after.Get(p.Root + "healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("GET /healthz after exit answered %d; want a connection error", resp.StatusCode)
	}

	ids := acked.list()
	t.Logf("load: %d POSTs sent, %d acknowledged (with the first and the slow one: %d), %d failed after the stop", sent, len(ids)-2, len(ids), failed)

	// Restart on the same file: every acknowledged record is there.
	p2 := startServe(t, "--listen", "127.0.0.1:0", "--db", db)
	c2 := newClient(t, requestTimeout)
	checkPresent(t, c2, p2.URL, ids)
	r = must(t, c2, http.StatusOK, "GET", p2.URL+"accounts("+slowID+")?$select=name", nil)
	if got := object(t, r)["name"]; got != "slow" {
		t.Errorf("slow record name %v, want slow", got)
	}
	p2.Stop()
}

// TestServe_KillDurability writes from 8 goroutines, kills the server with
// SIGKILL mid-load, restarts it on the same file and checks that every
// acknowledged record is there; twice, on the same database.
func TestServe_KillDurability(t *testing.T) {
	db := filepath.Join(t.TempDir(), "eventual.db")
	var all []string // acknowledged over all rounds
	for round := 1; round <= 2; round++ {
		t.Run(fmt.Sprintf("round%d", round), func(t *testing.T) {
			p := startServe(t, "--listen", "127.0.0.1:0", "--db", db)
			c := newClient(t, requestTimeout)
			if len(all) > 0 {
				// What the previous kill left must still be there.
				checkPresent(t, c, p.URL, all)
			}
			var acked ackSet
			stop := make(chan struct{})
			waitLoad := load(t, c, p.URL, 8, fmt.Sprintf("kill round %d", round), &acked, stop)
			time.Sleep(time.Second)
			p.Signal(syscall.SIGKILL)
			if code := p.Wait(exitTimeout); code != -1 {
				t.Errorf("exit code %d after SIGKILL, want -1 (killed by a signal)", code)
			}
			close(stop)
			sent, failed := waitLoad()
			ids := acked.list()
			t.Logf("round %d: %d POSTs sent, %d acknowledged, %d failed at the kill", round, sent, len(ids), failed)
			if len(ids) < 10 {
				t.Fatalf("only %d writes acknowledged in a second; the test proves nothing", len(ids))
			}
			all = append(all, ids...)

			p2 := startServe(t, "--listen", "127.0.0.1:0", "--db", db)
			checkPresent(t, newClient(t, requestTimeout), p2.URL, all)
			p2.Stop()
		})
		if t.Failed() {
			return
		}
	}
}

// TestServe_ConcurrentFirstReads sends bursts of concurrent reads to
// freshly started servers, as clients do after a restart; each burst uses
// a query shape the server has not seen yet, and every read must be
// answered promptly.
func TestServe_ConcurrentFirstReads(t *testing.T) {
	const burst = 8
	const id = "00000000-0000-0000-0000-0000000000ff"
	paths := []string{
		"accounts(" + id + ")",
		"contacts(" + id + ")",
		"new_orders?$select=new_name&$filter=new_name%20eq%20'x'",
	}
	for n := range 3 {
		p := startServe(t, "--listen", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), fmt.Sprintf("eventual%d.db", n)))
		c := newClient(t, 3*time.Second)
		// Open the connections first, so that the reads arrive together.
		var wg sync.WaitGroup
		for range burst {
			wg.Go(func() { send(c, "GET", p.Root+"healthz", nil) })
		}
		wg.Wait()
		for _, path := range paths {
			var hung atomic.Int64
			ready := make(chan struct{})
			for range burst {
				wg.Go(func() {
					<-ready
					start := time.Now()
					r, err := send(c, "GET", p.URL+path, nil)
					switch {
					case err != nil:
						hung.Add(1)
						t.Logf("GET %s: no answer after %v: %v", path, time.Since(start).Round(time.Millisecond), err)
					case r.Status >= 500:
						t.Errorf("GET %s: status %d: %s", path, r.Status, r.Body)
					}
				})
			}
			close(ready)
			wg.Wait()
			if h := hung.Load(); h > 0 {
				t.Fatalf("server %d: %d of %d concurrent first reads of %s got no answer within 3s", n+1, h, burst, path)
			}
		}
		p.Stop()
	}
}

// TestServe_Flags checks the command line and the configuration file.
func TestServe_Flags(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string { return writeFile(t, dir, name, content) }

	t.Run("BadPlaceholders", func(t *testing.T) {
		code, _, stderr := runEventual(t, exitTimeout, "serve", "--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "p.db"), "--placeholders", "bogus")
		if code == 0 {
			t.Fatalf("exit code 0, want non-zero\nstderr:\n%s", stderr)
		}
		if !strings.Contains(stderr, "placeholders") || !strings.Contains(stderr, `"bogus"`) || !strings.Contains(stderr, `"on" or "off"`) {
			t.Errorf("stderr does not explain the bad --placeholders value:\n%s", stderr)
		}
	})

	for _, tc := range []struct {
		name, yaml, field string
	}{
		{"UnknownTopLevelField", "listen: 127.0.0.1:0\nlisten_adress: 127.0.0.1:0\n", "listen_adress"},
		{"UnknownColumnField", "schema:\n  tables:\n    - logicalName: new_thing\n      primaryName: new_name\n      columns:\n        - {name: new_name, type: string, lenght: 10}\n", "lenght"},
		// Bad pipeline configuration stops the start with the reason.
		{"PlaceholderStage", "placeholder:\n  stage: postoperation\n", "stage PostOperation"},
		{"PlaceholderLookupForm", "placeholder:\n  lookups:\n    - lookup: parentcustomerid\n", "table.column"},
		{"PlaceholderNotALookup", "placeholder:\n  lookups:\n    - lookup: contact.lastname\n", "lastname"},
		{"PlaceholderRequestColumn", "placeholder:\n  lookups:\n    - lookup: new_order.new_customer\n      fromRequest: {description: new_phone}\n", "new_phone"},
		{"StepType", "steps:\n  - {name: s, type: script, message: Create, table: account}\n", "script"},
		{"StepMessage", "steps:\n  - {name: s, type: require, message: Creat, table: account, columns: [name]}\n", "Creat"},
		{"StepTable", "steps:\n  - {name: s, type: require, message: Create, table: acount, columns: [name]}\n", "acount"},
		{"StepAsyncStage", "steps:\n  - {name: s, type: webhook, message: Create, table: account, stage: preoperation, mode: async, url: 'http://127.0.0.1:1/'}\n", "asynchronous"},
		{"WebhookURL", "steps:\n  - {name: s, type: webhook, message: Create, table: account, url: 'example.test/hook'}\n", "example.test/hook"},
		{"WebhookTimeout", "steps:\n  - {name: s, type: webhook, message: Create, table: account, url: 'http://127.0.0.1:1/', timeout: soon}\n", "soon"},
		{"DuplicateStepName", "steps:\n  - {name: s, type: require, message: Create, table: account, columns: [name]}\n  - {name: s, type: require, message: Create, table: account, columns: [name]}\n", `step named "s" is already registered`},
		{"SetValueStage", "steps:\n  - {name: s, type: setvalue, message: Create, table: account, stage: postoperation, values: {name: x}}\n", "runs before the write"},
		{"SetValueColumn", "steps:\n  - {name: s, type: setvalue, message: Create, table: account, values: {nmae: x}}\n", "nmae"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := write(tc.name+".yaml", tc.yaml)
			code, stdout, stderr := runEventual(t, exitTimeout, "serve", "--listen", "127.0.0.1:0", "--db", filepath.Join(dir, tc.name+".db"), "--config", cfg)
			if code == 0 {
				t.Fatalf("exit code 0, want non-zero\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
			}
			if strings.Contains(stdout, "serving") {
				t.Errorf("the server started despite the bad config:\n%s", stdout)
			}
			if !strings.Contains(stderr, tc.field) {
				t.Errorf("stderr does not name the unknown field %q:\n%s", tc.field, stderr)
			}
		})
	}

	t.Run("CustomTable", func(t *testing.T) {
		db := filepath.Join(dir, "custom.db")
		// projectConfig configures the table new_project, keyed by new_name,
		// with the column lines extra after new_name.
		projectConfig := func(extra string) string {
			return `schema:
  tables:
    - logicalName: new_project
      primaryName: new_name
      columns:
        - {name: new_name, type: string}
` + extra + `      keys:
        - {name: new_name_key, columns: [new_name]}
`
		}
		v1 := write("v1.yaml", projectConfig(""))
		p := startServe(t, "--listen", "127.0.0.1:0", "--db", db, "--config", v1)
		c := newClient(t, requestTimeout)
		r := must(t, c, http.StatusNoContent, "POST", p.URL+"new_projects", map[string]any{"new_name": "alpha"})
		id := idFromEntityID(t, r)
		r = must(t, c, http.StatusOK, "GET", p.URL+"new_projects("+id+")", nil)
		m := object(t, r)
		if m["new_name"] != "alpha" || m["new_projectid"] != id {
			t.Errorf("GET new_projects(%s): %s", id, r.Body)
		}
		if _, ok := m["new_code"]; ok {
			t.Errorf("new_code exists before it is configured: %s", r.Body)
		}
		r = must(t, c, http.StatusOK, "GET", p.URL+"new_projects(new_name='alpha')?$select=new_name", nil)
		if got := object(t, r)["new_projectid"]; got != id {
			t.Errorf("GET by alternate key new_name: new_projectid %v, want %s", got, id)
		}
		// The built-in tables are still served.
		must(t, c, http.StatusNoContent, "POST", p.URL+"accounts", map[string]any{"name": "still here"})
		p.Stop()

		v2 := write("v2.yaml", projectConfig("        - {name: new_code, type: string, maxLength: 20}\n"))
		p = startServe(t, "--listen", "127.0.0.1:0", "--db", db, "--config", v2)
		c = newClient(t, requestTimeout)
		r = must(t, c, http.StatusOK, "GET", p.URL+"new_projects("+id+")", nil)
		m = object(t, r)
		if m["new_name"] != "alpha" {
			t.Errorf("old row after adding a column: %s", r.Body)
		}
		if v, ok := m["new_code"]; !ok || v != nil {
			t.Errorf("new column new_code on the old row: present %v, value %v; want null\n%s", ok, v, r.Body)
		}
		must(t, c, http.StatusNoContent, "PATCH", p.URL+"new_projects("+id+")", map[string]any{"new_code": "A-1"})
		r = must(t, c, http.StatusNoContent, "POST", p.URL+"new_projects", map[string]any{"new_name": "beta", "new_code": "B-2"})
		id2 := idFromEntityID(t, r)
		r = must(t, c, http.StatusOK, "GET", p.URL+"new_projects?$select=new_name,new_code&$orderby=new_name", nil)
		var list struct {
			Value []map[string]any `json:"value"`
		}
		if err := json.Unmarshal(r.Body, &list); err != nil {
			t.Fatalf("collection body: %v\n%s", err, r.Body)
		}
		if len(list.Value) != 2 ||
			list.Value[0]["new_projectid"] != id || list.Value[0]["new_code"] != "A-1" ||
			list.Value[1]["new_projectid"] != id2 || list.Value[1]["new_code"] != "B-2" {
			t.Errorf("new_projects after the migration: %s", r.Body)
		}
		r = must(t, c, http.StatusOK, "GET", p.URL+"$metadata", nil)
		if !bytes.Contains(r.Body, []byte(`Name="new_code"`)) {
			t.Errorf("$metadata does not declare new_code")
		}
		p.Stop()
	})
}

// writeFile writes content to the file name in dir (mode 0600) and
// returns its path; a failure ends the test.
func writeFile(tb testing.TB, dir, name, content string) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}
