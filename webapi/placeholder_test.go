package webapi_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/testhttp"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/eventual-pp/eventual/placeholder"
	"github.com/google/uuid"
)

// This file tests the placeholder pattern over HTTP: a write that binds a
// lookup to a missing record gets a placeholder with that key, a later
// write with real data hydrates it (firing Hydrate once), and without the
// placeholder steps binds fail as Dataverse fails them.

// lifecycle lists the placeholder lifecycle columns.
const lifecycle = "eventual_hydrationstate,eventual_placeholderon,eventual_placeholdercorrelationid,eventual_hydratedon"

// withPlaceholders registers the placeholder steps for every lookup of the
// built-in tables at a stage, as cmd/eventual does with placeholders "on".
func withPlaceholders(tb testing.TB, s *testServer, stage eventual.Stage) {
	tb.Helper()
	var names []string
	for _, t := range metadata.BuiltinTables() {
		names = append(names, t.LogicalName)
	}
	lookups := placeholder.Defaults(s.Instance.Schema, names...)
	if len(lookups) == 0 {
		tb.Fatal("placeholder.Defaults found no lookups in the built-in tables")
	}
	for i := range lookups {
		lookups[i].Stage = stage
	}
	steps, err := placeholder.Steps(s.Instance.Schema, lookups)
	if err != nil {
		tb.Fatalf("placeholder.Steps: %v", err)
	}
	for _, st := range steps {
		if err := s.Instance.Pipeline.Register(st); err != nil {
			tb.Fatalf("register %s: %v", st.Name, err)
		}
	}
}

// registerStep registers a Go step, failing the test on error.
// The step is unregistered when the test ends.
func registerStep(tb testing.TB, s *testServer, st eventual.Step) {
	tb.Helper()
	if err := s.Instance.Pipeline.Register(st); err != nil {
		tb.Fatalf("register %s: %v", st.Name, err)
	}
	tb.Cleanup(func() { s.Instance.Pipeline.Unregister(st.Name) })
}

// stepCounter is a step plugin that counts its executions and keeps the
// contexts it saw.
type stepCounter struct {
	n   atomic.Int64
	mu  sync.Mutex
	ecs []eventual.ExecutionContext
}

func (c *stepCounter) Execute(_ context.Context, ec *eventual.ExecutionContext) error {
	c.n.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	cp := *ec
	if e := ec.Target(); e != nil {
		cp.InputParameters = map[string]any{"Target": &eventual.Entity{Table: e.Table, ID: e.ID, Values: e.Values.Clone()}}
	}
	c.ecs = append(c.ecs, cp)
	return nil
}

func (c *stepCounter) count() int64 { return c.n.Load() }

func (c *stepCounter) last(tb testing.TB) eventual.ExecutionContext {
	tb.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.ecs) == 0 {
		tb.Fatal("the step never ran")
	}
	return c.ecs[len(c.ecs)-1]
}

// countStep registers a synchronous PostOperation step counting one
// message of a table.
func countStep(tb testing.TB, s *testServer, message, table string) *stepCounter {
	tb.Helper()
	c := &stepCounter{}
	registerStep(tb, s, eventual.Step{Name: "test.count." + table + "." + message + "." + uuid.NewString(),
		Message: message, Table: table, Stage: eventual.PostOperation, Plugin: c})
	return c
}

// shortID returns a short random suffix (account numbers hold 20 characters).
func shortID() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// accountBind is a missing account to bind: by GUID or by alternate key.
type accountBind struct {
	url    string // the @odata.bind value
	filter string // selects the record with this key
	id     string // the GUID, when bound by GUID
	key    string // the account number, when bound by key
}

func missingAccount(byKey bool) accountBind {
	if byKey {
		k := "PH-" + shortID()
		return accountBind{url: "/accounts(accountnumber='" + k + "')", filter: "accountnumber eq '" + k + "'", key: k}
	}
	id := uuid.NewString()
	return accountBind{url: "/accounts(" + id + ")", filter: "accountid eq " + id, id: id}
}

// bindForm names a bind form in subtests.
func bindForm(byKey bool) string {
	if byKey {
		return "ByKey"
	}
	return "ByGUID"
}

// query returns the records of a set a filter selects, with columns.
func (s *testServer) query(set, filter, sel string) []map[string]any {
	s.tb.Helper()
	return s.must(http.StatusOK, "GET", set+"?$select="+sel+"&$filter="+urlEscape(filter), nil).Value(s.tb)
}

// wantPlaceholder checks that exactly one record of the set has the key
// and that it is a placeholder; corr, unless empty, is the correlation id
// it must carry. It returns the record (primary name, key columns and
// lifecycle columns).
func wantPlaceholder(tb testing.TB, s *testServer, set, filter, corr, sel string) map[string]any {
	tb.Helper()
	recs := s.query(set, filter, sel+","+lifecycle)
	if len(recs) != 1 {
		tb.Fatalf("%d records of %s match %s, want exactly one placeholder: %v", len(recs), set, filter, recs)
	}
	m := recs[0]
	if got := fmt.Sprint(m["eventual_hydrationstate"]); got != "1" {
		tb.Errorf("eventual_hydrationstate = %s, want 1 (placeholder): %v", got, m)
	}
	on, err := time.Parse(time.RFC3339, str(m, "eventual_placeholderon"))
	if err != nil {
		tb.Errorf("eventual_placeholderon = %v, want a timestamp: %v", m["eventual_placeholderon"], err)
	} else if d := time.Since(on); d < -2*time.Second || d > time.Minute {
		tb.Errorf("eventual_placeholderon = %v, not now", on)
	}
	if m["eventual_hydratedon"] != nil {
		tb.Errorf("eventual_hydratedon = %v on a placeholder, want null", m["eventual_hydratedon"])
	}
	got := str(m, "eventual_placeholdercorrelationid")
	if corr != "" && got != corr {
		tb.Errorf("eventual_placeholdercorrelationid = %q, want the request's correlation id %q", got, corr)
	}
	if _, err := uuid.Parse(got); err != nil || got == uuid.Nil.String() {
		tb.Errorf("eventual_placeholdercorrelationid = %q, want a GUID", got)
	}
	return m
}

// wantAccountPlaceholder checks the placeholder of a bound account and
// returns its id.
func wantAccountPlaceholder(tb testing.TB, s *testServer, b accountBind, corr string) string {
	tb.Helper()
	m := wantPlaceholder(tb, s, "accounts", b.filter, corr, "accountid,name,accountnumber")
	id := str(m, "accountid")
	if b.id != "" && id != b.id {
		tb.Errorf("placeholder accountid = %s, want the bound GUID %s", id, b.id)
	}
	if b.key != "" && str(m, "accountnumber") != b.key {
		tb.Errorf("placeholder accountnumber = %q, want the bound key %q", str(m, "accountnumber"), b.key)
	}
	want := placeholder.DefaultName
	if b.key != "" {
		want = strings.ReplaceAll(want, "{key}", b.key)
	} else {
		want = strings.ReplaceAll(want, "{key}", b.id)
	}
	if str(m, "name") != want {
		tb.Errorf("placeholder name = %q, want %q", str(m, "name"), want)
	}
	return id
}

// lookupValue returns the _x_value of a record.
func (s *testServer) lookupValue(set, id, lookup string) string {
	s.tb.Helper()
	m := s.must(http.StatusOK, "GET", set+"("+id+")?$select=_"+lookup+"_value", nil).JSON(s.tb)
	return str(m, "_"+lookup+"_value")
}

// sendResult is a response received off the test goroutine.
type sendResult struct {
	status int
	body   []byte
	err    error
}

// send sends a request without touching testing.TB, for goroutines.
func (s *testServer) send(method, path string, body any, headers ...string) sendResult {
	req, err := testhttp.NewRequest(method, s.URL+path, body, "application/json", headers...)
	if err != nil {
		return sendResult{err: err}
	}
	resp, data, err := testhttp.Do(s.client, req)
	if err != nil && resp == nil {
		return sendResult{err: err}
	}
	return sendResult{status: resp.StatusCode, body: data, err: err}
}

// subtest runs a subtest with the server reporting to the subtest, so that
// its fatal failures end the subtest and not its parent.
func subtest(t *testing.T, s *testServer, name string, fn func(t *testing.T, s *testServer)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		sub := *s
		sub.tb = t
		fn(t, &sub)
	})
}

