package main_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventual-pp/eventual/internal/testoidc"
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
    - {token: "${ALICE_TOKEN}", name: Alice, userId: 5b0ab1c3-0000-4000-8000-00000000a11c}
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
	if r, body := get(p.URL+"systemusers(5b0ab1c3-0000-4000-8000-00000000a11c)?$select=fullname,accessmode", "alices-secret-token"); r.StatusCode != 200 || !strings.Contains(body, `"fullname":"Alice"`) {
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
		return map[string]any{"iss": is.URL, "aud": aud, "exp": exp.Unix(), "iat": now.Unix(), "oid": oid, "name": "Dana Integration"}
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
	if code, body, _ := call("systemusers("+oid+")?$select=fullname", good); code != 200 || !strings.Contains(body, "Dana Integration") {
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
