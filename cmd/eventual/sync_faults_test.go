package main_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eventual-pp/eventual/internal/testproc"
)

// The sync's timings in these tests: a breaker that trips after 3 failed
// attempts in a row and stays open 250ms, doubling to at most 1s.
const (
	faultBreakerFailures = 3
	faultOpenFor         = 250 * time.Millisecond
	faultMaxOpenFor      = time.Second
)

// faultConfig writes the sync's --config file with the short breaker.
func faultConfig(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "sync.yaml")
	yaml := fmt.Sprintf("breaker:\n  failures: %d\n  openFor: %v\n  maxOpenFor: %v\n", faultBreakerFailures, faultOpenFor, faultMaxOpenFor)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// faultSyncArgs are the arguments of a sync from source to target with the
// tests' short timings.
func faultSyncArgs(t testing.TB, dir, source, target string) []string {
	return []string{"sync", "--source", source, "--target", target, "--tables", "account,contact",
		"--state", filepath.Join(dir, "sync.db"), "--batch", "20", "--interval", "20ms", "--lease", "200ms",
		"--config", faultConfig(t, dir)}
}

// tableDiffs is equalTables without failing: the differences between A
// and B, none when B holds exactly A's rows.
func tableDiffs(t testing.TB, c *http.Client, a, b string) []string {
	t.Helper()
	var diffs []string
	for set := range syncedColumns {
		as, bs := table(t, c, a, set), table(t, c, b, set)
		for id, ar := range as {
			br, ok := bs[id]
			if !ok {
				diffs = append(diffs, set+" missing on B: "+id)
				continue
			}
			if br["eventual_hydrationstate"] == float64(1) {
				diffs = append(diffs, set+" still a placeholder on B: "+id)
			}
			delete(ar, "eventual_hydrationstate")
			delete(br, "eventual_hydrationstate")
			if fmt.Sprint(ar) != fmt.Sprint(br) {
				diffs = append(diffs, fmt.Sprintf("%s differs: A %v, B %v", set, ar, br))
			}
		}
		for id, br := range bs {
			if _, ok := as[id]; !ok && br["eventual_hydrationstate"] != float64(1) {
				diffs = append(diffs, fmt.Sprintf("%s on B only: %v", set, br))
			}
		}
	}
	sort.Strings(diffs)
	return diffs
}

