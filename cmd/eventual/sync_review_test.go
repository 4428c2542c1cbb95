package main_test

import (
	"fmt"
	"math/rand/v2"
	"syscall"

	"github.com/eventual-pp/eventual/internal/testproc"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serveErrors are the lines of an "eventual serve" log that report a
// failure of its own (level=ERROR, or a 5xx answered).
func serveErrors(p *proc) []string {
	var out []string
	for line := range strings.Lines(p.Stderr.String()) {
		if strings.Contains(line, "level=ERROR") || strings.Contains(line, "status=5") {
			out = append(out, line)
		}
	}
	return out
}

// TestSyncReview_KeyConfigWithTablesFlag: the config file matches account
// and contact by alternate key (adopt off) and limits contact's columns,
// and lists lead too; --tables account,contact picks the tables, keeping
// the file's key and columns. Awkward key values cross HTTP intact; an
// account with no accountnumber is a dead letter, a placeholder B made
// by key is taken over, so --once exits
// non-zero; "sync status" shows the table caught up (backlog 0) with one
// dead letter; once the record gets a key, --once exits 0. Neither
// server answers 5xx or logs an error.
func TestSyncReview_KeyConfigWithTablesFlag(t *testing.T) {
	dir := t.TempDir()
	a := startServe(t, "--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "a.db"), "--placeholders", "off")
	b := startServe(t, "--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "b.db"))
	c := newClient(t, requestTimeout)
	cfg := filepath.Join(dir, "sync.yaml")
	yaml := "adopt: false\ntables:\n  - name: new_order\n  - name: account\n    key: accountnumber_key\n  - name: contact\n    key: firstname,emailaddress1\n    columns: [firstname, lastname, emailaddress1, parentcustomerid]\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	keys := []string{"O'Brien", "a/b", "50%", "x#y", "a?b", "a+b", "é 日本", "a&b=c", "(p)", "c,d"}
	accs := map[string]string{}
	for i, k := range keys {
		accs[k] = idFromEntityID(t, must(t, c, 204, "POST", a.URL+"accounts", map[string]any{"name": "acc " + k, "accountnumber": k}))
		must(t, c, 204, "POST", a.URL+"contacts", map[string]any{"firstname": k, "lastname": "l", "emailaddress1": fmt.Sprint(i, "@x"),
			"telephone1": "555", "parentcustomerid_account@odata.bind": "/accounts(" + accs[k] + ")"})
	}
	// B holds an order bound to one of them by key: a placeholder with
	// B's GUID, which matching by key takes over.
	must(t, c, 204, "POST", b.URL+"new_orders", map[string]any{"new_name": "early", "new_customer@odata.bind": "/accounts(accountnumber='c,d')"})
	var phID string
	for id := range table(t, c, b.URL, "accounts") {
		phID = id
	}
	noKey := idFromEntityID(t, must(t, c, 204, "POST", a.URL+"accounts", map[string]any{"name": "no key"}))
	must(t, c, 204, "POST", a.URL+"new_orders", map[string]any{"new_name": "not synced"})
	statePath := filepath.Join(dir, "sync.db")
	args := []string{"sync", "--source", a.Root, "--target", b.Root, "--config", cfg, "--tables", "account,contact",
		"--state", statePath, "--batch", "3", "--once"}
	code, _, stderr := runEventual(t, 60*time.Second, args...)
	if code == 0 || !strings.Contains(stderr, "refused 1 records") {
		t.Fatalf("sync --once with an account without key exited %d:\n%s", code, stderr)
	}
	bAccs := table(t, c, b.URL, "accounts")
	if len(bAccs) != len(keys) {
		t.Errorf("B has %d accounts, want %d", len(bAccs), len(keys))
	}
	byNumber := map[string]map[string]any{}
	for id, r := range bAccs {
		n, _ := r["accountnumber"].(string)
		byNumber[n] = r
		if n == "c,d" && id != phID {
			t.Errorf("B's account %q is %s, want the placeholder %s taken over: the file's key was not kept under --tables", n, id, phID)
		}
	}
	for _, k := range keys {
		if byNumber[k] == nil || byNumber[k]["name"] != "acc "+k {
			t.Errorf("B's account %q: %v", k, byNumber[k])
		}
	}
	bCons := table(t, c, b.URL, "contacts")
	if len(bCons) != len(keys) {
		t.Errorf("B has %d contacts, want %d", len(bCons), len(keys))
	}
	for _, r := range bCons {
		parent, _ := r["_parentcustomerid_value"].(string)
		if p := bAccs[parent]; p == nil || p["accountnumber"] != r["firstname"] {
			t.Errorf("B's contact %v references %v, not B's account %v", r["firstname"], parent, r["firstname"])
		}
	}
	resp := must(t, c, 200, "GET", b.URL+"contacts?$select=telephone1&$filter="+url.QueryEscape("telephone1 ne null"), nil)
	if strings.Contains(string(resp.Body), "555") {
		t.Errorf("B's contacts have telephone1, a column the file's columns leave out: %s", resp.Body)
	}
	if resp := must(t, c, 200, "GET", b.URL+"new_orders?$select=new_name", nil); strings.Contains(string(resp.Body), "not synced") {
		t.Errorf("new_order was synced although --tables leaves it out")
	}
	code, out, stderr := runEventual(t, 30*time.Second, "sync", "status", "--state", statePath)
	if code != 0 {
		t.Fatalf("sync status exited %d:\n%s", code, stderr)
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || f[0] != "account" && f[0] != "contact" {
			continue
		}
		// TABLE PHASE LAST-CYCLE LAG BACKLOG APPLIED PLACEHOLDERS DEAD
		if f[1] != "delta" || f[4] != "0" {
			t.Errorf("status of %s: phase %s, backlog %s; want delta, 0:\n%s", f[0], f[1], f[4], out)
		}
		if want := map[string]string{"account": "1", "contact": "0"}[f[0]]; f[7] != want {
			t.Errorf("status of %s: %s dead letters, want %s:\n%s", f[0], f[7], want, out)
		}
	}
	if !strings.Contains(out, "account") || !strings.Contains(out, "contact") || strings.Contains(out, "new_order") {
		t.Errorf("status lists:\n%s", out)
	}
	must(t, c, 204, "PATCH", a.URL+"accounts("+noKey+")", map[string]any{"accountnumber": "NK"})
	if code, _, stderr := runEventual(t, 60*time.Second, args...); code != 0 {
		t.Errorf("sync --once after the record got a key exited %d:\n%s", code, stderr)
	}
	if n := len(table(t, c, b.URL, "accounts")); n != len(keys)+1 {
		t.Errorf("B has %d accounts after the fix, want %d", n, len(keys)+1)
	}
	for _, p := range []*proc{a, b} {
		if errs := serveErrors(p); len(errs) > 0 {
			t.Errorf("a server logged %d errors or 5xx, the first:\n%.2000s", len(errs), errs[0])
		}
	}
}

// TestSyncReview_KeySIGTERMMidFlight: accounts matched by key, the sync
// stopped by SIGTERM at random moments of the initial load and the
// deltas (pages in flight) exits 0 each time; then --once exits 0 and B
// holds exactly A's accounts by key, and A's contacts. Neither server
// answers 5xx or logs an error.
func TestSyncReview_KeySIGTERMMidFlight(t *testing.T) {
	interruptedKeySync(t, syscall.SIGTERM, 4, 150*time.Millisecond)
}

// TestSyncReview_KeySIGKILLMidFlight: as the SIGTERM test, but the sync
// is killed by SIGKILL ("a sync killed at any moment resumes from the last
// acknowledged page", README), with rows deleted on A between the kills; then --once exits 0 and B
// holds exactly A's accounts by key, and A's contacts. Neither server
// answers 5xx or logs an error.
func TestSyncReview_KeySIGKILLMidFlight(t *testing.T) {
	interruptedKeySync(t, syscall.SIGKILL, 8, 100*time.Millisecond)
}

// interruptedKeySync runs the sync with accounts matched by key while A
// takes writes, stops it rounds times with sig after a random moment,
// then runs --once, which must exit 0, and checks that B holds exactly
// A's accounts by key and A's contacts, and that neither server answered
// 5xx or logged an error.
func interruptedKeySync(t *testing.T, sig syscall.Signal, rounds int, pause time.Duration) {
	dir := t.TempDir()
	a, b, c := startAB(t, dir)
	cfg := filepath.Join(dir, "sync.yaml")
	if err := os.WriteFile(cfg, []byte("adopt: false\ntables:\n  - name: account\n    key: accountnumber_key\n  - name: contact\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	writeLoad(t, c, a.URL, 0, 150)
	args := []string{"sync", "--source", a.Root, "--target", b.Root, "--config", cfg, "--state", filepath.Join(dir, "sync.db"),
		"--batch", "5", "--interval", "20ms", "--lease", "200ms"}
	for round := range rounds {
		p := testproc.Spawn(t, binary, args...)
		time.Sleep(pause + time.Duration(rand.Int64N(int64(2*pause))))
		p.Signal(sig)
		if code := p.Wait(15 * time.Second); sig == syscall.SIGTERM && code != 0 {
			t.Fatalf("round %d: sync exited %d after SIGTERM:\n%s", round, code, p.Stderr.String())
		}
		writeLoad(t, c, a.URL, round+1, 20)
	}
	if code, _, stderr := runEventual(t, 60*time.Second, append(args, "--once")...); code != 0 {
		t.Fatalf("sync --once exited %d:\n%s", code, stderr)
	}
	byNumber := func(root string) map[string]map[string]any {
		out := map[string]map[string]any{}
		for _, r := range table(t, c, root, "accounts") {
			n, _ := r["accountnumber"].(string)
			if out[n] != nil {
				t.Errorf("%s: two accounts %q", root, n)
			}
			out[n] = r
		}
		return out
	}
	as, bs := byNumber(a.URL), byNumber(b.URL)
	for n, ar := range as {
		if br := bs[n]; br == nil || br["name"] != ar["name"] || br["telephone1"] != ar["telephone1"] {
			t.Errorf("account %q: A %v, B %v", n, ar, br)
		}
	}
	for n := range bs {
		if as[n] == nil {
			t.Errorf("account %q is on B, not on A", n)
		}
	}
	if na, nb := len(table(t, c, a.URL, "contacts")), len(table(t, c, b.URL, "contacts")); na != nb {
		t.Errorf("%d contacts on A, %d on B", na, nb)
	}
	for _, p := range []*proc{a, b} {
		if errs := serveErrors(p); len(errs) > 0 {
			t.Errorf("a server logged %d errors or 5xx, the first:\n%.2000s", len(errs), errs[0])
		}
	}
}