// raceAll runs n functions at once, released together, and waits for them.
func raceAll(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

// TestPlaceholderExistingTarget binds existing records by GUID and by
// alternate key: the bind succeeds and nothing about the target changes,
// not even its ETag.
func TestPlaceholderExistingTarget(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		withPlaceholders(t, s, eventual.PreValidation)
		k := "EX-" + shortID()
		id := s.create("accounts", map[string]any{"name": "Existing", "accountnumber": k, "telephone1": "555-0101", "revenue": 12.5})
		before := s.must(http.StatusOK, "GET", "accounts("+id+")", nil)
		for _, b := range []string{"/accounts(" + id + ")", "/accounts(accountnumber='" + k + "')", "accounts(accountnumber='" + strings.ToLower(k) + "')"} {
			cid := s.create("contacts", map[string]any{"lastname": "Binder", "parentcustomerid_account@odata.bind": b})
			if got := s.lookupValue("contacts", cid, "parentcustomerid"); got != id {
				t.Errorf("bind %s: _parentcustomerid_value = %s, want %s", b, got, id)
			}
			s.must(http.StatusNoContent, "PATCH", "accounts("+uuid.NewString()+")", map[string]any{"name": "Child", "parentaccountid@odata.bind": b})
		}
		after := s.must(http.StatusOK, "GET", "accounts("+id+")", nil)
		if a, b := before.JSON(t), after.JSON(t); !reflect.DeepEqual(a, b) {
			t.Errorf("binding changed the target:\nbefore %v\nafter  %v", a, b)
		}
		if n := s.count("accounts", "accountnumber eq '"+k+"'"); n != 1 {
			t.Errorf("%d accounts with the key, want 1", n)
		}
		m := s.query("accounts", "accountid eq "+id, lifecycle)[0]
		if fmt.Sprint(m["eventual_hydrationstate"]) != "0" || m["eventual_placeholderon"] != nil || m["eventual_placeholdercorrelationid"] != nil {
			t.Errorf("an existing record got placeholder columns: %v", m)
		}
	})
}

// TestPlaceholderOnBind binds a missing account by GUID and by alternate
// key in every kind of write: each succeeds and leaves exactly one
// placeholder with that key, carrying the request's correlation id.
func TestPlaceholderOnBind(t *testing.T) {
	// A write binds b (twice where it can, to check that one placeholder
	// results) with the correlation header and returns the referencing
	// record's set, id and lookup.
	type write func(t *testing.T, s *testServer, b accountBind, corr string) (set, id, lookup string)
	corrH := "x-ms-correlation-request-id"
	writes := []struct {
		name string
		fn   write
	}{
		{"POST", func(t *testing.T, s *testServer, b accountBind, corr string) (string, string, string) {
			r := s.must(http.StatusNoContent, "POST", "contacts", map[string]any{"lastname": "POST", "parentcustomerid_account@odata.bind": b.url}, corrH, corr)
			return "contacts", entityID(t, r.Header.Get("OData-EntityId")), "parentcustomerid"
		}},
		{"POSTReturnRepresentation", func(t *testing.T, s *testServer, b accountBind, corr string) (string, string, string) {
			r := s.must(http.StatusCreated, "POST", "accounts?$select=accountid", map[string]any{"name": "Child", "parentaccountid@odata.bind": b.url},
				corrH, corr, "Prefer", "return=representation")
			return "accounts", str(r.JSON(t), "accountid"), "parentaccountid"
		}},
		{"PATCHUpdate", func(t *testing.T, s *testServer, b accountBind, corr string) (string, string, string) {
			id := s.create("contacts", map[string]any{"lastname": "PATCH"})
			s.must(http.StatusNoContent, "PATCH", "contacts("+id+")", map[string]any{"parentcustomerid_account@odata.bind": b.url}, corrH, corr, "If-Match", "*")
			return "contacts", id, "parentcustomerid"
		}},
		{"PATCHUpsertCreate", func(t *testing.T, s *testServer, b accountBind, corr string) (string, string, string) {
			id := uuid.NewString()
			s.must(http.StatusNoContent, "PATCH", "contacts("+id+")", map[string]any{"lastname": "Upsert", "parentcustomerid_account@odata.bind": b.url}, corrH, corr)
			return "contacts", id, "parentcustomerid"
		}},
		{"PATCHUpsertByKeyUpdate", func(t *testing.T, s *testServer, b accountBind, corr string) (string, string, string) {
			mail := "u" + shortID() + "@example.com"
			id := s.create("contacts", map[string]any{"firstname": "Up", "emailaddress1": mail, "lastname": "ByKey"})
			s.must(http.StatusNoContent, "PATCH", "contacts(firstname='Up',emailaddress1='"+urlEscape(mail)+"')", map[string]any{"parentcustomerid_account@odata.bind": b.url}, corrH, corr)
			return "contacts", id, "parentcustomerid"
		}},
		{"DeepInsert", func(t *testing.T, s *testServer, b accountBind, corr string) (string, string, string) {
			r := s.must(http.StatusNoContent, "POST", "accounts", map[string]any{
				"name": "Deep parent", "parentaccountid@odata.bind": b.url,
				"primarycontactid": map[string]any{"lastname": "Deep child", "parentcustomerid_account@odata.bind": b.url},
			}, corrH, corr)
			parent := entityID(t, r.Header.Get("OData-EntityId"))
			child := s.lookupValue("accounts", parent, "primarycontactid")
			if child == "" {
				t.Fatal("the deep-inserted contact is not linked")
			}
			if got, want := s.lookupValue("accounts", parent, "parentaccountid"), s.lookupValue("contacts", child, "parentcustomerid"); got != want {
				t.Errorf("parent binds %s, nested contact binds %s: want the same placeholder", got, want)
			}
			return "contacts", child, "parentcustomerid"
		}},
		{"BatchChangeSet", func(t *testing.T, s *testServer, b accountBind, corr string) (string, string, string) {
			res := s.batch([]string{corrH, corr}, changeSet{
				{Method: "POST", URL: "contacts", ContentID: "1", Body: map[string]any{"lastname": "Batch", "parentcustomerid_account@odata.bind": b.url}},
				{Method: "POST", URL: "accounts", ContentID: "2", Body: map[string]any{"name": "Batch child", "parentaccountid@odata.bind": b.url}},
				{Method: "PATCH", URL: "$1", ContentID: "3", Headers: []string{"If-Match", "*"}, Body: map[string]any{"jobtitle": "Patched"}},
			})
			if res.Status != http.StatusOK {
				t.Fatalf("batch status %d\n%s", res.Status, res.Body)
			}
			wantStatuses(t, res, 204, 204, 204)
			return "contacts", entityID(t, res.Parts()[0].Header.Get("OData-EntityId")), "parentcustomerid"
		}},
		{"CreateMultiple", func(t *testing.T, s *testServer, b accountBind, corr string) (string, string, string) {
			r := s.must(http.StatusOK, "POST", "contacts/Microsoft.Dynamics.CRM.CreateMultiple", targets(
				target("Microsoft.Dynamics.CRM.contact", "lastname", "CM1", "parentcustomerid_account@odata.bind", b.url),
				target("Microsoft.Dynamics.CRM.contact", "lastname", "CM2", "parentcustomerid_account@odata.bind", b.url),
			), corrH, corr)
			ids, _ := r.JSON(t)["Ids"].([]any)
			if len(ids) != 2 {
				t.Fatalf("CreateMultiple Ids = %v", ids)
			}
			return "contacts", fmt.Sprint(ids[1]), "parentcustomerid"
		}},
		{"UpsertMultiple", func(t *testing.T, s *testServer, b accountBind, corr string) (string, string, string) {
			id := uuid.NewString()
			existing := s.create("contacts", map[string]any{"lastname": "UM existing"})
			s.must(http.StatusNoContent, "POST", "contacts/Microsoft.Dynamics.CRM.UpsertMultiple", targets(
				target("Microsoft.Dynamics.CRM.contact", "@odata.id", "contacts("+id+")", "lastname", "UM new", "parentcustomerid_account@odata.bind", b.url),
				target("Microsoft.Dynamics.CRM.contact", "@odata.id", "contacts("+existing+")", "parentcustomerid_account@odata.bind", b.url),
			), corrH, corr)
			if got, want := s.lookupValue("contacts", existing, "parentcustomerid"), s.lookupValue("contacts", id, "parentcustomerid"); got != want {
				t.Errorf("the updated target binds %s, the created one %s", got, want)
			}
			return "contacts", id, "parentcustomerid"
		}},
	}
	forEachStore(t, func(t *testing.T, s *testServer) {
		withPlaceholders(t, s, eventual.PreValidation)
		for _, w := range writes {
			for _, byKey := range []bool{false, true} {
				subtest(t, s, w.name+"/"+bindForm(byKey), func(t *testing.T, s *testServer) {
					b := missingAccount(byKey)
					corr := uuid.NewString()
					set, id, lookup := w.fn(t, s, b, corr)
					pid := wantAccountPlaceholder(t, s, b, corr)
					if got := s.lookupValue(set, id, lookup); got != pid {
						t.Errorf("%s(%s) _%s_value = %q, want the placeholder %s", set, id, lookup, got, pid)
					}
				})
			}
		}
		// Without the header, the placeholder carries the correlation id
		// the server made for the request (echoed as x-ms-service-request-id).
		subtest(t, s, "GeneratedCorrelationID", func(t *testing.T, s *testServer) {
			b := missingAccount(true)
			r := s.must(http.StatusNoContent, "POST", "contacts", map[string]any{"lastname": "No header", "parentcustomerid_account@odata.bind": b.url})
			corr := r.Header.Get("x-ms-service-request-id")
			if corr == "" {
				t.Fatal("no x-ms-service-request-id header")
			}
			wantAccountPlaceholder(t, s, b, corr)
		})
		// Alternate keys of text compare without case, as the stores
		// compare them: two spellings of one key make one placeholder.
		subtest(t, s, "KeyCaseInsensitive", func(t *testing.T, s *testServer) {
			k := "PH-" + shortID()
			s.create("contacts", map[string]any{"lastname": "Lower", "parentcustomerid_account@odata.bind": "/accounts(accountnumber='" + strings.ToLower(k) + "')"})
			s.create("contacts", map[string]any{"lastname": "Upper", "parentcustomerid_account@odata.bind": "/accounts(accountnumber='" + strings.ToUpper(k) + "')"})
			s.must(http.StatusOK, "POST", "contacts/Microsoft.Dynamics.CRM.CreateMultiple", targets(
				target("Microsoft.Dynamics.CRM.contact", "lastname", "Bulk", "parentcustomerid_account@odata.bind", "/accounts(accountnumber='"+k+"')"),
				target("Microsoft.Dynamics.CRM.contact", "lastname", "Bulk", "parentcustomerid_account@odata.bind", "/accounts(accountnumber='"+strings.ToUpper(k)+"')"),
			))
			if n := s.count("accounts", "accountnumber eq '"+k+"'"); n != 1 {
				t.Errorf("%d accounts for one key spelled two ways, want 1", n)
			}
		})
	})
}

