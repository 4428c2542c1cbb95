package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/auth"
	"github.com/eventual-pp/eventual/internal/testoidc"
	"github.com/google/uuid"
)

const audience = "https://contoso.crm.dynamics.com"

// TestOIDC: a token of the issuer for the audience, unexpired and signed
// with its key, is the user its oid claim names; any other is refused.
func TestOIDC(t *testing.T) {
	is := testoidc.New(t)
	ctx := context.Background()
	a, err := auth.NewOIDC(ctx, is.URL, audience)
	if err != nil {
		t.Fatal(err)
	}
	oid := uuid.New()
	now := time.Now()
	good := map[string]any{"iss": is.URL, "aud": audience, "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "nbf": now.Unix(),
		"oid": oid.String(), "name": "Integration App", "idtyp": "app", "azp": "0c3b1a5e-7d2f-4e8a-9b6c-1d2e3f405162"}
	with := func(k string, v any) map[string]any {
		c := map[string]any{}
		for kk, vv := range good {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	c, err := a.Authenticate(ctx, is.Mint(t, good, nil))
	if err != nil || c.UserID != oid || c.Name != "Integration App" || !c.Application || c.ApplicationID.String() != "0c3b1a5e-7d2f-4e8a-9b6c-1d2e3f405162" {
		t.Fatalf("a good token: %+v, %v", c, err)
	}
	// A person: v2.0's preferred_username, or v1.0's upn, is the sign-in
	// name, and the name when the token has none.
	for _, claim := range []string{"preferred_username", "upn"} {
		person := with("idtyp", nil)
		delete(person, "name")
		delete(person, "azp")
		person[claim] = "alice@contoso.com"
		c, err := a.Authenticate(ctx, is.Mint(t, person, nil))
		if err != nil || c.Application || c.Domain != "alice@contoso.com" || c.Name != "alice@contoso.com" || c.ApplicationID != uuid.Nil {
			t.Errorf("a person's token with %s: %+v, %v", claim, c, err)
		}
	}
	// An oid that is no GUID maps to a stable one.
	c1, err1 := a.Authenticate(ctx, is.Mint(t, with("oid", "user-7"), nil))
	c2, err2 := a.Authenticate(ctx, is.Mint(t, with("oid", "user-7"), nil))
	if err1 != nil || err2 != nil || c1.UserID != c2.UserID || c1.UserID == uuid.Nil {
		t.Errorf("oid user-7: %v %v, %v %v", c1, err1, c2, err2)
	}
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	for name, tok := range map[string]string{
		"another audience": is.Mint(t, with("aud", "https://fabrikam.crm.dynamics.com"), nil),
		"expired":          is.Mint(t, with("exp", now.Add(-time.Minute).Unix()), nil),
		"another issuer":   is.Mint(t, with("iss", "https://login.example.com/"), nil),
		"another key":      is.Mint(t, good, otherKey),
		"no oid":           is.Mint(t, with("oid", nil), nil),
		"not a JWT":        "abc.def.ghi",
		"tampered":         is.Mint(t, good, nil)[:20] + "x" + is.Mint(t, good, nil)[21:],
	} {
		if c, err := a.Authenticate(ctx, tok); err == nil {
			t.Errorf("%s: accepted as %+v", name, c)
		}
	}
}

// TestMiddleware: a known token's caller rides in the context; a request
// without a token, with another scheme or an unknown token gets 401 with
// Dataverse's challenge and error body; a preflight passes.
func TestMiddleware(t *testing.T) {
	alice := eventual.Caller{UserID: uuid.New(), Name: "Alice"}
	var seen eventual.Caller
	h := auth.Middleware(auth.Tokens{{Token: "s3cret", Caller: alice}}, auth.Options{
		AuthorizationURI: "https://login.microsoftonline.com/tenant/oauth2/authorize", ResourceID: "https://contoso.crm.dynamics.com/"},
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen, _ = eventual.CallerFrom(r.Context()) }))
	for _, tc := range []struct {
		name, method, header string
		status               int
	}{
		{"the token", "GET", "Bearer s3cret", 200},
		{"case of the scheme", "GET", "bearer s3cret", 200},
		{"no token", "GET", "", 401},
		{"empty bearer", "GET", "Bearer ", 401},
		{"another scheme", "GET", "Basic czNjcmV0", 401},
		{"unknown token", "GET", "Bearer s3cre", 401},
		{"longer token", "GET", "Bearer s3cret2", 401},
		{"preflight", "OPTIONS", "", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen = eventual.Caller{}
			r := httptest.NewRequest(tc.method, "/api/data/v9.2/WhoAmI", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			if tc.status == 200 && tc.method == "GET" && seen != alice {
				t.Errorf("caller %+v, want %+v", seen, alice)
			}
			if tc.status == 401 {
				if got := w.Header().Get("WWW-Authenticate"); got != "Bearer authorization_uri=https://login.microsoftonline.com/tenant/oauth2/authorize, resource_id=https://contoso.crm.dynamics.com/" {
					t.Errorf("WWW-Authenticate %q", got)
				}
				if !strings.Contains(w.Body.String(), `"code":"0x8005f101"`) || strings.Contains(w.Body.String(), "s3cre") {
					t.Errorf("body %s", w.Body)
				}
			}
		})
	}
}
