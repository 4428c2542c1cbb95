package main_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eventual-pp/eventual/internal/testpg"
	"github.com/eventual-pp/eventual/internal/testproc"
)

// syncedColumns are the columns the sync tests compare.
var syncedColumns = map[string]string{
	"accounts": "accountid,name,accountnumber,telephone1,_parentaccountid_value,eventual_hydrationstate",
	"contacts": "contactid,firstname,lastname,emailaddress1,_parentcustomerid_value,eventual_hydrationstate",
}

// table reads every row of an entity set with the compared columns, as
// JSON text by id.
func table(t testing.TB, c *http.Client, serviceRoot, set string) map[string]map[string]any {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, serviceRoot+set+"?$select="+syncedColumns[set], nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Prefer", "odata.maxpagesize=5000")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("read %s: %v", set, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", set, err)
	}
	var body struct {
		Value []map[string]any `json:"value"`
		Next  string           `json:"@odata.nextLink"`
	}
	if err := json.Unmarshal(raw, &body); err != nil || resp.StatusCode != 200 || body.Next != "" {
		t.Fatalf("read %s: %d %v (next %q): %.500s", set, resp.StatusCode, err, body.Next, raw)
	}
	out := map[string]map[string]any{}
	key := strings.TrimSuffix(set, "s") + "id"
	for _, row := range body.Value {
		delete(row, "@odata.etag")
		out[row[key].(string)] = row
	}
	return out
}

// equalTables fails the test unless B holds exactly A's rows (hydrated
// placeholders aside, whose state differs by design).
func equalTables(t testing.TB, c *http.Client, a, b string) {
	t.Helper()
	for set := range syncedColumns {
		as, bs := table(t, c, a, set), table(t, c, b, set)
		var diffs []string
		for id, ar := range as {
			br, ok := bs[id]
			if !ok {
				diffs = append(diffs, "missing on B: "+id)
				continue
			}
			if br["eventual_hydrationstate"] == float64(1) {
				diffs = append(diffs, "still a placeholder on B: "+id)
			}
			delete(ar, "eventual_hydrationstate")
			delete(br, "eventual_hydrationstate")
			if fmt.Sprint(ar) != fmt.Sprint(br) {
				diffs = append(diffs, fmt.Sprintf("differs: A %v, B %v", ar, br))
			}
		}
		for id, br := range bs {
			// A placeholder whose source row never existed in a read (a
			// child was written before its parent was created and deleted
			// on A) stays: nothing can hydrate it.
			if _, ok := as[id]; !ok && br["eventual_hydrationstate"] != float64(1) {
				diffs = append(diffs, fmt.Sprintf("on B only: %v", br))
			}
		}
		sort.Strings(diffs)
		if len(diffs) > 0 {
			t.Errorf("%s: %d differences, the first: %v", set, len(diffs), diffs[:min(5, len(diffs))])
		}
	}
}