// TestPlaceholderCustomerLookup binds contact.parentcustomerid, a
// Customer lookup, to a missing account and to a missing contact, by GUID
// and by alternate key (contact's is composite).
func TestPlaceholderCustomerLookup(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		withPlaceholders(t, s, eventual.PreValidation)
		ann := []string{"Prefer", `odata.include-annotations="*"`}
		check := func(t *testing.T, id, wantTarget, wantValue string) {
			t.Helper()
			m := s.must(http.StatusOK, "GET", "contacts("+id+")?$select=_parentcustomerid_value", nil, ann...).JSON(t)
			if got := str(m, "_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"); got != wantTarget {
				t.Errorf("lookuplogicalname = %q, want %q", got, wantTarget)
			}
			if got := str(m, "_parentcustomerid_value"); got != wantValue {
				t.Errorf("_parentcustomerid_value = %q, want %q", got, wantValue)
			}
		}
		for _, byKey := range []bool{false, true} {
			subtest(t, s, "Account/"+bindForm(byKey), func(t *testing.T, s *testServer) {
				b := missingAccount(byKey)
				corr := uuid.NewString()
				id := entityID(t, s.must(http.StatusNoContent, "POST", "contacts", map[string]any{"lastname": "C", "parentcustomerid_account@odata.bind": b.url},
					"x-ms-correlation-request-id", corr).Header.Get("OData-EntityId"))
				check(t, id, "account", wantAccountPlaceholder(t, s, b, corr))
			})
		}
		subtest(t, s, "Contact/ByGUID", func(t *testing.T, s *testServer) {
			pid := uuid.NewString()
			corr := uuid.NewString()
			id := entityID(t, s.must(http.StatusNoContent, "POST", "contacts", map[string]any{"lastname": "C", "parentcustomerid_contact@odata.bind": "/contacts(" + pid + ")"},
				"x-ms-correlation-request-id", corr).Header.Get("OData-EntityId"))
			wantPlaceholder(t, s, "contacts", "contactid eq "+pid, corr, "contactid")
			check(t, id, "contact", pid)
		})
		subtest(t, s, "Contact/ByCompositeKey", func(t *testing.T, s *testServer) {
			mail := "p" + shortID() + "@example.com"
			corr := uuid.NewString()
			id := entityID(t, s.must(http.StatusNoContent, "PATCH", "contacts("+uuid.NewString()+")",
				map[string]any{"lastname": "C", "parentcustomerid_contact@odata.bind": "/contacts(firstname='Pat',emailaddress1='" + urlEscape(mail) + "')"},
				"x-ms-correlation-request-id", corr).Header.Get("OData-EntityId"))
			m := wantPlaceholder(t, s, "contacts", "emailaddress1 eq '"+mail+"'", corr, "contactid,firstname,emailaddress1,fullname")
			if str(m, "firstname") != "Pat" || str(m, "emailaddress1") != mail {
				t.Errorf("placeholder key columns = %q, %q, want Pat, %s", str(m, "firstname"), str(m, "emailaddress1"), mail)
			}
			if str(m, "fullname") != "Pat" {
				t.Errorf("placeholder fullname = %q, want Pat (derived from the key's first name)", str(m, "fullname"))
			}
			check(t, id, "contact", str(m, "contactid"))
		})
	})
}

// TestPlaceholderSystemColumns reads the lifecycle columns with $select
// and filters and sorts on them; clients cannot write them.
func TestPlaceholderSystemColumns(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		withPlaceholders(t, s, eventual.PreValidation)
		real := s.create("accounts", map[string]any{"name": "Real"})
		corr := uuid.NewString()
		var ph []string
		for range 3 {
			b := missingAccount(false)
			s.must(http.StatusNoContent, "POST", "contacts", map[string]any{"lastname": "S", "parentcustomerid_account@odata.bind": b.url}, "x-ms-correlation-request-id", corr)
			ph = append(ph, b.id)
		}
		// A client cannot forge the lifecycle: system columns in a body are
		// ignored, as Dataverse ignores read-only attributes.
		forged := s.create("accounts", map[string]any{"name": "Forged", "eventual_hydrationstate": 1, "eventual_placeholdercorrelationid": corr})

		if n := s.count("accounts", "eventual_hydrationstate eq 1"); n != 3 {
			t.Errorf("$count with eventual_hydrationstate eq 1 = %d, want 3", n)
		}
		if n := s.count("accounts", "eventual_hydrationstate eq 0"); n != 2 {
			t.Errorf("$count with eventual_hydrationstate eq 0 = %d, want 2 (real and forged)", n)
		}
		if n := s.count("accounts", "eventual_placeholdercorrelationid eq "+corr); n != 3 {
			t.Errorf("$count by eventual_placeholdercorrelationid = %d, want 3", n)
		}
		if n := s.count("accounts", "eventual_placeholderon ne null and eventual_hydratedon eq null"); n != 3 {
			t.Errorf("$count of unhydrated placeholders = %d, want 3", n)
		}
		recs := s.must(http.StatusOK, "GET", "accounts?$select=name,"+lifecycle+"&$filter="+urlEscape("eventual_hydrationstate eq 1")+"&$orderby="+urlEscape("eventual_placeholderon desc,name"), nil).Value(t)
		if len(recs) != 3 {
			t.Fatalf("%d placeholders listed, want 3", len(recs))
		}
		for _, m := range recs {
			id := strings.TrimPrefix(str(m, "name"), "Placeholder ")
			if !strings.Contains(strings.Join(ph, " "), id) || str(m, "eventual_placeholdercorrelationid") != corr || m["eventual_placeholderon"] == nil {
				t.Errorf("listed placeholder %v", m)
			}
			if _, ok := m["eventual_hydratedon"]; !ok {
				t.Errorf("selected eventual_hydratedon is missing from %v", m)
			}
		}
		for _, id := range []string{real, forged} {
			m := s.must(http.StatusOK, "GET", "accounts("+id+")?$select="+lifecycle, nil).JSON(t)
			if fmt.Sprint(m["eventual_hydrationstate"]) != "0" || m["eventual_placeholdercorrelationid"] != nil || m["eventual_placeholderon"] != nil {
				t.Errorf("record %s has lifecycle %v, want a plain record", id, m)
			}
		}
		// Annotations give the state's label.
		m := s.must(http.StatusOK, "GET", "accounts("+ph[0]+")?$select=eventual_hydrationstate", nil, "Prefer", `odata.include-annotations="*"`).JSON(t)
		if got := str(m, "eventual_hydrationstate@OData.Community.Display.V1.FormattedValue"); got != "Placeholder" {
			t.Errorf("formatted eventual_hydrationstate = %q, want Placeholder", got)
		}
	})
}

