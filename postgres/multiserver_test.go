package postgres_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventual-pp/eventual/instance"
	"github.com/eventual-pp/eventual/internal/testpg"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/eventual-pp/eventual/postgres"
	"github.com/eventual-pp/eventual/webapi"
)

// servers starts n Web API servers, each with its own connection pool, on
// one PostgreSQL schema, and returns their service roots.
func servers(t *testing.T, n int) []string {
	t.Helper()
	testpg.Require(t)
	dsn := testpg.Schema(t, "multi")
	var urls []string
	for range n {
		schema := metadata.Builtin()
		db, err := postgres.Open(context.Background(), dsn, schema, postgres.Options{MaxConns: 8})
		if err != nil {
			t.Fatal(err)
		}
		srv := webapi.NewServer(instance.New(db, schema), schema, db.Meta())
		ts := httptest.NewServer(srv.Handler())
		t.Cleanup(func() { ts.Close(); db.Close() })
		urls = append(urls, ts.URL+"/api/data/v9.2/")
	}
	return urls
}

type result struct {
	status int
	body   map[string]any
	header http.Header
}

func call(t *testing.T, method, url string, body any, headers ...string) result {
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", method, url, err)
		return result{}
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	r := result{status: resp.StatusCode, header: resp.Header}
	if len(data) > 0 {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		dec.Decode(&r.body)
	}
	if r.status >= 500 {
		t.Errorf("%s %s: %d %s", method, url, r.status, data)
	}
	return r
}

// TestTwoServersOneDatabase hammers two servers sharing one database and
// checks that they behave as one instance.
func TestTwoServersOneDatabase(t *testing.T) {
	urls := servers(t, 2)
	t.Run("UpsertSameKey", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := call(t, "PATCH", urls[i%2]+"accounts(accountnumber='MULTI-1')", map[string]any{"name": fmt.Sprint("w", i)})
				if r.status != http.StatusNoContent {
					t.Errorf("upsert: status %d %v", r.status, r.body)
				}
			}()
		}
		wg.Wait()
		r := call(t, "GET", urls[0]+"accounts?$select=name&$filter=accountnumber%20eq%20'MULTI-1'", nil)
		if n := len(r.body["value"].([]any)); n != 1 {
			t.Errorf("%d records with the key, want 1", n)
		}
	})
	t.Run("CreateSameKey", func(t *testing.T) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		statuses := map[int]int{}
		for i := range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := call(t, "POST", urls[i%2]+"accounts", map[string]any{"name": "dup", "accountnumber": "MULTI-2"})
				if r.status == http.StatusPreconditionFailed {
					if code := r.body["error"].(map[string]any)["code"]; code != "0x80060892" {
						t.Errorf("duplicate key code %v", code)
					}
				}
				mu.Lock()
				statuses[r.status]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if statuses[http.StatusNoContent] != 1 || statuses[http.StatusPreconditionFailed] != 31 {
			t.Errorf("statuses %v, want one 204 and 31 412", statuses)
		}
	})
	t.Run("OptimisticConcurrencyLosesNoUpdate", func(t *testing.T) {
		r := call(t, "POST", urls[0]+"accounts", map[string]any{"name": "counter", "numberofemployees": 0})
		loc := r.header.Get("OData-EntityId")
		id := loc[strings.LastIndexByte(loc, '(')+1 : len(loc)-1]
		const clients, each = 8, 8
		var wg sync.WaitGroup
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				base := urls[c%2]
				for range each {
					for attempt := 0; ; attempt++ {
						if attempt > 200 {
							t.Error("too many conflicts")
							return
						}
						g := call(t, "GET", base+"accounts("+id+")?$select=numberofemployees", nil)
						n, _ := g.body["numberofemployees"].(json.Number).Int64()
						u := call(t, "PATCH", base+"accounts("+id+")", map[string]any{"numberofemployees": n + 1},
							"If-Match", g.body["@odata.etag"].(string))
						if u.status == http.StatusNoContent {
							break
						}
						if u.status != http.StatusPreconditionFailed {
							t.Errorf("update status %d", u.status)
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		g := call(t, "GET", urls[1]+"accounts("+id+")?$select=numberofemployees", nil)
		if got := g.body["numberofemployees"].(json.Number).String(); got != fmt.Sprint(clients*each) {
			t.Errorf("counter = %s after %d acknowledged increments: updates were lost", got, clients*each)
		}
	})
	t.Run("VersionsUniqueAcrossServers", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				call(t, "POST", urls[i%2]+"contacts", map[string]any{"lastname": fmt.Sprint("v", i)})
			}()
		}
		wg.Wait()
		r := call(t, "GET", urls[0]+"contacts?$select=versionnumber", nil)
		seen := map[string]bool{}
		for _, v := range r.body["value"].([]any) {
			ver := fmt.Sprint(v.(map[string]any)["versionnumber"])
			if seen[ver] {
				t.Errorf("version %s handed out twice", ver)
			}
			seen[ver] = true
		}
		if len(seen) != 40 {
			t.Errorf("%d contacts, want 40", len(seen))
		}
	})
}