// waitEqual polls until B holds exactly A's rows, and returns how long it
// took; it fails the test after timeout.
func waitEqual(t testing.TB, c *http.Client, a, b string, timeout time.Duration, p *proc) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		diffs := tableDiffs(t, c, a, b)
		if len(diffs) == 0 {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("B is not equal to A %v after the fault: %d differences, the first: %v\nsync stderr:\n%s",
				timeout, len(diffs), diffs[:min(5, len(diffs))], p.Stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort returns a port on 127.0.0.1 that nothing listens on now.
func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

// proxyEvent is one request that reached the fault proxy.
type proxyEvent struct {
	At     time.Time // arrival
	Done   time.Time // the answer was written
	Method string
	Path   string
	Status int
	// RetryAfter is the Retry-After the proxy announced with a 429.
	RetryAfter time.Duration
}

// fault is the proxy's made-up answer to a request; nil forwards it.
type fault struct {
	Status     int
	RetryAfter int // seconds; 0 for no header
	Body       string
}

// faultProxy is a reverse proxy to an eventual serve that records every
// request and answers some of them itself.
type faultProxy struct {
	URL string // the proxy's base URL, http://127.0.0.1:PORT/

	mu     sync.Mutex
	events []proxyEvent
	inject func(n int, r *http.Request) *fault // n counts requests from 0
}

func startFaultProxy(t testing.TB, target string) *faultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	t.Cleanup(tr.CloseIdleConnections)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = tr
	fp := &faultProxy{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fp.URL = "http://" + ln.Addr().String() + "/"
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev := proxyEvent{At: time.Now(), Method: r.Method, Path: r.URL.RequestURI()}
		fp.mu.Lock()
		n := len(fp.events)
		fp.events = append(fp.events, ev) // reserve the slot in arrival order
		inject := fp.inject
		fp.mu.Unlock()
		var f *fault
		if inject != nil {
			f = inject(n, r)
		}
		if f != nil {
			if f.RetryAfter > 0 {
				w.Header().Set("Retry-After", fmt.Sprint(f.RetryAfter))
				ev.RetryAfter = time.Duration(f.RetryAfter) * time.Second
			}
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			ev.Status = f.Status
			ev.Done = time.Now()
			w.WriteHeader(f.Status)
			fmt.Fprint(w, f.Body)
		} else {
			sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
			rp.ServeHTTP(sw, r)
			ev.Status = sw.status
			ev.Done = time.Now()
		}
		fp.mu.Lock()
		fp.events[n] = ev
		fp.mu.Unlock()
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return fp
}

// set replaces the fault injector; nil forwards everything.
func (fp *faultProxy) set(inject func(n int, r *http.Request) *fault) {
	fp.mu.Lock()
	fp.inject = inject
	fp.mu.Unlock()
}

// snapshot returns the requests so far, in arrival order.
func (fp *faultProxy) snapshot() []proxyEvent {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	return append([]proxyEvent(nil), fp.events...)
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// isWrite reports whether a request writes (anything but a read).
func isWrite(ev proxyEvent) bool {
	return ev.Method != http.MethodGet && ev.Method != http.MethodHead
}

// TestSync_SourceDown: the source killed with SIGKILL while the sync runs
// does not stop the sync — it stays alive, its source breaker open — and
// once the source is back on the same port and database the running sync
// catches up on its own, B equal to A.
func TestSync_SourceDown(t *testing.T) {
	dir := t.TempDir()
	aArgs := []string{"--listen", "127.0.0.1:" + freePort(t), "--db", filepath.Join(dir, "a.db"), "--placeholders", "off"}
	a := startServe(t, aArgs...)
	b := startServe(t, "--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "b.db"))
	c := newClient(t, requestTimeout)
	p := testproc.Spawn(t, binary, faultSyncArgs(t, dir, a.Root, b.URL)...)
	writeLoad(t, c, a.URL, 0, 20)
	waitEqual(t, c, a.URL, b.URL, 20*time.Second, p)

	writeLoad(t, c, a.URL, 1, 10) // the sync may or may not have read these
	a.Signal(syscall.SIGKILL)
	a.Wait(exitTimeout)
	killed := time.Now()
	// The sync waits: its source breaker opens, and it does not exit.
	p.WaitStderr("circuit breaker state change", 10*time.Second)
	for time.Since(killed) < 3*time.Second {
		select {
		case <-p.Exited:
			t.Fatalf("the sync exited while the source was down (%v)\n%s", p.Cmd.ProcessState, p.Stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	opens := 0
	for _, line := range strings.Split(p.Stderr.String(), "\n") {
		if strings.Contains(line, "circuit breaker state change") && strings.Contains(line, "endpoint=source") && strings.Contains(line, "to=open") {
			opens++
		}
	}
	if opens == 0 {
		t.Errorf("the sync's stderr shows no source breaker open while the source is down:\n%s", p.Stderr.String())
	}

	a = startServe(t, aArgs...) // the same port and database
	restarted := time.Now()
	writeLoad(t, c, a.URL, 2, 10)
	took := waitEqual(t, c, a.URL, b.URL, 10*time.Second, p)
	t.Logf("source down %v (%d breaker openings logged); B equal to A %v after the restart (%v after the last write)",
		restarted.Sub(killed).Round(time.Millisecond), opens, time.Since(restarted).Round(time.Millisecond), took.Round(time.Millisecond))
	select {
	case <-p.Exited:
		t.Fatalf("the sync exited (%v)\n%s", p.Cmd.ProcessState, p.Stderr.String())
	default:
	}
	p.Stop()
	code, _, stderr := runEventual(t, 60*time.Second, append(faultSyncArgs(t, dir, a.Root, b.URL), "--once")...)
	if code != 0 {
		t.Fatalf("sync --once exited %d\n%s", code, stderr)
	}
	equalTables(t, c, a.URL, b.URL)
}

// targetOutage runs a sync through a fault proxy to B, answers every
// request to B with 503 for 3s while A takes writes, then forwards again.
// It returns the requests that reached the proxy during the outage, and
// how long after the proxy forwarded again the sync's first successful
// write to B came. B ends equal to A.
func targetOutage(t *testing.T) (during int, resumed time.Duration) {
	t.Helper()
	dir := t.TempDir()
	a, b, c := startAB(t, dir)
	fp := startFaultProxy(t, b.Root)
	p := testproc.Spawn(t, binary, faultSyncArgs(t, dir, a.Root, fp.URL)...)
	writeLoad(t, c, a.URL, 0, 10)
	waitEqual(t, c, a.URL, b.URL, 20*time.Second, p)

	fp.set(func(int, *http.Request) *fault {
		return &fault{Status: http.StatusServiceUnavailable, Body: `{"error":{"code":"0x80040216","message":"The service is unavailable."}}`}
	})
	down := time.Now()
	before := len(fp.snapshot())
	for round := 1; time.Since(down) < targetOutageFor; round++ {
		writeLoad(t, c, a.URL, round, 3)
		time.Sleep(100 * time.Millisecond)
	}
	up := time.Now()
	fp.set(nil)
	var trace []string
	for _, ev := range fp.snapshot()[before:] {
		if ev.At.Before(up) {
			during++
			trace = append(trace, fmt.Sprintf("+%v %s %d", ev.At.Sub(down).Round(time.Millisecond), ev.Method, ev.Status))
		}
	}
	t.Logf("%d requests to the target during a %v outage: %v", during, up.Sub(down).Round(time.Millisecond), trace)
	if during == 0 {
		t.Errorf("no request reached the down target in %v: the sync did not probe it", up.Sub(down))
	}

	deadline := time.Now().Add(15 * time.Second)
	var firstWrite time.Time
	for firstWrite.IsZero() {
		for _, ev := range fp.snapshot() {
			if !ev.At.Before(up) && isWrite(ev) && ev.Status >= 200 && ev.Status < 300 {
				firstWrite = ev.Done
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no successful write to the target within 15s of its return\n%s", p.Stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	resumed = firstWrite.Sub(up)
	t.Logf("first successful write to the target %v after it came back", resumed.Round(time.Millisecond))
	waitEqual(t, c, a.URL, b.URL, 15*time.Second, p)
	p.Stop()
	code, _, stderr := runEventual(t, 60*time.Second, append(faultSyncArgs(t, dir, a.Root, fp.URL), "--once")...)
	if code != 0 {
		t.Fatalf("sync --once exited %d\n%s", code, stderr)
	}
	equalTables(t, c, a.URL, b.URL)
	return during, resumed
}

// targetOutageFor is how long targetOutage keeps the target down.
const targetOutageFor = 3 * time.Second

// TestSync_TargetDownRequestsBounded: while the target answers every
// request with 503 the sync's breaker keeps the requests to it few, and
// when the target is back the sync resumes on its own, B equal to A.
func TestSync_TargetDownRequestsBounded(t *testing.T) {
	during, resumed := targetOutage(t)
	// The bound: the failures that trip the breaker (3), plus the attempts
	// already in flight or admitted when it trips (the client sends at most
	// 4 at once: no x-ms-dop-hint here), plus one probe per open period —
	// open periods of 250ms, 500ms, then 1s make 4 probes in 3s; counted
	// as if every period were the shortest, 3s/250ms = 12. So 3 + 4 + 12 =
	// 19, doubled for scheduling on a slow machine: 38. A sync without a
	// breaker, polling every 20ms with up to 5 attempts a call, sends
	// hundreds.
	bound := 2 * (faultBreakerFailures + 4 + int(targetOutageFor/faultOpenFor))
	if during > bound {
		t.Errorf("%d requests reached the down target in %v, want at most %d", during, targetOutageFor, bound)
	}
	// The first write after the target is back waits at most for the
	// rest of the breaker's open period (at most maxOpenFor, 1s: no retry
	// wait outlasts it) and the sync's interval (20ms), plus 1s of slack
	// for a 2-core machine under -race.
	if limit := faultMaxOpenFor + 20*time.Millisecond + time.Second; resumed > limit {
		t.Errorf("the first successful write to the target came %v after it was back, want within %v", resumed, limit)
	}
}

// serviceProtection429 are Dataverse's three service-protection errors.
var serviceProtection429 = []string{
	`{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit of 6000 over time window of 300 seconds."}}`,
	`{"error":{"code":"0x80072321","message":"Combined execution time of incoming requests exceeded limit of 1,200,000 milliseconds over time window of 300 seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later."}}`,
	`{"error":{"code":"0x80072326","message":"Number of concurrent requests exceeded the limit of 52."}}`,
}

// TestSync_429Storm: the target throttles every second request of the
// first ones with 429 and Retry-After (1s, sometimes 2s) and Dataverse's
// service-protection errors; the sync sends nothing to it while a
// Retry-After it was given runs, finishes (--once exits 0), and B equals
// A.
func TestSync_429Storm(t *testing.T) {
	dir := t.TempDir()
	a, b, c := startAB(t, dir)
	fp := startFaultProxy(t, b.Root)
	writeLoad(t, c, a.URL, 0, 40)
	const storm = 14 // requests: every second of them is throttled, 7 in all
	fp.set(func(n int, r *http.Request) *fault {
		if n >= storm || n%2 == 0 {
			return nil
		}
		ra := 1
		if n%3 == 0 {
			ra = 2
		}
		return &fault{Status: http.StatusTooManyRequests, RetryAfter: ra, Body: serviceProtection429[n%3]}
	})
	start := time.Now()
	code, _, stderr := runEventual(t, 60*time.Second, append(faultSyncArgs(t, dir, a.Root, fp.URL), "--once")...)
	t.Logf("sync --once under the storm: exit %d after %v", code, time.Since(start).Round(time.Millisecond))
	if code != 0 {
		t.Fatalf("sync --once exited %d\n%s", code, stderr)
	}
	events := fp.snapshot()
	// A request that reached the proxy within grace of a 429 was on its
	// way before the sync could read the 429 (the client sends up to 4 at
	// once); any later one before the Retry-After ends is a violation. The
	// client counts the Retry-After from when it read the answer, after
	// the proxy wrote it, so 5ms of slack at the end is plenty.
	const grace, slack = 50 * time.Millisecond, 5 * time.Millisecond
	n429 := 0
	for _, th := range events {
		if th.Status != http.StatusTooManyRequests {
			continue
		}
		n429++
		end := th.Done.Add(th.RetryAfter - slack)
		next := time.Duration(-1)
		for _, ev := range events {
			if ev.At.After(th.Done.Add(grace)) && (next < 0 || ev.At.Sub(th.Done) < next) {
				next = ev.At.Sub(th.Done)
			}
		}
		t.Logf("429 with Retry-After %v: the next request %v later", th.RetryAfter, next.Round(time.Millisecond))
		for _, ev := range events {
			if ev.At.After(th.Done.Add(grace)) && ev.At.Before(end) {
				t.Errorf("%s %s arrived %v after a 429 with Retry-After %v", ev.Method, ev.Path, ev.At.Sub(th.Done).Round(time.Millisecond), th.RetryAfter)
			}
		}
	}
	t.Logf("%d requests to the target, %d answered 429", len(events), n429)
	if n429 == 0 {
		t.Fatalf("no request was throttled (%d requests): the storm tested nothing", len(events))
	}
	equalTables(t, c, a.URL, b.URL)
}

// TestSync_ChildBeforeParent: B holds contacts that reference accounts A
// has — one by id, one by alternate key — before the sync ever ran; after
// "sync --once" B holds exactly one of each account, hydrated, and the
// contacts are bound to them.
func TestSync_ChildBeforeParent(t *testing.T) {
	dir := t.TempDir()
	a, b, c := startAB(t, dir)
	byID := idFromEntityID(t, must(t, c, 204, "POST", a.URL+"accounts", map[string]any{"name": "Parent by id", "accountnumber": "PID"}))
	byKey := idFromEntityID(t, must(t, c, 204, "POST", a.URL+"accounts", map[string]any{"name": "Parent by key", "accountnumber": "PKEY"}))
	writeLoad(t, c, a.URL, 0, 10)
	must(t, c, 204, "POST", b.URL+"contacts", map[string]any{"lastname": "b child by id",
		"parentcustomerid_account@odata.bind": "/accounts(" + byID + ")"})
	must(t, c, 204, "POST", b.URL+"contacts", map[string]any{"lastname": "b child by key",
		"parentcustomerid_account@odata.bind": "/accounts(accountnumber='PKEY')"})
	for _, acc := range table(t, c, b.URL, "accounts") {
		if acc["eventual_hydrationstate"] != float64(1) {
			t.Fatalf("B's account before the sync is not a placeholder: %v", acc)
		}
	}

	code, _, stderr := runEventual(t, 60*time.Second, append(faultSyncArgs(t, dir, a.Root, b.URL), "--once")...)
	if code != 0 {
		t.Fatalf("sync --once exited %d\n%s", code, stderr)
	}
	accounts := table(t, c, b.URL, "accounts")
	for _, want := range []struct{ id, number string }{{byID, "PID"}, {byKey, "PKEY"}} {
		n := 0
		for id, acc := range accounts {
			if acc["accountnumber"] == want.number {
				n++
				if id != want.id {
					t.Errorf("B's account %s is %s, want A's id %s", want.number, id, want.id)
				}
				if acc["eventual_hydrationstate"] == float64(1) {
					t.Errorf("B's account %s is still a placeholder: %v", want.number, acc)
				}
			}
		}
		if n != 1 {
			t.Errorf("B holds %d accounts %s, want 1", n, want.number)
		}
	}
	bOwn := map[string]string{"b child by id": byID, "b child by key": byKey}
	for id, row := range table(t, c, b.URL, "contacts") {
		name, _ := row["lastname"].(string)
		parent, ok := bOwn[name]
		if !ok {
			continue
		}
		delete(bOwn, name)
		if row["_parentcustomerid_value"] != parent {
			t.Errorf("B's contact %q is bound to %v, want %s", name, row["_parentcustomerid_value"], parent)
		}
		must(t, c, 204, "DELETE", b.URL+"contacts("+id+")", nil)
	}
	if len(bOwn) > 0 {
		t.Errorf("B's own contacts missing: %v", bOwn)
	}
	equalTables(t, c, a.URL, b.URL)
}

// TestSync_DeleteOfRowNeverSeen: deletions of records the target never
// had — created and deleted on A before the sync ran, or copied, deleted
// on B directly, then deleted on A — are no failures: "sync --once" exits
// 0, no dead letter, B equals A.
func TestSync_DeleteOfRowNeverSeen(t *testing.T) {
	dir := t.TempDir()
	a, b, c := startAB(t, dir)
	writeLoad(t, c, a.URL, 0, 10) // deletes some of its accounts too
	for i := range 5 {
		acc := idFromEntityID(t, must(t, c, 204, "POST", a.URL+"accounts", map[string]any{"name": fmt.Sprintf("gone %d", i)}))
		con := idFromEntityID(t, must(t, c, 204, "POST", a.URL+"contacts", map[string]any{"lastname": fmt.Sprintf("gone %d", i),
			"parentcustomerid_account@odata.bind": "/accounts(" + acc + ")"}))
		must(t, c, 204, "DELETE", a.URL+"contacts("+con+")", nil)
		must(t, c, 204, "DELETE", a.URL+"accounts("+acc+")", nil)
	}
	args := faultSyncArgs(t, dir, a.Root, b.URL)
	once := func(step string) {
		t.Helper()
		code, _, stderr := runEventual(t, 60*time.Second, append(args, "--once")...)
		if code != 0 {
			t.Fatalf("%s: sync --once exited %d\n%s", step, code, stderr)
		}
	}
	once("the first sync")
	equalTables(t, c, a.URL, b.URL)

	// Copied, then deleted on B, then on A: the delta's deletion finds
	// nothing on B.
	acc := idFromEntityID(t, must(t, c, 204, "POST", a.URL+"accounts", map[string]any{"name": "copied then gone", "accountnumber": "CTG"}))
	con := idFromEntityID(t, must(t, c, 204, "POST", a.URL+"contacts", map[string]any{"lastname": "copied then gone",
		"parentcustomerid_account@odata.bind": "/accounts(" + acc + ")"}))
	once("the sync of the new records")
	must(t, c, 200, "GET", b.URL+"accounts("+acc+")?$select=name", nil)
	must(t, c, 200, "GET", b.URL+"contacts("+con+")?$select=lastname", nil)
	must(t, c, 204, "DELETE", b.URL+"contacts("+con+")", nil)
	must(t, c, 204, "DELETE", b.URL+"accounts("+acc+")", nil)
	must(t, c, 204, "DELETE", a.URL+"contacts("+con+")", nil)
	must(t, c, 204, "DELETE", a.URL+"accounts("+acc+")", nil)
	once("the sync of the deletions")

	code, out, stderr := runEventual(t, 30*time.Second, "sync", "deadletters", "list", "--state", filepath.Join(dir, "sync.db"))
	if code != 0 {
		t.Fatalf("sync deadletters list exited %d\n%s", code, stderr)
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "TABLE") {
		t.Errorf("dead letters after deletions of records B did not have:\n%s", out)
	}
	equalTables(t, c, a.URL, b.URL)
}

// TestSync_OncePoisonRecord: a record B refuses for good (a step on B
// requires a column A left empty) becomes a dead letter, the rest of the
// table arrives, and "sync --once" exits non-zero naming it, as a record
// is left undone; "deadletters list" shows it with B's error; after
// "deadletters drop" --once exits 0.
func TestSync_OncePoisonRecord(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "b.yaml")
	if err := os.WriteFile(cfg, []byte("steps:\n  - {name: phone-required, type: require, message: Create, table: account, stage: prevalidation, columns: [telephone1]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, b, c := startAB(t, dir, "--config", cfg)
	for i := range 5 {
		must(t, c, 204, "POST", a.URL+"accounts", map[string]any{"name": fmt.Sprint("ok ", i), "telephone1": "555"})
	}
	poison := idFromEntityID(t, must(t, c, 204, "POST", a.URL+"accounts", map[string]any{"name": "no phone"}))
	statePath := filepath.Join(dir, "sync.db")
	args := []string{"sync", "--source", a.Root, "--target", b.Root, "--tables", "account", "--state", statePath, "--once"}
	code, _, stderr := runEventual(t, 60*time.Second, args...)
	if code == 0 || !strings.Contains(stderr, "refused 1 records") {
		t.Fatalf("sync --once with a poison record exited %d:\n%s", code, stderr)
	}
	if n := len(table(t, c, b.URL, "accounts")); n != 5 {
		t.Errorf("B has %d accounts, want the 5 it takes", n)
	}
	code, out, _ := runEventual(t, 30*time.Second, "sync", "deadletters", "list", "--state", statePath)
	if code != 0 || !strings.Contains(out, poison) || !strings.Contains(out, "0x80040265") {
		t.Errorf("deadletters list exited %d:\n%s", code, out)
	}
	if code, _, stderr := runEventual(t, 30*time.Second, "sync", "deadletters", "drop", "--table", "account", "--id", poison, "--state", statePath); code != 0 {
		t.Fatalf("deadletters drop exited %d:\n%s", code, stderr)
	}
	if code, _, stderr := runEventual(t, 60*time.Second, args...); code != 0 {
		t.Errorf("sync --once after the drop exited %d:\n%s", code, stderr)
	}
}