// TestPlaceholderConcurrentBinds races 64 writers binding one missing key:
// every request succeeds and exactly one placeholder exists.
func TestPlaceholderConcurrentBinds(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		withPlaceholders(t, s, eventual.PreValidation)
		for _, byKey := range []bool{false, true} {
			subtest(t, s, bindForm(byKey), func(t *testing.T, s *testServer) {
				const writers = 64
				b := missingAccount(byKey)
				results := make([]sendResult, writers)
				raceAll(writers, func(i int) {
					// Mix the writes: creates, upserts and bulk creates.
					switch i % 3 {
					case 0:
						results[i] = s.send("POST", "contacts", map[string]any{"lastname": fmt.Sprint("w", i), "parentcustomerid_account@odata.bind": b.url})
					case 1:
						results[i] = s.send("PATCH", "accounts("+uuid.NewString()+")", map[string]any{"name": fmt.Sprint("w", i), "parentaccountid@odata.bind": b.url})
					default:
						results[i] = s.send("POST", "contacts/Microsoft.Dynamics.CRM.CreateMultiple", targets(
							target("Microsoft.Dynamics.CRM.contact", "lastname", fmt.Sprint("w", i), "parentcustomerid_account@odata.bind", b.url)))
					}
				})
				for i, r := range results {
					want := http.StatusNoContent
					if i%3 == 2 {
						want = http.StatusOK
					}
					if r.err != nil || r.status != want {
						t.Errorf("writer %d: status %d, err %v, want %d: %s", i, r.status, r.err, want, r.body)
					}
				}
				pid := wantAccountPlaceholder(t, s, b, "")
				if n := s.count("contacts", "_parentcustomerid_value eq "+pid); n != 2*(writers/3)+1 {
					t.Errorf("%d contacts bind the placeholder, want %d", n, 2*(writers/3)+1)
				}
				if n := s.count("accounts", "_parentaccountid_value eq "+pid); n != writers/3 {
					t.Errorf("%d accounts bind the placeholder, want %d", n, writers/3)
				}
			})
		}
	})
}

// TestPlaceholderStage checks the transaction boundary: at PreValidation
// (the default) a placeholder stays when the write that caused it fails;
// at PreOperation it rolls back with the write.
func TestPlaceholderStage(t *testing.T) {
	// A failure makes a contact write that binds b fail after the
	// placeholder step ran, and checks the error.
	type failure struct {
		name string
		run  func(t *testing.T, s *testServer, b accountBind)
	}
	failures := []failure{
		{"StepFails", func(t *testing.T, s *testServer, b accountBind) {
			r := s.do("POST", "contacts", map[string]any{"lastname": "Veto", "parentcustomerid_account@odata.bind": b.url})
			expectError(t, r, http.StatusBadRequest, eventual.CodePluginFailed, "vetoed")
		}},
		{"ValueTooLong", func(t *testing.T, s *testServer, b accountBind) {
			r := s.do("POST", "contacts", map[string]any{"lastname": strings.Repeat("x", 51), "parentcustomerid_account@odata.bind": b.url})
			expectError(t, r, http.StatusBadRequest, "0x80044331", "exceeded the maximum allowed length of '50'")
		}},
		{"DuplicateKey", func(t *testing.T, s *testServer, b accountBind) {
			mail := "d" + shortID() + "@example.com"
			s.create("contacts", map[string]any{"firstname": "Dup", "emailaddress1": mail})
			r := s.do("POST", "contacts", map[string]any{"firstname": "Dup", "emailaddress1": mail, "parentcustomerid_account@odata.bind": b.url})
			expectError(t, r, http.StatusPreconditionFailed, eventual.CodeDuplicateRecordEntityKey, "contact_name_email")
		}},
		{"UpsertIfMatchMissing", func(t *testing.T, s *testServer, b accountBind) {
			r := s.do("PATCH", "contacts("+uuid.NewString()+")", map[string]any{"parentcustomerid_account@odata.bind": b.url}, "If-Match", "*")
			expectError(t, r, http.StatusNotFound, eventual.CodeObjectDoesNotExist, "Does Not Exist")
		}},
	}
	for _, stage := range []eventual.Stage{eventual.PreValidation, eventual.PreOperation} {
		t.Run(stage.String(), func(t *testing.T) {
			forEachStore(t, func(t *testing.T, s *testServer) {
				withPlaceholders(t, s, stage)
				registerStep(t, s, eventual.Step{Name: "test.veto", Message: eventual.MessageCreate, Table: "contact", Stage: eventual.PostOperation,
					Plugin: eventual.PluginFunc(func(_ context.Context, ec *eventual.ExecutionContext) error {
						if e := ec.Target(); e != nil && e.Values["lastname"] == "Veto" {
							return &eventual.PluginError{Message: "vetoed by test step"}
						}
						return nil
					})})
				for _, f := range failures {
					for _, byKey := range []bool{false, true} {
						subtest(t, s, f.name+"/"+bindForm(byKey), func(t *testing.T, s *testServer) {
							b := missingAccount(byKey)
							f.run(t, s, b)
							n := s.count("accounts", b.filter)
							if stage == eventual.PreValidation {
								if n != 1 {
									t.Fatalf("%d placeholders after the failed write, want 1: PreValidation runs outside the write's transaction", n)
								}
								wantAccountPlaceholder(t, s, b, "")
							} else if n != 0 {
								t.Errorf("%d placeholders after the failed write, want 0: at PreOperation the placeholder rolls back with the write", n)
							}
						})
					}
				}
				// A change set is one transaction: its placeholders roll
				// back with it whatever the stage.
				subtest(t, s, "ChangeSetRollsBack", func(t *testing.T, s *testServer) {
					b := missingAccount(true)
					res := s.batch(nil, changeSet{
						{Method: "POST", URL: "contacts", ContentID: "1", Body: map[string]any{"lastname": "Batch", "parentcustomerid_account@odata.bind": b.url}},
						{Method: "POST", URL: "contacts", ContentID: "2", Body: map[string]any{"lastname": "Veto"}},
					})
					if res.Status != http.StatusBadRequest {
						t.Errorf("batch status %d, want 400\n%s", res.Status, res.Body)
					}
					if n := s.count("accounts", b.filter); n != 0 {
						t.Errorf("%d placeholders after a failed change set, want 0", n)
					}
				})
				// So does a failing bulk message.
				subtest(t, s, "BulkRollsBack", func(t *testing.T, s *testServer) {
					b := missingAccount(true)
					r := s.do("POST", "contacts/Microsoft.Dynamics.CRM.CreateMultiple", targets(
						target("Microsoft.Dynamics.CRM.contact", "lastname", "Bulk", "parentcustomerid_account@odata.bind", b.url),
						target("Microsoft.Dynamics.CRM.contact", "lastname", strings.Repeat("x", 51)),
					))
					expectError(t, r, http.StatusBadRequest, "0x80044331", "")
					if n := s.count("accounts", b.filter); n != 0 {
						t.Errorf("%d placeholders after a failed CreateMultiple, want 0", n)
					}
				})
			})
		})
	}
}

