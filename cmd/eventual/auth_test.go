package main_test

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventual-pp/eventual/internal/testoidc"
	"github.com/eventual-pp/eventual/internal/testpg"
)

// TestServeAuthTokens: with auth mode tokens, a request without a token
// or with an unknown one gets 401 with Dataverse's challenge; a known
// token is its user, whom WhoAmI names; /healthz and /metrics need none;
// the token never reaches the logs.
func TestServeAuthTokens(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "eventual.yaml")
	if err := os.WriteFile(cfg, []byte(`auth:
  mode: tokens
  tokens:
    - {token: "${ALICE_TOKEN}", name: Alice, userId: 5b0ab1c3-0000-4000-8000-00000000a11c, domainName: alice@contoso.com}
    - {token: "bobs-token", name: Bob, application: true}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ALICE_TOKEN", "alices-secret-token")
	p := startServe(t, "--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "b.db"), "--config", cfg)
	c := newClient(t, requestTimeout)
	get := func(path, token string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		r, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := r.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return r, b.String()
	}
	for _, token := range []string{"", "wrong"} {
		r, body := get(p.URL+"accounts", token)
		if r.StatusCode != 401 || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer authorization_uri=") ||
			!strings.Contains(r.Header.Get("WWW-Authenticate"), "resource_id="+p.Root) || !strings.Contains(body, `"code":"0x8005f101"`) {
			t.Errorf("token %q: %d %q %s", token, r.StatusCode, r.Header.Get("WWW-Authenticate"), body)
		}
	}
	if r, body := get(p.URL+"WhoAmI", "alices-secret-token"); r.StatusCode != 200 || !strings.Contains(body, `"UserId":"5b0ab1c3-0000-4000-8000-00000000a11c"`) {
		t.Errorf("WhoAmI as Alice: %d %s", r.StatusCode, body)
	}
	if r, body := get(p.URL+"WhoAmI", "bobs-token"); r.StatusCode != 200 || strings.Contains(body, "5b0ab1c3") {
		t.Errorf("WhoAmI as Bob: %d %s", r.StatusCode, body)
	}
	// WhoAmI's user is a systemuser record, as clients read it next.
	if r, body := get(p.URL+"systemusers(5b0ab1c3-0000-4000-8000-00000000a11c)?$select=fullname,accessmode,domainname", "alices-secret-token"); r.StatusCode != 200 || !strings.Contains(body, `"fullname":"Alice"`) || !strings.Contains(body, `"domainname":"alice@contoso.com"`) {
		t.Errorf("Alice's systemuser: %d %s", r.StatusCode, body)
	}
	if r, body := get(p.URL+"systemusers?$filter=fullname%20eq%20'Bob'&$select=accessmode", "bobs-token"); r.StatusCode != 200 || !strings.Contains(body, `"accessmode":4`) {
		t.Errorf("Bob, an application user: %d %s", r.StatusCode, body)
	}
	for _, path := range []string{"healthz", "metrics"} {
		if r, _ := get(p.Root+path, ""); r.StatusCode != 200 {
			t.Errorf("/%s without a token: %d", path, r.StatusCode)
		}
	}
	if r, _ := get(p.Root+"status", ""); r.StatusCode != 401 {
		t.Errorf("/status without a token: %d, want 401 (it shows records)", r.StatusCode)
	}
	if r, _ := get(p.Root+"status/data.json", "bobs-token"); r.StatusCode != 200 {
		t.Errorf("/status/data.json with a token: %d", r.StatusCode)
	}
	p.Stop()
	if strings.Contains(p.Stderr.String(), "alices-secret-token") || strings.Contains(p.Stdout.String(), "alices-secret-token") {
		t.Errorf("a token reached the logs:\n%s", p.Stderr.String())
	}
	code, out, _ := runEventual(t, requestTimeout, "config", "check", "--config", cfg)
	if code != 0 || strings.Contains(out, "alices-secret-token") || strings.Contains(out, "bobs-token") {
		t.Errorf("config check: exit %d, shows a token:\n%s", code, out)
	}
}

// TestWhoAmIIsARecord: without authentication WhoAmI names the instance's
// own user, SYSTEM, whose systemuser record can be read as clients do
// next.
func TestWhoAmIIsARecord(t *testing.T) {
	p := startServe(t, "--listen", "127.0.0.1:0", "--db", filepath.Join(t.TempDir(), "b.db"))
	c := newClient(t, requestTimeout)
	w := object(t, must(t, c, 200, "GET", p.URL+"WhoAmI", nil))
	u := object(t, must(t, c, 200, "GET", p.URL+"systemusers("+w["UserId"].(string)+")?$select=fullname", nil))
	if u["fullname"] != "SYSTEM" {
		t.Errorf("WhoAmI's user: %v", u)
	}
}

// TestServeAuthOIDC: with auth mode oidc the server discovers a local
// issuer at start; a token it signed for the audience is its oid's user
// (WhoAmI, and a systemuser record with the token's name); a token for
// another audience or an expired one gets 401, whose challenge names the
// issuer's authorization endpoint.
func TestServeAuthOIDC(t *testing.T) {
	is := testoidc.New(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "eventual.yaml")
	const aud = "https://contoso.crm.dynamics.com"
	if err := os.WriteFile(cfg, []byte("auth: {mode: oidc, issuer: \""+is.URL+"\", audience: \""+aud+"\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, "--listen", "127.0.0.1:0", "--db", filepath.Join(dir, "b.db"), "--config", cfg)
	c := newClient(t, requestTimeout)
	oid := "9f1c2f3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"
	now := time.Now()
	claims := func(aud string, exp time.Time) map[string]any {
		return map[string]any{"iss": is.URL, "aud": aud, "exp": exp.Unix(), "iat": now.Unix(), "oid": oid, "name": "Dana Integration", "preferred_username": "dana@contoso.com"}
	}
	call := func(path, token string) (int, string, http.Header) {
		t.Helper()
		req, _ := http.NewRequest("GET", p.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		r, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, string(b), r.Header
	}
	good := is.Mint(t, claims(aud, now.Add(time.Hour)), nil)
	if code, body, _ := call("WhoAmI", good); code != 200 || !strings.Contains(body, `"UserId":"`+oid+`"`) {
		t.Errorf("WhoAmI with a good token: %d %s", code, body)
	}
	if code, body, _ := call("systemusers("+oid+")?$select=fullname,domainname", good); code != 200 || !strings.Contains(body, `"fullname":"Dana Integration"`) || !strings.Contains(body, `"domainname":"dana@contoso.com"`) {
		t.Errorf("the caller's systemuser: %d %s", code, body)
	}
	for name, tok := range map[string]string{
		"another audience": is.Mint(t, claims("https://fabrikam.crm.dynamics.com", now.Add(time.Hour)), nil),
		"expired":          is.Mint(t, claims(aud, now.Add(-time.Minute)), nil),
	} {
		code, _, h := call("WhoAmI", tok)
		if code != 401 || h.Get("WWW-Authenticate") != "Bearer authorization_uri="+is.URL+"/oauth2/authorize, resource_id="+aud {
			t.Errorf("%s: %d %q", name, code, h.Get("WWW-Authenticate"))
		}
	}
}

// TestUserStamps: createdby, modifiedby and ownerid are set from the
// caller the token names, and read, filtered and expanded like other
// lookups; ownerid can be assigned with ownerid@odata.bind but not
// removed, and createdby cannot be written.
func TestUserStamps(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { userStamps(t, filepath.Join(t.TempDir(), "b.db")) })
	t.Run("postgres", func(t *testing.T) {
		if testpg.DSN() == "" {
			t.Skipf("PostgreSQL process tests are off: set %s", testpg.EnvDSN)
		}
		userStamps(t, testpg.Schema(t, "stamps"))
	})
}

func userStamps(t *testing.T, db string) {
	const alice, bob = "5b0ab1c3-0000-4000-8000-00000000a11c", "5b0ab1c3-0000-4000-8000-000000000b0b"
	dir := t.TempDir()
	cfg := filepath.Join(dir, "eventual.yaml")
	if err := os.WriteFile(cfg, []byte(`auth:
  mode: tokens
  tokens:
    - {token: alice-token, name: Alice, userId: `+alice+`}
    - {token: bob-token, name: Bob, userId: `+bob+`}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, "--listen", "127.0.0.1:0", "--db", db, "--config", cfg)
	c := newClient(t, requestTimeout)
	as := func(token string, status int, method, path string, body any) *response {
		t.Helper()
		r, err := sendH(c, method, p.URL+path, body, "Authorization", "Bearer "+token, "Prefer", `odata.include-annotations="*"`)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != status {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, r.Status, status, r.Body)
		}
		return r
	}
	as("alice-token", 204, "PATCH", "accounts(accountnumber='U-1')", map[string]any{"name": "Stamped",
		"createdby@odata.bind": "/systemusers(" + bob + ")"}) // not valid for create: ignored
	as("bob-token", 204, "PATCH", "accounts(accountnumber='U-1')", map[string]any{"telephone1": "555"})
	acc := object(t, as("alice-token", 200, "GET", "accounts(accountnumber='U-1')?$select=_createdby_value,_modifiedby_value,_ownerid_value", nil))
	if acc["_createdby_value"] != alice || acc["_modifiedby_value"] != bob || acc["_ownerid_value"] != alice {
		t.Errorf("after Alice created and Bob modified: %v", acc)
	}
	if acc["_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] != "systemuser" || acc["_createdby_value@OData.Community.Display.V1.FormattedValue"] != "Alice" {
		t.Errorf("lookup annotations: %v", acc)
	}
	filter := func(f string) int {
		t.Helper()
		return len(object(t, as("bob-token", 200, "GET", "accounts?$select=name&$filter="+url.QueryEscape(f), nil))["value"].([]any))
	}
	if n := filter("_createdby_value eq " + alice); n != 1 {
		t.Errorf("accounts Alice created: %d, want 1", n)
	}
	if n := filter("_ownerid_value eq " + bob); n != 0 {
		t.Errorf("accounts Bob owns: %d, want 0", n)
	}
	if n := filter("modifiedby/fullname eq 'Bob'"); n != 1 {
		t.Errorf("accounts modified by Bob, through the navigation: %d, want 1", n)
	}
	x := object(t, as("bob-token", 200, "GET", "accounts(accountnumber='U-1')?$select=name&$expand=createdby($select=fullname),ownerid($select=fullname)", nil))
	if cb, _ := x["createdby"].(map[string]any); cb == nil || cb["fullname"] != "Alice" {
		t.Errorf("$expand=createdby: %v", x)
	}
	// Assigning: Bob takes ownership; the owner cannot be removed.
	as("bob-token", 204, "PATCH", "accounts(accountnumber='U-1')", map[string]any{"ownerid@odata.bind": "/systemusers(" + bob + ")"})
	if n := filter("_ownerid_value eq " + bob); n != 1 {
		t.Errorf("accounts Bob owns after the assignment: %d, want 1", n)
	}
	if r, err := sendH(c, "PATCH", p.URL+"accounts(accountnumber='U-1')", map[string]any{"ownerid@odata.bind": "/systemusers(5b0ab1c3-0000-4000-8000-0000000dead0)"},
		"Authorization", "Bearer bob-token"); err != nil || r.Status != 404 || !strings.Contains(string(r.Body), "Does Not Exist") {
		t.Errorf("assigning a user that does not exist (no placeholder for users): %v %v", r, err)
	}
	id := object(t, as("bob-token", 200, "GET", "accounts(accountnumber='U-1')?$select=accountid", nil))["accountid"].(string)
	as("bob-token", 400, "DELETE", "accounts("+id+")/ownerid/$ref", nil)
	as("bob-token", 400, "PATCH", "accounts("+id+")", map[string]any{"ownerid@odata.bind": nil})
	if n := filter("_ownerid_value eq " + bob); n != 1 {
		t.Errorf("after refused removals Bob still owns it: %d, want 1", n)
	}
	// The metadata describes them as Dataverse does.
	for col, typ := range map[string]string{"ownerid": "Owner", "createdby": "Lookup"} {
		a := object(t, as("alice-token", 200, "GET", "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='"+col+"')", nil))
		if a["AttributeType"] != typ || a["IsValidForUpdate"] != (col == "ownerid") {
			t.Errorf("%s's metadata: %v", col, a)
		}
	}
	// Users are disabled, not deleted: records keep their stamps.
	as("alice-token", 405, "DELETE", "systemusers("+bob+")", nil)
	// A user's records, from the user's side.
	u := object(t, as("alice-token", 200, "GET", "systemusers("+alice+")?$select=fullname&$expand=lk_accountbase_createdby($select=name)", nil))
	if list, _ := u["lk_accountbase_createdby"].([]any); len(list) != 1 {
		t.Errorf("Alice's created accounts: %v", u)
	}
}