// TestTwoServersDeltaNeverSkips writes through two servers (some writes in
// change sets that commit later than their neighbours) while a reader
// follows delta links on one of them; at the end the reader's mirror must
// equal the table, deletes included.
func TestTwoServersDeltaNeverSkips(t *testing.T) {
	urls := servers(t, 2)
	mirror := map[string]string{}
	follow := func(link string) string {
		for {
			r := call(t, "GET", link, nil, "Prefer", "odata.maxpagesize=40,odata.track-changes")
			if r.status != http.StatusOK {
				t.Fatalf("delta: %d %v", r.status, r.body)
			}
			for _, v := range r.body["value"].([]any) {
				m := v.(map[string]any)
				if ctx, _ := m["@odata.context"].(string); strings.HasSuffix(ctx, "$deletedEntity") {
					delete(mirror, m["id"].(string))
					continue
				}
				mirror[m["accountid"].(string)] = fmt.Sprint(m["name"])
			}
			if next, ok := r.body["@odata.nextLink"].(string); ok {
				link = next
				continue
			}
			return r.body["@odata.deltaLink"].(string)
		}
	}
	link := follow(urls[0] + "accounts?$select=name")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []string
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				base := urls[(w+i)%2]
				switch {
				case len(mine) > 3 && i%5 == 0:
					call(t, "DELETE", base+"accounts("+mine[0]+")", nil)
					mine = mine[1:]
				case len(mine) > 0 && i%2 == 0:
					call(t, "PATCH", base+"accounts("+mine[i%len(mine)]+")", map[string]any{"name": fmt.Sprintf("w%d-%d", w, i)})
				default:
					// Bulk writes take longer to commit than their neighbours.
					var targets []any
					for j := range 5 {
						targets = append(targets, map[string]any{"@odata.type": "Microsoft.Dynamics.CRM.account", "name": fmt.Sprintf("w%d-%d-%d", w, i, j)})
					}
					r := call(t, "POST", base+"accounts/Microsoft.Dynamics.CRM.CreateMultiple", map[string]any{"Targets": targets})
					if ids, ok := r.body["Ids"].([]any); ok {
						for _, id := range ids {
							mine = append(mine, id.(string))
						}
					}
				}
			}
		}()
	}
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		link = follow(link)
	}
	close(stop)
	wg.Wait()
	link = follow(link)
	table := map[string]string{}
	for next := urls[1] + "accounts?$select=name"; next != ""; {
		r := call(t, "GET", next, nil, "Prefer", "odata.maxpagesize=1000")
		for _, v := range r.body["value"].([]any) {
			m := v.(map[string]any)
			table[m["accountid"].(string)] = fmt.Sprint(m["name"])
		}
		next, _ = r.body["@odata.nextLink"].(string)
	}
	if len(table) < 50 {
		t.Fatalf("only %d accounts written", len(table))
	}
	for id, name := range table {
		if mirror[id] != name {
			t.Errorf("account %s: table %q, mirror %q: a change was skipped", id, name, mirror[id])
		}
	}
	for id := range mirror {
		if _, ok := table[id]; !ok {
			t.Errorf("account %s is deleted but still in the mirror: a deletion was skipped", id)
		}
	}
}