// hydrateStep registers a counting Hydrate step on account with a
// pre-image and a post-image.
func hydrateStep(tb testing.TB, s *testServer) *stepCounter {
	tb.Helper()
	c := &stepCounter{}
	registerStep(tb, s, eventual.Step{Name: "test.hydrate." + uuid.NewString(), Message: eventual.MessageHydrate, Table: "account",
		Stage: eventual.PostOperation, Plugin: c,
		Images: []eventual.Image{{Alias: "pre", Kind: eventual.PreImage}, {Alias: "post", Kind: eventual.PostImage}}})
	return c
}

// TestPlaceholderHydration brings real data to placeholders: the upsert
// replaces the values, flips the state to hydrated, stamps
// eventual_hydratedon and fires Hydrate exactly once.
func TestPlaceholderHydration(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		withPlaceholders(t, s, eventual.PreValidation)
		// newPlaceholder binds a missing account and returns the
		// placeholder's id and record.
		newPlaceholder := func(t *testing.T, s *testServer, b accountBind) (string, map[string]any) {
			t.Helper()
			s.create("contacts", map[string]any{"lastname": "Binder", "parentcustomerid_account@odata.bind": b.url})
			id := wantAccountPlaceholder(t, s, b, "")
			return id, s.query("accounts", b.filter, "name,"+lifecycle)[0]
		}
		// hydrated checks a hydrated account and returns it.
		hydrated := func(t *testing.T, s *testServer, id string, before map[string]any) map[string]any {
			t.Helper()
			m := s.must(http.StatusOK, "GET", "accounts("+id+")?$select=name,telephone1,accountnumber,"+lifecycle, nil).JSON(t)
			if fmt.Sprint(m["eventual_hydrationstate"]) != "2" {
				t.Errorf("eventual_hydrationstate = %v, want 2 (hydrated)", m["eventual_hydrationstate"])
			}
			on, err := time.Parse(time.RFC3339, str(m, "eventual_hydratedon"))
			if err != nil {
				t.Errorf("eventual_hydratedon = %v: %v", m["eventual_hydratedon"], err)
			} else if ph, _ := time.Parse(time.RFC3339, str(before, "eventual_placeholderon")); on.Before(ph) {
				t.Errorf("eventual_hydratedon %v is before eventual_placeholderon %v", on, ph)
			}
			for _, c := range []string{"eventual_placeholderon", "eventual_placeholdercorrelationid"} {
				if m[c] != before[c] {
					t.Errorf("%s changed on hydration: %v, was %v", c, m[c], before[c])
				}
			}
			return m
		}
		checkFired := func(t *testing.T, c *stepCounter, id, wantName string) {
			t.Helper()
			if n := c.count(); n != 1 {
				t.Fatalf("Hydrate ran %d times, want 1", n)
			}
			ec := c.last(t)
			if ec.MessageName != eventual.MessageHydrate || ec.PrimaryEntityName != "account" || ec.PrimaryEntityID.String() != id || ec.Depth != 1 || !ec.IsInTransaction {
				t.Errorf("Hydrate context: message %s, entity %s(%s), depth %d, in transaction %v", ec.MessageName, ec.PrimaryEntityName, ec.PrimaryEntityID, ec.Depth, ec.IsInTransaction)
			}
			if e := ec.Target(); e == nil || e.Values["name"] != wantName {
				t.Errorf("Hydrate target = %+v, want name %q", e, wantName)
			}
			pre, post := ec.PreEntityImages["pre"], ec.PostEntityImages["post"]
			if pre == nil || pre.Values[eventual.ColumnHydrationState] != eventual.HydrationPlaceholder || !strings.HasPrefix(fmt.Sprint(pre.Values["name"]), "Placeholder ") {
				t.Errorf("Hydrate pre-image = %+v, want the whole placeholder record (state 1, placeholder name)", pre)
			}
			if post == nil || post.Values[eventual.ColumnHydrationState] != eventual.HydrationHydrated || post.Values["name"] != wantName {
				t.Errorf("Hydrate post-image = %+v, want the hydrated record", post)
			}
		}

		subtest(t, s, "UpsertByGUID", func(t *testing.T, s *testServer) {
			c := hydrateStep(t, s)
			b := missingAccount(false)
			id, before := newPlaceholder(t, s, b)
			s.must(http.StatusNoContent, "PATCH", "accounts("+id+")", map[string]any{"name": "Real by GUID", "telephone1": "555-0102"})
			m := hydrated(t, s, id, before)
			if str(m, "name") != "Real by GUID" || str(m, "telephone1") != "555-0102" {
				t.Errorf("hydrated values %v", m)
			}
			checkFired(t, c, id, "Real by GUID")
			// Later writes are ordinary updates.
			s.must(http.StatusNoContent, "PATCH", "accounts("+id+")", map[string]any{"name": "Renamed"})
			s.create("contacts", map[string]any{"lastname": "Rebind", "parentcustomerid_account@odata.bind": b.url})
			if n := c.count(); n != 1 {
				t.Errorf("Hydrate ran %d times after more writes, want 1", n)
			}
			again := hydrated(t, s, id, before)
			if again["eventual_hydratedon"] != m["eventual_hydratedon"] || str(again, "name") != "Renamed" {
				t.Errorf("after a later update: %v", again)
			}
		})
		subtest(t, s, "UpsertByKey", func(t *testing.T, s *testServer) {
			c := hydrateStep(t, s)
			b := missingAccount(true)
			id, before := newPlaceholder(t, s, b)
			r := s.must(http.StatusOK, "PATCH", "accounts(accountnumber='"+b.key+"')?$select=accountid", map[string]any{"name": "Real by key", "telephone1": "555-0103"},
				"Prefer", "return=representation")
			if str(r.JSON(t), "accountid") != id {
				t.Errorf("upsert by key answered %s, want the placeholder %s (an update)", r.Body, id)
			}
			m := hydrated(t, s, id, before)
			if str(m, "name") != "Real by key" || str(m, "accountnumber") != b.key {
				t.Errorf("hydrated values %v", m)
			}
			checkFired(t, c, id, "Real by key")
		})
		// hydratesBy checks that write, given a new placeholder, hydrates it
		// to name, running Hydrate once.
		hydratesBy := func(t *testing.T, s *testServer, byKey bool, name string, write func(b accountBind, id string)) {
			t.Helper()
			c := hydrateStep(t, s)
			b := missingAccount(byKey)
			id, before := newPlaceholder(t, s, b)
			write(b, id)
			hydrated(t, s, id, before)
			checkFired(t, c, id, name)
		}
		subtest(t, s, "UpdateIfMatch", func(t *testing.T, s *testServer) {
			hydratesBy(t, s, false, "Real by update", func(_ accountBind, id string) {
				s.must(http.StatusNoContent, "PATCH", "accounts("+id+")", map[string]any{"name": "Real by update"}, "If-Match", "*")
			})
		})
		subtest(t, s, "UpsertMultiple", func(t *testing.T, s *testServer) {
			hydratesBy(t, s, true, "Real by bulk", func(b accountBind, _ string) {
				s.must(http.StatusNoContent, "POST", "accounts/Microsoft.Dynamics.CRM.UpsertMultiple", targets(
					target("Microsoft.Dynamics.CRM.account", "@odata.id", "accounts(accountnumber='"+b.key+"')", "name", "Real by bulk"),
					target("Microsoft.Dynamics.CRM.account", "@odata.id", "accounts("+uuid.NewString()+")", "name", "Other"),
				))
			})
		})
		subtest(t, s, "BatchChangeSet", func(t *testing.T, s *testServer) {
			hydratesBy(t, s, false, "Real by batch", func(_ accountBind, id string) {
				res := s.batch(nil, changeSet{{Method: "PATCH", URL: "accounts(" + id + ")", ContentID: "1", Body: map[string]any{"name": "Real by batch"}}})
				wantStatuses(t, res, 204)
			})
		})
		subtest(t, s, "EmptyWriteDoesNotHydrate", func(t *testing.T, s *testServer) {
			c := hydrateStep(t, s)
			b := missingAccount(false)
			id, _ := newPlaceholder(t, s, b)
			s.must(http.StatusNoContent, "PATCH", "accounts("+id+")", map[string]any{})
			s.must(http.StatusNoContent, "PATCH", "accounts("+id+")", map[string]any{"eventual_hydrationstate": 2})
			wantAccountPlaceholder(t, s, b, "")
			if n := c.count(); n != 0 {
				t.Errorf("Hydrate ran %d times for writes without data", n)
			}
		})
		// The messages around a placeholder: creating one runs no Create
		// step of the placeholder's table (its data is not there yet; that
		// is what Hydrate is for); hydrating runs Upsert and Update, not
		// Create.
		subtest(t, s, "Messages", func(t *testing.T, s *testServer) {
			create, update, upsert := countStep(t, s, eventual.MessageCreate, "account"), countStep(t, s, eventual.MessageUpdate, "account"), countStep(t, s, eventual.MessageUpsert, "account")
			c := hydrateStep(t, s)
			id, _ := newPlaceholder(t, s, missingAccount(false))
			if create.count() != 0 || update.count() != 0 || upsert.count() != 0 {
				t.Errorf("creating a placeholder ran account steps: Create %d, Update %d, Upsert %d; want none", create.count(), update.count(), upsert.count())
			}
			s.must(http.StatusNoContent, "PATCH", "accounts("+id+")", map[string]any{"name": "Real"})
			if create.count() != 0 || update.count() != 1 || upsert.count() != 1 || c.count() != 1 {
				t.Errorf("hydrating ran Create %d, Update %d, Upsert %d, Hydrate %d; want 0, 1, 1, 1", create.count(), update.count(), upsert.count(), c.count())
			}
		})
		// 16 writers hydrate one placeholder at once: all succeed, Hydrate
		// runs once, one writer's data wins whole.
		for _, mode := range []string{"PATCH", "UpsertMultiple"} {
			subtest(t, s, "Concurrent"+mode, func(t *testing.T, s *testServer) {
				c := hydrateStep(t, s)
				b := missingAccount(true)
				id, before := newPlaceholder(t, s, b)
				const writers = 16
				results := make([]sendResult, writers)
				raceAll(writers, func(i int) {
					name, phone := fmt.Sprint("Writer ", i), fmt.Sprint("555-", 1000+i)
					if mode == "PATCH" {
						results[i] = s.send("PATCH", "accounts(accountnumber='"+b.key+"')", map[string]any{"name": name, "telephone1": phone})
						return
					}
					results[i] = s.send("POST", "accounts/Microsoft.Dynamics.CRM.UpsertMultiple", targets(
						target("Microsoft.Dynamics.CRM.account", "@odata.id", "accounts(accountnumber='"+b.key+"')", "name", name, "telephone1", phone)))
				})
				for i, r := range results {
					if r.err != nil || r.status != http.StatusNoContent {
						t.Errorf("writer %d: status %d, err %v: %s", i, r.status, r.err, r.body)
					}
				}
				m := hydrated(t, s, id, before)
				if n := c.count(); n != 1 {
					t.Errorf("Hydrate ran %d times for %d concurrent hydrating writes, want exactly 1", n, writers)
				}
				var w int
				if _, err := fmt.Sscanf(str(m, "name"), "Writer %d", &w); err != nil || str(m, "telephone1") != fmt.Sprint("555-", 1000+w) {
					t.Errorf("final values name %q, telephone1 %q: not one writer's data", str(m, "name"), str(m, "telephone1"))
				}
				if n := s.count("accounts", b.filter); n != 1 {
					t.Errorf("%d accounts with the key, want 1", n)
				}
			})
		}
	})
}