// startAB starts Instance A (placeholders off) and B (placeholders on,
// with bArgs) on loopback ports with their files in dir, and returns a
// client for both.
func startAB(t testing.TB, dir string, bArgs ...string) (a, b *proc, c *http.Client) {
	t.Helper()
	a = startServe(t, "--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "a.db"), "--placeholders", "off")
	b = startServe(t, append([]string{"--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "b.db")}, bArgs...)...)
	return a, b, newClient(t, requestTimeout)
}

// writeLoad creates, updates and deletes accounts and contacts on A.
func writeLoad(t testing.TB, c *http.Client, a string, round, n int) {
	t.Helper()
	for i := range n {
		acc := idFromEntityID(t, must(t, c, 204, "POST", a+"accounts", map[string]any{
			"name": fmt.Sprintf("acc %d-%d", round, i), "accountnumber": fmt.Sprintf("R%d-%d", round, i)}))
		must(t, c, 204, "POST", a+"contacts", map[string]any{"lastname": fmt.Sprintf("c %d-%d", round, i),
			"parentcustomerid_account@odata.bind": "/accounts(" + acc + ")"})
		switch i % 5 {
		case 1:
			must(t, c, 204, "PATCH", a+"accounts("+acc+")", map[string]any{"telephone1": fmt.Sprint(i)})
		case 3:
			must(t, c, 204, "DELETE", a+"accounts(accountnumber='"+fmt.Sprintf("R%d-%d", round, i-1)+"')", nil)
		}
	}
}

// TestSync_KilledRepeatedly: "eventual sync" killed with SIGKILL at random
// moments while A takes writes resumes each time from its state file;
// at the end "sync --once" exits 0 and B equals A, nothing lost or
// duplicated, deletes propagated, placeholders hydrated.
func TestSync_KilledRepeatedly(t *testing.T) {
	dir := t.TempDir()
	a, b, c := startAB(t, dir)
	// B already references an account A has, by key: a placeholder the
	// sync must hydrate (by adoption) rather than duplicate.
	must(t, c, 204, "POST", a.URL+"accounts", map[string]any{"name": "Early", "accountnumber": "EARLY"})
	must(t, c, 204, "POST", b.URL+"contacts", map[string]any{"lastname": "early order",
		"parentcustomerid_account@odata.bind": "/accounts(accountnumber='EARLY')"})
	args := []string{"sync", "--source", a.Root, "--target", b.URL, "--tables", "account,contact",
		"--state", filepath.Join(dir, "sync.db"), "--batch", "20", "--interval", "20ms", "--lease", "200ms"}
	for round := range 6 {
		p := testproc.Spawn(t, binary, args...)
		writeLoad(t, c, a.URL, round, 25)
		time.Sleep(time.Duration(rand.IntN(150)) * time.Millisecond)
		p.Signal(syscall.SIGKILL)
		p.Wait(exitTimeout)
	}
	code, _, stderr := runEventual(t, 60*time.Second, append(args, "--once")...)
	if code != 0 {
		t.Fatalf("sync --once exited %d\n%s", code, stderr)
	}
	bOnly := 0 // B's own contact is not on A
	for id, row := range table(t, c, b.URL, "contacts") {
		if row["lastname"] == "early order" {
			bOnly++
			must(t, c, 204, "DELETE", b.URL+"contacts("+id+")", nil)
		}
	}
	if bOnly != 1 {
		t.Errorf("B's own contact: %d, want 1", bOnly)
	}
	equalTables(t, c, a.URL, b.URL)
	// Users are each instance's own: B's records name B's user (the sync
	// writes as it), never A's.
	bUser := object(t, must(t, c, 200, "GET", b.URL+"WhoAmI", nil))["UserId"]
	if aUser := object(t, must(t, c, 200, "GET", a.URL+"WhoAmI", nil))["UserId"]; aUser == bUser {
		t.Fatalf("A and B share the user %v", aUser)
	}
	for _, set := range []string{"accounts", "contacts"} {
		for _, rec := range object(t, must(t, c, 200, "GET", b.URL+set+"?$select=_createdby_value,_modifiedby_value,_ownerid_value", nil))["value"].([]any) {
			r := rec.(map[string]any)
			if r["_createdby_value"] != bUser || r["_modifiedby_value"] != bUser || r["_ownerid_value"] != bUser {
				t.Errorf("%s on B: %v, want B's user %v", set, r, bUser)
				break
			}
		}
	}
	code, out, _ := runEventual(t, 30*time.Second, "sync", "status", "--state", filepath.Join(dir, "sync.db"))
	if code != 0 || !strings.Contains(out, "account") || !strings.Contains(out, "delta") {
		t.Errorf("sync status exited %d:\n%s", code, out)
	}
}

// TestSync_TwoProcessesOnePostgresState: two sync processes on one
// PostgreSQL state act as one — one is active, the other standby; kill
// the active one and the other takes over within a few seconds, from the
// same cursor, and B ends equal to A.
func TestSync_TwoProcessesOnePostgresState(t *testing.T) {
	if testpg.DSN() == "" {
		t.Skipf("PostgreSQL process tests are off: set %s", testpg.EnvDSN)
	}
	dir := t.TempDir()
	a, b, c := startAB(t, dir)
	stateDSN := testpg.Schema(t, "syncstate")
	args := []string{"sync", "--source", a.URL, "--target", b.Root, "--tables", "account,contact",
		"--state", stateDSN, "--batch", "20", "--interval", "20ms", "--lease", "500ms"}
	p1 := testproc.Spawn(t, binary, args...)
	p1.WaitStderr("active for the table", 20*time.Second)
	p2 := testproc.Spawn(t, binary, args...)
	p2.WaitStderr("standby for the table", 20*time.Second)
	writeLoad(t, c, a.URL, 0, 20)
	p1.Signal(syscall.SIGKILL)
	p1.Wait(exitTimeout)
	killed := time.Now()
	writeLoad(t, c, a.URL, 1, 20)
	p2.WaitStderr("active for the table", 10*time.Second)
	if took := time.Since(killed); took > 5*time.Second {
		t.Errorf("the standby took over %v after the kill, want within a few seconds", took)
	}
	p2.Stop()
	code, _, stderr := runEventual(t, 60*time.Second, append(args, "--once")...)
	if code != 0 {
		t.Fatalf("sync --once exited %d\n%s", code, stderr)
	}
	equalTables(t, c, a.URL, b.URL)
}

// TestSync_WakeUps: with an hour between polls, a webhook call on
// --listen starts a cycle at once.
func TestSync_WakeUps(t *testing.T) {
	dir := t.TempDir()
	a, b, c := startAB(t, dir)
	p := testproc.Spawn(t, binary, "sync", "--source", a.Root, "--target", b.Root, "--tables", "account",
		"--state", filepath.Join(dir, "sync.db"), "--interval", "1h", "--listen", "127.0.0.1:0")
	p.WaitStderr("accepting webhook wake-ups", 20*time.Second)
	p.WaitStderr("replication: loaded", 20*time.Second)
	m := regexp.MustCompile(`url=(http://127\.0\.0\.1:\d+/)`).FindStringSubmatch(p.Stderr.String())
	if m == nil {
		t.Fatalf("no wake-up URL in:\n%s", p.Stderr.String())
	}
	id := idFromEntityID(t, must(t, c, 204, "POST", a.URL+"accounts", map[string]any{"name": "woken"}))
	must(t, c, 204, "POST", m[1], map[string]any{"MessageName": "Create", "PrimaryEntityName": "account"})
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := send(c, "GET", b.URL+"accounts("+id+")?$select=name", nil)
		if err == nil && r.Status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the woken sync did not deliver the account within 10s\n%s", p.Stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r := must(t, c, 405, "GET", m[1], nil); r.Header.Get("Allow") != "POST" {
		t.Errorf("GET on the wake-up listener: Allow %q", r.Header.Get("Allow"))
	}
	p.Stop()
}

// TestSync_ManyToMany: associations replicate as the intersect table's
// records: an association made on A is on B after a sync of the
// intersect with the tables it links (in whatever order they are
// applied, B's placeholders stand for ends not there yet), and a
// disassociation on A removes it from B.
func TestSync_ManyToMany(t *testing.T) {
	dir := t.TempDir()
	a, b, c := startAB(t, dir)
	acc := idFromEntityID(t, must(t, c, 204, "POST", a.URL+"accounts", map[string]any{"name": "Linked", "accountnumber": "MM-1"}))
	con := idFromEntityID(t, must(t, c, 204, "POST", a.URL+"contacts", map[string]any{"lastname": "Linked"}))
	must(t, c, 204, "POST", a.URL+"accounts("+acc+")/new_account_contact/$ref", map[string]any{"@odata.id": a.URL + "contacts(" + con + ")"})
	sync := func(tables string) {
		t.Helper()
		code, _, stderr := runEventual(t, 60*time.Second, "sync", "--source", a.Root, "--target", b.Root, "--tables", tables,
			"--state", filepath.Join(dir, "sync.db"), "--once")
		if code != 0 {
			t.Fatalf("sync --once exited %d\n%s", code, stderr)
		}
	}
	// The intersect table goes with the tables it links (discovery keeps
	// its lookups only to tables discovered with it).
	sync("new_account_contact,account,contact")
	rows := object(t, must(t, c, 200, "GET", b.URL+"accounts("+acc+")/new_account_contact?$select=lastname,eventual_hydrationstate", nil))["value"].([]any)
	if len(rows) != 1 || rows[0].(map[string]any)["lastname"] != "Linked" || fmt.Sprint(rows[0].(map[string]any)["eventual_hydrationstate"]) == "1" {
		t.Errorf("B's association after the full sync: %v", rows)
	}
	must(t, c, 204, "DELETE", a.URL+"accounts("+acc+")/new_account_contact("+con+")/$ref", nil)
	sync("account,contact,new_account_contact")
	if rows := object(t, must(t, c, 200, "GET", b.URL+"accounts("+acc+")/new_account_contact", nil))["value"].([]any); len(rows) != 0 {
		t.Errorf("B still has the association A removed: %v", rows)
	}
}
