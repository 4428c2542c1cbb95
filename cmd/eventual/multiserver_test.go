package main_test

import (
	"github.com/eventual-pp/eventual/internal/testhttp"
	"github.com/eventual-pp/eventual/internal/testproc"

	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventual-pp/eventual/internal/testpg"
	"github.com/google/uuid"
)

// Time bounds of TestServe_TwoProcessesOnePostgres.
const (
	hammerBeforeRestart = 2 * time.Second         // load before one process restarts
	hammerAfterRestart  = 2500 * time.Millisecond // load after it is back
	overrun             = 15 * time.Second        // how long a round may outlive the load
)

// sendH is send with extra request headers, given as name, value pairs.
func sendH(c *http.Client, method, url string, body any, headers ...string) (*response, error) {
	req, err := testhttp.NewRequest(method, url, body, "application/json", headers...)
	if err != nil {
		return nil, err
	}
	resp, data, err := testhttp.Do(c, req)
	if err != nil {
		return nil, err
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// backend is one of the processes sharing the database. While it is
// restarting, requests meant for it go to the other one.
type backend struct {
	mu     sync.RWMutex // held for reading by every request in flight
	p      *proc
	up     bool
	served atomic.Int64 // responses received from this backend
}

// pair routes requests to two processes.
type pair [2]*backend

// do sends a request for the service-root-relative path to backend pref,
// or to the other one while pref is down. It returns which backend
// answered.
func (b *pair) do(c *http.Client, pref int, method, path string, body any, headers ...string) (*response, int, error) {
	for _, i := range []int{pref, 1 - pref} {
		be := b[i]
		be.mu.RLock()
		if !be.up {
			be.mu.RUnlock()
			continue
		}
		r, err := sendH(c, method, be.p.URL+path, body, headers...)
		be.mu.RUnlock()
		if err == nil {
			be.served.Add(1)
		}
		return r, i, err
	}
	return nil, -1, errors.New("both processes are down")
}

// down marks backend i down once no request is in flight to it, and
// returns its process.
func (b *pair) down(i int) *proc {
	b[i].mu.Lock()
	defer b[i].mu.Unlock()
	b[i].up = false
	return b[i].p
}

// bringUp puts p behind backend i.
func (b *pair) bringUp(i int, p *proc) {
	b[i].mu.Lock()
	defer b[i].mu.Unlock()
	b[i].p, b[i].up = p, true
}

// entityID is idFromEntityID for goroutines other than the test's.
func entityID(r *response) (string, error) {
	loc := r.Header.Get("OData-EntityId")
	i := strings.LastIndexByte(loc, '(')
	if i < 0 || !strings.HasSuffix(loc, ")") {
		return "", fmt.Errorf("OData-EntityId %q does not end in (<id>)", loc)
	}
	return loc[i+1 : len(loc)-1], nil
}

// errLimiter reports at most a few errors of one kind, then counts them.
type errLimiter struct {
	t testing.TB
	n atomic.Int64
}

func (e *errLimiter) errorf(format string, args ...any) {
	e.t.Helper()
	if e.n.Add(1) <= 10 {
		e.t.Errorf(format, args...)
	}
}

// decode decodes a JSON object body; it reports a bad body through e.
func decode(e *errLimiter, what string, r *response) map[string]any {
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		e.errorf("%s: body is not a JSON object: %v\n%s", what, err, r.Body)
		return nil
	}
	return m
}

// errorCode returns the error.code of an error body.
func errorCode(r *response) string {
	var b struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	json.Unmarshal(r.Body, &b)
	return b.Error.Code
}

// countKey returns the ids of the accounts with the given accountnumber.
func countKey(t testing.TB, c *http.Client, serviceRoot, key string) []string {
	t.Helper()
	r := must(t, c, http.StatusOK, "GET", serviceRoot+"accounts?$select=accountnumber&$filter=accountnumber%20eq%20'"+url.QueryEscape(key)+"'", nil)
	var list struct {
		Value []struct {
			ID string `json:"accountid"`
		} `json:"value"`
	}
	if err := json.Unmarshal(r.Body, &list); err != nil {
		t.Fatalf("collection body: %v\n%s", err, r.Body)
	}
	var ids []string
	for _, v := range list.Value {
		ids = append(ids, v.ID)
	}
	return ids
}

// counterValue reads numberofemployees of accounts(id).
func counterValue(t testing.TB, c *http.Client, serviceRoot, id string) any {
	t.Helper()
	r := must(t, c, http.StatusOK, "GET", serviceRoot+"accounts("+id+")?$select=numberofemployees", nil)
	return object(t, r)["numberofemployees"]
}

// pageAll pages through accounts on one service root with
// odata.maxpagesize=5, following @odata.nextLink exactly. It returns the
// ids in the order received, whether the pass completed before stop
// closed, and the number of pages.
func pageAll(c *http.Client, serviceRoot string, stop <-chan struct{}, e *errLimiter) (ids []string, complete bool, pages int) {
	link := serviceRoot + "accounts?$select=name,accountnumber"
	for link != "" {
		select {
		case <-stop:
			return ids, false, pages
		default:
		}
		r, err := sendH(c, "GET", link, nil, "Prefer", "odata.maxpagesize=5")
		if err != nil {
			e.errorf("paging: GET %s: %v", link, err)
			return ids, false, pages
		}
		if r.Status != http.StatusOK {
			e.errorf("paging: GET %s: status %d, want 200\n%s", link, r.Status, r.Body)
			return ids, false, pages
		}
		pages++
		var page struct {
			Value []struct {
				ID string `json:"accountid"`
			} `json:"value"`
			NextLink string `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(r.Body, &page); err != nil {
			e.errorf("paging: GET %s: body: %v\n%s", link, err, r.Body)
			return ids, false, pages
		}
		if len(page.Value) > 5 {
			e.errorf("paging: GET %s: %d records on a page of at most 5", link, len(page.Value))
		}
		if page.NextLink != "" && !strings.HasPrefix(page.NextLink, serviceRoot+"accounts?") {
			e.errorf("paging: @odata.nextLink %q does not continue on %s", page.NextLink, serviceRoot)
			return ids, false, pages
		}
		if page.NextLink != "" && len(page.Value) == 0 {
			e.errorf("paging: GET %s: an empty page with a @odata.nextLink", link)
		}
		for _, v := range page.Value {
			ids = append(ids, v.ID)
		}
		link = page.NextLink
	}
	return ids, true, pages
}

// TestServe_TwoProcessesOnePostgres runs two "eventual serve" processes on
// one PostgreSQL schema, hammers both at once with conflicting writes and
// a paging reader, restarts one of them midway, and checks that they
// behave as one instance.
func TestServe_TwoProcessesOnePostgres(t *testing.T) {
	if testpg.DSN() == "" {
		t.Skipf("PostgreSQL process tests are off: set %s to a PostgreSQL DSN (postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", testpg.EnvDSN)
	}
	began := time.Now()
	dsn := testpg.Schema(t, "twoproc")
	args := []string{"--listen", "127.0.0.1:0", "--db", dsn}
	procs := pair{{p: startServe(t, args...), up: true}, {p: startServe(t, args...), up: true}}
	t.Logf("two processes up after %v: pids %d and %d", time.Since(began).Round(time.Millisecond), procs[0].p.Cmd.Process.Pid, procs[1].p.Cmd.Process.Pid)
	reader := procs[1].p // never restarted
	c := newClient(t, requestTimeout)

	// Seed records every paging pass must see exactly once.
	seeds := map[string]bool{}
	for i := range 20 {
		id := uuid.NewString()
		must(t, c, http.StatusNoContent, "POST", procs[i%2].p.URL+"accounts", map[string]any{"accountid": id, "name": fmt.Sprint("seed ", i)})
		seeds[id] = true
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	stopped := false
	halt := func() {
		if !stopped {
			stopped = true
			close(stop)
		}
		wg.Wait()
	}
	defer halt() // also on t.Fatal, so that no worker outlives the test
	stopping := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	// A round begun before the stop must end soon after it.
	var hardDeadline atomic.Int64
	hardDeadline.Store(time.Now().Add(hammerBeforeRestart + testproc.ReadyTimeout + exitTimeout + overrun).UnixNano())
	late := func() bool { return time.Now().UnixNano() > hardDeadline.Load() }

	// (1) Upserts of one alternate key, 64 at a time, split across both.
	upsertErr := &errLimiter{t: t}
	var upsertRounds, upserts atomic.Int64
	wg.Go(func() {
		c := newClient(t, requestTimeout)
		for round := 0; round == 0 || !stopping(); round++ {
			var rw sync.WaitGroup
			for i := range 64 {
				rw.Go(func() {
					r, _, err := procs.do(c, i%2, "PATCH", "accounts(accountnumber='TWO-1')", map[string]any{"name": fmt.Sprintf("upsert r%d w%d", round, i)})
					switch {
					case err != nil:
						upsertErr.errorf("upsert round %d: PATCH accounts(accountnumber='TWO-1'): %v", round, err)
					case r.Status != http.StatusNoContent:
						upsertErr.errorf("upsert round %d: PATCH accounts(accountnumber='TWO-1'): status %d, want 204\n%s", round, r.Status, r.Body)
					default:
						upserts.Add(1)
					}
				})
			}
			rw.Wait()
			upsertRounds.Add(1)
		}
	})

	// (2) Creates with one accountnumber, 32 at a time: one wins.
	createErr := &errLimiter{t: t}
	var createMu sync.Mutex
	created := map[string]string{} // accountnumber -> id of the one 204
	wg.Go(func() {
		c := newClient(t, requestTimeout)
		for round := 0; round == 0 || !stopping(); round++ {
			key := fmt.Sprintf("TWO-2-%d", round)
			var rw sync.WaitGroup
			var mu sync.Mutex
			statuses := map[int]int{}
			var winner string
			for i := range 32 {
				rw.Go(func() {
					r, _, err := procs.do(c, i%2, "POST", "accounts", map[string]any{"name": fmt.Sprintf("create r%d w%d", round, i), "accountnumber": key})
					if err != nil {
						createErr.errorf("create %s: POST accounts: %v", key, err)
						return
					}
					switch r.Status {
					case http.StatusNoContent:
						id, err := entityID(r)
						if err != nil {
							createErr.errorf("create %s: %v", key, err)
						}
						mu.Lock()
						winner = id
						mu.Unlock()
					case http.StatusPreconditionFailed:
						if code := errorCode(r); code != "0x80060892" {
							createErr.errorf("create %s: 412 with error code %q, want 0x80060892\n%s", key, code, r.Body)
						}
					default:
						createErr.errorf("create %s: POST accounts: status %d, want 204 or 412\n%s", key, r.Status, r.Body)
					}
					mu.Lock()
					statuses[r.Status]++
					mu.Unlock()
				})
			}
			rw.Wait()
			if statuses[http.StatusNoContent] != 1 || statuses[http.StatusPreconditionFailed] != 31 {
				createErr.errorf("create %s: statuses %v, want one 204 and 31 412", key, statuses)
			}
			if winner != "" {
				createMu.Lock()
				created[key] = winner
				createMu.Unlock()
			}
		}
	})

	// (3) Optimistic-concurrency counters: 8 clients, 10 increments each,
	// GET then PATCH with If-Match, retrying on 412.
	const clients, each = 8, 10
	counterErr := &errLimiter{t: t}
	var counterMu sync.Mutex
	var counters []string // completed counters, each must read clients*each
	var conflicts atomic.Int64
	wg.Go(func() {
		c := newClient(t, requestTimeout)
		for round := 0; round == 0 || !stopping(); round++ {
			r, _, err := procs.do(c, round%2, "POST", "accounts", map[string]any{"name": fmt.Sprint("counter ", round), "numberofemployees": 0})
			if err != nil || r.Status != http.StatusNoContent {
				counterErr.errorf("counter %d: create: %v %+v", round, err, r)
				return
			}
			id, err := entityID(r)
			if err != nil {
				counterErr.errorf("counter %d: create: %v", round, err)
				return
			}
			var rw sync.WaitGroup
			var failed atomic.Bool
			for cl := range clients {
				rw.Go(func() {
					hc := newClient(t, requestTimeout)
					for range each {
						for attempt := 0; ; attempt++ {
							if attempt >= 1000 || late() {
								counterErr.errorf("counter %d: client %d: no increment succeeded in %d attempts", round, cl, attempt)
								failed.Store(true)
								return
							}
							g, _, err := procs.do(hc, cl%2, "GET", "accounts("+id+")?$select=numberofemployees", nil)
							if err != nil || g.Status != http.StatusOK {
								counterErr.errorf("counter %d: GET: %v %+v", round, err, g)
								failed.Store(true)
								return
							}
							m := decode(counterErr, "counter GET", g)
							n, ok1 := m["numberofemployees"].(float64)
							etag, ok2 := m["@odata.etag"].(string)
							if !ok1 || !ok2 {
								counterErr.errorf("counter %d: GET: no numberofemployees or @odata.etag\n%s", round, g.Body)
								failed.Store(true)
								return
							}
							u, _, err := procs.do(hc, cl%2, "PATCH", "accounts("+id+")", map[string]any{"numberofemployees": n + 1}, "If-Match", etag)
							if err != nil {
								counterErr.errorf("counter %d: PATCH: %v", round, err)
								failed.Store(true)
								return
							}
							if u.Status == http.StatusNoContent {
								break
							}
							if u.Status != http.StatusPreconditionFailed {
								counterErr.errorf("counter %d: PATCH with If-Match %s: status %d, want 204 or 412\n%s", round, etag, u.Status, u.Body)
								failed.Store(true)
								return
							}
							conflicts.Add(1)
						}
					}
				})
			}
			rw.Wait()
			if failed.Load() {
				return
			}
			counterMu.Lock()
			counters = append(counters, id)
			counterMu.Unlock()
			// Read it back from the process the creator did not use.
			g, _, err := procs.do(c, 1-round%2, "GET", "accounts("+id+")?$select=numberofemployees", nil)
			if err != nil || g.Status != http.StatusOK {
				counterErr.errorf("counter %d: final GET: %v %+v", round, err, g)
				return
			}
			if got := decode(counterErr, "counter final GET", g)["numberofemployees"]; got != float64(clients*each) {
				counterErr.errorf("counter %d = %v after %d acknowledged increments: updates were lost", round, got, clients*each)
			}
		}
	})

	// Background creates with client-chosen ids, so that the reader has
	// pages to turn and the restarted process has data to find.
	var filled ackSet
	fillErr := &errLimiter{t: t}
	for w := range 2 {
		wg.Go(func() {
			c := newClient(t, requestTimeout)
			for i := 0; !stopping(); i++ {
				id := uuid.NewString()
				r, _, err := procs.do(c, w, "POST", "accounts", map[string]any{"accountid": id, "name": fmt.Sprintf("fill w%d #%d", w, i)})
				switch {
				case err != nil:
					fillErr.errorf("fill: POST accounts: %v", err)
				case r.Status != http.StatusNoContent:
					fillErr.errorf("fill: POST accounts: status %d, want 204\n%s", r.Status, r.Body)
				default:
					filled.add(id)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}

	// (4) A reader on the process that is not restarted pages through
	// accounts again and again.
	readErr := &errLimiter{t: t}
	var passes, partial, pagesRead atomic.Int64
	wg.Go(func() {
		c := newClient(t, requestTimeout)
		for !stopping() {
			ids, complete, pages := pageAll(c, reader.URL, stop, readErr)
			pagesRead.Add(int64(pages))
			seen := map[string]bool{}
			for _, id := range ids {
				if seen[id] {
					readErr.errorf("paging pass %d: record %s seen twice (%d records, %d pages)", passes.Load()+partial.Load()+1, id, len(ids), pages)
				}
				seen[id] = true
			}
			if !complete {
				partial.Add(1)
				continue
			}
			passes.Add(1)
			for id := range seeds {
				if !seen[id] {
					readErr.errorf("paging pass %d: seeded record %s not seen (%d records, %d pages)", passes.Load(), id, len(ids), pages)
				}
			}
		}
	})

	// Restart process 0 midway; process 1 must keep serving meanwhile.
	time.Sleep(hammerBeforeRestart)
	old := procs.down(0)
	servedBefore := procs[1].served.Load()
	stopAt := time.Now()
	old.Stop()
	stopTook := time.Since(stopAt)
	// Write to the survivor while the other is down.
	duringID := uuid.NewString()
	must(t, c, http.StatusNoContent, "POST", reader.URL+"accounts", map[string]any{"accountid": duringID, "name": "written during the restart"})
	must(t, c, http.StatusOK, "GET", reader.Root+"healthz", nil)
	restarted := startServe(t, args...)
	servedDuring := procs[1].served.Load() - servedBefore
	t.Logf("process 0 (pid %d) stopped in %v (a graceful stop may wait ~5s for client connections that never sent a request) and restarted as pid %d in %v; process 1 answered %d requests meanwhile",
		old.Cmd.Process.Pid, stopTook.Round(time.Millisecond), restarted.Cmd.Process.Pid, time.Since(stopAt).Round(time.Millisecond), servedDuring)
	if servedDuring == 0 {
		t.Errorf("process 1 answered no request while process 0 was restarting")
	}
	// The restarted process sees what was written while it was down.
	must(t, c, http.StatusOK, "GET", restarted.URL+"accounts("+duringID+")?$select=name", nil)
	servedBefore0 := procs[0].served.Load()
	procs.bringUp(0, restarted)
	hardDeadline.Store(time.Now().Add(hammerAfterRestart + overrun).UnixNano())
	time.Sleep(hammerAfterRestart)
	halt()
	t.Logf("load stopped at %v", time.Since(began).Round(time.Millisecond))
	t.Logf("load: %d upsert rounds (%d upserts), %d create rounds, %d counters (%d If-Match conflicts), %d filler creates; reader: %d complete passes, %d cut short, %d pages",
		upsertRounds.Load(), upserts.Load(), len(created), len(counters), conflicts.Load(), len(filled.list()), passes.Load(), partial.Load(), pagesRead.Load())
	if n := procs[0].served.Load() - servedBefore0; n == 0 {
		t.Errorf("the restarted process answered no request")
	}
	if passes.Load() == 0 {
		t.Errorf("the reader completed no paging pass")
	}
	if t.Failed() {
		return
	}

	// Both processes, the restarted one first, see the same data.
	for _, p := range []*proc{restarted, reader} {
		if ids := countKey(t, c, p.URL, "TWO-1"); len(ids) != 1 {
			t.Errorf("pid %d: %d accounts with accountnumber TWO-1 after the upserts, want 1: %v", p.Cmd.Process.Pid, len(ids), ids)
		}
		for key, id := range created {
			if ids := countKey(t, c, p.URL, key); len(ids) != 1 || ids[0] != id {
				t.Errorf("pid %d: accounts with accountnumber %s: %v, want only %s (the one 204)", p.Cmd.Process.Pid, key, ids, id)
			}
		}
		for _, id := range counters {
			if got := counterValue(t, c, p.URL, id); got != float64(clients*each) {
				t.Errorf("pid %d: counter %s = %v, want %d", p.Cmd.Process.Pid, id, got, clients*each)
			}
		}
	}
	all := filled.list()
	all = append(all, duringID)
	for id := range seeds {
		all = append(all, id)
	}
	checkPresent(t, c, restarted.URL, all)
	var listed [2]map[string]bool
	for i, p := range []*proc{restarted, reader} {
		ids, complete, _ := pageAll(c, p.URL, nil, &errLimiter{t: t})
		if !complete {
			t.Fatalf("pid %d: paging through accounts did not complete", p.Cmd.Process.Pid)
		}
		listed[i] = map[string]bool{}
		for _, id := range ids {
			if listed[i][id] {
				t.Errorf("pid %d: record %s listed twice at rest", p.Cmd.Process.Pid, id)
			}
			listed[i][id] = true
		}
	}
	if len(listed[0]) != len(listed[1]) {
		t.Errorf("the restarted process lists %d accounts, the other %d", len(listed[0]), len(listed[1]))
	}
	for id := range listed[1] {
		if !listed[0][id] {
			t.Errorf("account %s listed by pid %d but not by the restarted pid %d", id, reader.Cmd.Process.Pid, restarted.Cmd.Process.Pid)
		}
	}
	// Seeds + filler + during-restart + TWO-1 + one per create round + counters.
	if want := len(all) + 1 + len(created) + len(counters); len(listed[0]) != want {
		t.Errorf("%d accounts listed, want %d", len(listed[0]), want)
	}

	restarted.Stop()
	reader.Stop()
	if d := time.Since(began); d > 60*time.Second {
		t.Errorf("the test took %v, more than its 60s budget", d)
	}
}