// TestPlaceholderSeenByLaterSteps checks that the placeholder exists for
// the steps after it: a PreOperation and a PostOperation step of the
// binding write can read the bound record (a placeholder), and each runs
// once for the write.
func TestPlaceholderSeenByLaterSteps(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		withPlaceholders(t, s, eventual.PreValidation)
		type seen struct {
			stage eventual.Stage
			state any
			err   error
		}
		var mu sync.Mutex
		var runs []seen
		probe := eventual.PluginFunc(func(ctx context.Context, ec *eventual.ExecutionContext) error {
			e := ec.Target()
			ref, ok := e.Values["parentcustomerid"].(eventual.EntityReference)
			if !ok {
				return nil
			}
			rec, err := ec.Service.Retrieve(ctx, ref, []*eventual.Column{ref.Table.Column(eventual.ColumnHydrationState)})
			sn := seen{stage: ec.Stage, err: err}
			if err == nil {
				sn.state = rec.Values[eventual.ColumnHydrationState]
			}
			mu.Lock()
			runs = append(runs, sn)
			mu.Unlock()
			return err
		})
		// The steps of the binding write run once each.
		subtest(t, s, "RunOnce", func(t *testing.T, s *testServer) {
			pre, post := &stepCounter{}, &stepCounter{}
			registerStep(t, s, eventual.Step{Name: "test.once.pre", Message: eventual.MessageCreate, Table: "contact", Stage: eventual.PreOperation, Plugin: pre})
			registerStep(t, s, eventual.Step{Name: "test.once.post", Message: eventual.MessageCreate, Table: "contact", Stage: eventual.PostOperation, Plugin: post})
			for _, byKey := range []bool{false, true} {
				b := missingAccount(byKey)
				before := pre.count()
				s.must(http.StatusNoContent, "POST", "contacts", map[string]any{"lastname": "Once", "parentcustomerid_account@odata.bind": b.url})
				if n := pre.count() - before; n != 1 {
					t.Errorf("%s: the PreOperation step ran %d times for one write, want 1", bindForm(byKey), n)
				}
			}
			if n := post.count(); n != 2 {
				t.Errorf("the PostOperation step ran %d times for two writes, want 2", n)
			}
		})
		for _, byKey := range []bool{false, true} {
			subtest(t, s, "Read"+bindForm(byKey), func(t *testing.T, s *testServer) {
				for _, st := range []eventual.Stage{eventual.PreOperation, eventual.PostOperation} {
					registerStep(t, s, eventual.Step{Name: "test.probe." + st.String(), Message: eventual.MessageCreate, Table: "contact", Stage: st, Plugin: probe})
				}
				mu.Lock()
				runs = nil
				mu.Unlock()
				b := missingAccount(byKey)
				s.must(http.StatusNoContent, "POST", "contacts", map[string]any{"lastname": "Probe", "parentcustomerid_account@odata.bind": b.url})
				wantAccountPlaceholder(t, s, b, "")
				mu.Lock()
				defer mu.Unlock()
				if len(runs) != 2 || runs[0].stage != eventual.PreOperation || runs[1].stage != eventual.PostOperation {
					t.Fatalf("step runs %+v, want one PreOperation and one PostOperation run", runs)
				}
				for _, r := range runs {
					if r.err != nil || r.state != eventual.HydrationPlaceholder {
						t.Errorf("%s step read the bound record: state %v, error %v; want the placeholder", r.stage, r.state, r.err)
					}
				}
			})
		}
		// A Hydrate step of a write that hydrates one placeholder and binds
		// another missing record reads the bound record, once.
		subtest(t, s, "Hydrate", func(t *testing.T, s *testServer) {
			var n atomic.Int64
			var readErr error
			registerStep(t, s, eventual.Step{Name: "test.hydrate.reads", Message: eventual.MessageHydrate, Table: "account", Stage: eventual.PostOperation,
				Plugin: eventual.PluginFunc(func(ctx context.Context, ec *eventual.ExecutionContext) error {
					n.Add(1)
					ref, ok := ec.Target().Values["parentaccountid"].(eventual.EntityReference)
					if !ok {
						return nil
					}
					_, readErr = ec.Service.Retrieve(ctx, ref, []*eventual.Column{})
					return readErr
				})})
			child, parent := missingAccount(false), missingAccount(true)
			s.create("contacts", map[string]any{"lastname": "Binder", "parentcustomerid_account@odata.bind": child.url})
			s.must(http.StatusNoContent, "PATCH", "accounts("+child.id+")", map[string]any{"name": "Real child", "parentaccountid@odata.bind": parent.url})
			if n.Load() != 1 || readErr != nil {
				t.Errorf("the Hydrate step ran %d times (want 1) and read the bound parent with error %v", n.Load(), readErr)
			}
			wantAccountPlaceholder(t, s, parent, "")
		})
	})
}

// TestPlaceholderNeverOverwritesRealData races writers that bind a key
// (the placeholder path) against writers that upsert the key's real data,
// over many rounds: the record always ends with the real data, never as a
// placeholder, and Hydrate ran once exactly when a placeholder won.
func TestPlaceholderNeverOverwritesRealData(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		withPlaceholders(t, s, eventual.PreValidation)
		c := hydrateStep(t, s)
		const rounds, binders, upserters = 24, 6, 2
		states := map[string]int{}
		for round := range rounds {
			byKey := round%2 == 0
			b := missingAccount(byKey)
			upsertURL := "accounts(" + b.id + ")"
			if byKey {
				upsertURL = "accounts(accountnumber='" + b.key + "')"
			}
			before := c.count()
			results := make([]sendResult, binders+upserters)
			raceAll(binders+upserters, func(i int) {
				switch {
				case i < binders && i%2 == 0:
					results[i] = s.send("POST", "contacts", map[string]any{"lastname": "Binder", "parentcustomerid_account@odata.bind": b.url})
					return
				case i < binders:
					// A bulk bind makes its placeholder set-wise, in the
					// request's transaction.
					r := s.send("POST", "contacts/Microsoft.Dynamics.CRM.CreateMultiple", targets(
						target("Microsoft.Dynamics.CRM.contact", "lastname", "Binder", "parentcustomerid_account@odata.bind", b.url)))
					if r.status == http.StatusOK {
						r.status = http.StatusNoContent
					}
					results[i] = r
					return
				}
				results[i] = s.send("PATCH", upsertURL, map[string]any{"name": "Real data", "telephone1": "555-0199"})
			})
			for i, r := range results {
				if r.err != nil || r.status != http.StatusNoContent {
					t.Errorf("round %d writer %d: status %d, err %v: %s", round, i, r.status, r.err, r.body)
				}
			}
			recs := s.query("accounts", b.filter, "accountid,name,telephone1,"+lifecycle)
			if len(recs) != 1 {
				t.Fatalf("round %d: %d accounts with the key, want 1", round, len(recs))
			}
			m := recs[0]
			if str(m, "name") != "Real data" || str(m, "telephone1") != "555-0199" {
				t.Errorf("round %d: the record holds %q, %q, want the real data", round, str(m, "name"), str(m, "telephone1"))
			}
			state := fmt.Sprint(m["eventual_hydrationstate"])
			states[state]++
			fired := c.count() - before
			switch state {
			case "2": // a placeholder came first, then the data hydrated it
				if fired != 1 || m["eventual_hydratedon"] == nil || m["eventual_placeholderon"] == nil {
					t.Errorf("round %d: hydrated record %v, Hydrate ran %d times, want once", round, m, fired)
				}
			case "0": // the data came first; binds found it
				if fired != 0 || m["eventual_placeholderon"] != nil {
					t.Errorf("round %d: plain record %v, Hydrate ran %d times, want none", round, m, fired)
				}
			default:
				t.Errorf("round %d: eventual_hydrationstate %s after real data was written, want 0 or 2: %v", round, state, m)
			}
			if n := s.count("contacts", "_parentcustomerid_value eq "+str(m, "accountid")); n != binders {
				t.Errorf("round %d: %d contacts bind the record, want %d", round, n, binders)
			}
		}
		t.Logf("final states over %d rounds: %v", rounds, states)
	})
}

// TestPlaceholderOff checks binds to missing records without the
// placeholder steps: they fail as Dataverse fails them (404, 0x80040217
// by GUID, 0x80060891 by alternate key) and nothing is written.
func TestPlaceholderOff(t *testing.T) {
	// A write binds url and returns the response to check (for a batch,
	// the failed part's).
	type write struct {
		name string
		run  func(s *testServer, url string) *response
	}
	writes := []write{
		{name: "POST", run: func(s *testServer, url string) *response {
			return s.do("POST", "contacts", map[string]any{"lastname": "Off", "parentcustomerid_account@odata.bind": url})
		}},
		{name: "PATCHUpdate", run: func(s *testServer, url string) *response {
			id := s.create("contacts", map[string]any{"lastname": "Off existing"})
			return s.do("PATCH", "contacts("+id+")", map[string]any{"lastname": "Off changed", "parentcustomerid_account@odata.bind": url}, "If-Match", "*")
		}},
		{name: "PATCHUpsert", run: func(s *testServer, url string) *response {
			return s.do("PATCH", "contacts("+uuid.NewString()+")", map[string]any{"lastname": "Off", "parentcustomerid_account@odata.bind": url})
		}},
		{name: "DeepInsert", run: func(s *testServer, url string) *response {
			return s.do("POST", "accounts", map[string]any{"name": "Off parent", "primarycontactid": map[string]any{"lastname": "Off", "parentcustomerid_account@odata.bind": url}})
		}},
		{name: "CreateMultiple", run: func(s *testServer, url string) *response {
			return s.do("POST", "contacts/Microsoft.Dynamics.CRM.CreateMultiple", targets(
				target("Microsoft.Dynamics.CRM.contact", "lastname", "Off"),
				target("Microsoft.Dynamics.CRM.contact", "lastname", "Off", "parentcustomerid_account@odata.bind", url)))
		}},
		{name: "UpsertMultiple", run: func(s *testServer, url string) *response {
			return s.do("POST", "contacts/Microsoft.Dynamics.CRM.UpsertMultiple", targets(
				target("Microsoft.Dynamics.CRM.contact", "@odata.id", "contacts("+uuid.NewString()+")", "lastname", "Off"),
				target("Microsoft.Dynamics.CRM.contact", "@odata.id", "contacts("+uuid.NewString()+")", "lastname", "Off", "parentcustomerid_account@odata.bind", url)))
		}},
		{name: "BatchChangeSet", run: func(s *testServer, url string) *response {
			res := s.batch(nil, changeSet{
				{Method: "POST", URL: "contacts", ContentID: "1", Body: map[string]any{"lastname": "Off"}},
				{Method: "POST", URL: "contacts", ContentID: "2", Body: map[string]any{"lastname": "Off", "parentcustomerid_account@odata.bind": url}},
			})
			if res.Status != http.StatusBadRequest || len(res.Parts()) != 1 {
				s.tb.Errorf("batch status %d, parts %v, want 400 with the failed part\n%s", res.Status, res.Statuses(), res.Body)
				return &response{}
			}
			return &res.Parts()[0].response
		}},
	}
	forEachStore(t, func(t *testing.T, s *testServer) {
		for _, w := range writes {
			for _, byKey := range []bool{false, true} {
				subtest(t, s, w.name+"/"+bindForm(byKey), func(t *testing.T, s *testServer) {
					b := missingAccount(byKey)
					r := w.run(s, b.url)
					if byKey {
						expectError(t, r, http.StatusNotFound, eventual.CodeRecordNotFoundByKey, "A record with the specified key values does not exist in account entity")
					} else {
						expectError(t, r, http.StatusNotFound, eventual.CodeObjectDoesNotExist, "account With Id = "+b.id+" Does Not Exist")
					}
					if n := s.count("accounts", b.filter); n != 0 {
						t.Errorf("%d accounts with the bound key, want none", n)
					}
					if n := s.count("contacts", "lastname eq 'Off' or lastname eq 'Off changed'"); n != 0 {
						t.Errorf("%d contacts written by the failed request, want none", n)
					}
					if n := s.count("accounts", "name eq 'Off parent'"); n != 0 {
						t.Errorf("the deep insert's parent was written")
					}
				})
			}
		}
	})
}

// TestPlaceholderNilGUID: the nil GUID names no record and no placeholder
// can hold it, so a bind to it fails as a missing record does, with
// placeholders on as with them off, and every path refuses an upsert of
// it rather than create a new record with a new id each time.
func TestPlaceholderNilGUID(t *testing.T) {
	nilURL := "/accounts(" + uuid.Nil.String() + ")"
	forEachStore(t, func(t *testing.T, s *testServer) {
		withPlaceholders(t, s, eventual.PreValidation)
		before := s.count("accounts", "")
		for name, r := range map[string]*response{
			"POST bind":        s.do("POST", "contacts", map[string]any{"lastname": "NilBind", "parentcustomerid_account@odata.bind": nilURL}),
			"deep insert bind": s.do("POST", "accounts", map[string]any{"name": "NilParent", "primarycontactid": map[string]any{"lastname": "NilBind", "parentcustomerid_account@odata.bind": nilURL}}),
			"CreateMultiple bind": s.do("POST", "contacts/Microsoft.Dynamics.CRM.CreateMultiple", targets(
				target(contactType, "lastname", "NilBind", "parentcustomerid_account@odata.bind", nilURL))),
		} {
			if r.Status != http.StatusNotFound || !strings.Contains(string(r.Body), eventual.CodeObjectDoesNotExist) {
				t.Errorf("%s to the nil GUID: %d %s, want 404 %s", name, r.Status, r.Body, eventual.CodeObjectDoesNotExist)
			}
		}
		res := s.batch(nil, changeSet{{Method: "PATCH", URL: "accounts(" + uuid.Nil.String() + ")", ContentID: "1", Body: map[string]any{"name": "NilUpsert"}}})
		if len(res.Parts()) != 1 {
			t.Fatalf("batch upsert of the nil GUID: %d %s", res.Status, res.Body)
		}
		for name, r := range map[string]*response{
			"batch upsert": &res.Parts()[0].response,
			"PATCH upsert": s.do("PATCH", "accounts("+uuid.Nil.String()+")", map[string]any{"name": "NilUpsert"}),
			"UpsertMultiple": s.do("POST", "accounts/Microsoft.Dynamics.CRM.UpsertMultiple", targets(
				target(accountType, "@odata.id", "accounts("+uuid.Nil.String()+")", "name", "NilUpsert"))),
		} {
			if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "non-empty GUID") {
				t.Errorf("%s of the nil GUID: %d %s, want 400", name, r.Status, r.Body)
			}
		}
		if n := s.count("accounts", ""); n != before {
			t.Errorf("%d accounts after the refused writes, want %d: placeholders or records were made", n, before)
		}
		if n := s.count("contacts", "lastname eq 'NilBind'"); n != 0 {
			t.Errorf("%d contacts written by the failed requests", n)
		}
	})
}

// TestPlaceholderSelfBind: a record created with a key and binding that
// same key gets no placeholder, which would take the key: the create fails
// as in Dataverse (404 by key), leaves nothing behind, and the key stays
// free.
func TestPlaceholderSelfBind(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		withPlaceholders(t, s, eventual.PreValidation)
		body := map[string]any{"name": "Self", "accountnumber": "SELF-1", "parentaccountid@odata.bind": "/accounts(accountnumber='SELF-1')"}
		expectError(t, s.do("POST", "accounts", body), http.StatusNotFound, eventual.CodeRecordNotFoundByKey, "")
		if n := s.count("accounts", "accountnumber eq 'SELF-1'"); n != 0 {
			t.Errorf("%d accounts hold the key after the failed create, want none", n)
		}
		s.create("accounts", map[string]any{"name": "Self", "accountnumber": "SELF-1"})
		// By its own GUID, given in the body.
		id := uuid.NewString()
		expectError(t, s.do("POST", "accounts", map[string]any{"accountid": id, "name": "Self", "parentaccountid@odata.bind": "/accounts(" + id + ")"}),
			http.StatusNotFound, eventual.CodeObjectDoesNotExist, "")
		expectError(t, s.do("GET", "accounts("+id+")", nil), http.StatusNotFound, eventual.CodeObjectDoesNotExist, "")
		s.create("accounts", map[string]any{"accountid": id, "name": "Self"})
	})
}

// TestPlaceholderDependentRecords sends bulk messages whose second record
// binds the first. instance/bulk.go promises the outcome of a loop of
// single operations, in which the first record exists when the second
// binds it: with or without placeholders, both records are written, and
// the first is a record with its data, not a placeholder.
func TestPlaceholderDependentRecords(t *testing.T) {
	for _, on := range []bool{false, true} {
		name := "PlaceholdersOff"
		if on {
			name = "PlaceholdersOn"
		}
		t.Run(name, func(t *testing.T) {
			forEachStore(t, func(t *testing.T, s *testServer) {
				if on {
					withPlaceholders(t, s, eventual.PreValidation)
				}
				check := func(t *testing.T, s *testServer, r *response, status int, parent string) {
					t.Helper()
					if r.Status != status {
						t.Fatalf("a parent and a child binding it in one request: %d %s; a loop of single operations succeeds", r.Status, r.Body)
					}
					m := s.must(http.StatusOK, "GET", "accounts("+parent+")?$select=name,"+lifecycle, nil).JSON(t)
					if str(m, "name") != "Parent" || fmt.Sprint(m["eventual_hydrationstate"]) == "1" {
						t.Errorf("parent %v, want its data", m)
					}
					if n := s.count("accounts", "name eq 'Child' and _parentaccountid_value eq "+parent); n != 1 {
						t.Errorf("%d children bind the parent, want 1", n)
					}
				}
				subtest(t, s, "UpsertMultipleByODataID", func(t *testing.T, s *testServer) {
					parent := uuid.NewString()
					r := s.do("POST", "accounts/Microsoft.Dynamics.CRM.UpsertMultiple", targets(
						target("Microsoft.Dynamics.CRM.account", "@odata.id", "accounts("+parent+")", "name", "Parent"),
						target("Microsoft.Dynamics.CRM.account", "@odata.id", "accounts("+uuid.NewString()+")", "name", "Child", "parentaccountid@odata.bind", "/accounts("+parent+")"),
					))
					check(t, s, r, http.StatusNoContent, parent)
				})
				subtest(t, s, "UpsertMultipleByBodyID", func(t *testing.T, s *testServer) {
					parent := uuid.NewString()
					r := s.do("POST", "accounts/Microsoft.Dynamics.CRM.UpsertMultiple", targets(
						target("Microsoft.Dynamics.CRM.account", "accountid", parent, "name", "Parent"),
						target("Microsoft.Dynamics.CRM.account", "accountid", uuid.NewString(), "name", "Child", "parentaccountid@odata.bind", "/accounts("+parent+")"),
					))
					check(t, s, r, http.StatusNoContent, parent)
				})
				subtest(t, s, "CreateMultiple", func(t *testing.T, s *testServer) {
					parent := uuid.NewString()
					r := s.do("POST", "accounts/Microsoft.Dynamics.CRM.CreateMultiple", targets(
						target("Microsoft.Dynamics.CRM.account", "accountid", parent, "name", "Parent"),
						target("Microsoft.Dynamics.CRM.account", "name", "Child", "parentaccountid@odata.bind", "/accounts("+parent+")"),
					))
					check(t, s, r, http.StatusOK, parent)
				})
			})
		})
	}
}

// TestPlaceholderStepNames checks the registration the other tests rely
// on: one step per table, stage and message, with the documented name,
// rank -1000, and set-wise (BulkPlugin) so bulk messages stay set-wise.
func TestPlaceholderStepNames(t *testing.T) {
	s := newServer(t, stores[0], metadata.Builtin())
	withPlaceholders(t, s, eventual.PreValidation)
	for _, name := range []string{
		"eventual.placeholder.contact.prevalidation.create",
		"eventual.placeholder.contact.prevalidation.update",
		"eventual.placeholder.contact.prevalidation.upsert",
		"eventual.placeholder.account.prevalidation.create",
		"eventual.placeholder.new_order.prevalidation.upsert",
	} {
		st := s.Instance.Pipeline.Step(name)
		if st == nil {
			t.Errorf("no step %s", name)
			continue
		}
		if st.Rank != -1000 || st.Stage != eventual.PreValidation {
			t.Errorf("step %s: rank %d, stage %s", name, st.Rank, st.Stage)
		}
		if _, ok := st.Plugin.(eventual.BulkPlugin); !ok {
			t.Errorf("step %s is not a BulkPlugin: bulk messages would run record by record", name)
		}
	}
}
