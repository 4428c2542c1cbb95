package client

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// tokens caches the bearer token of a client. A static token is never
// refreshed; a token from client credentials or a TokenSource is replaced
// TokenRefreshMargin before its expiry, or after the server answered 401.
type tokens struct {
	static string
	fetch  func(ctx context.Context) (*oauth2.Token, error) // nil: static or none
	margin time.Duration

	mu  sync.Mutex // held across a fetch, so concurrent callers fetch once
	tok *oauth2.Token

	log *slog.Logger // token fetches and expiries (never the token)
}

// newTokens makes the token cache the options ask for; token requests go
// through hc.
func newTokens(o Options, hc *http.Client) *tokens {
	t := &tokens{static: o.Token, margin: o.TokenRefreshMargin, log: o.Logger}
	switch {
	case o.ClientCredentials != nil:
		cfg := o.ClientCredentials
		t.fetch = func(ctx context.Context) (*oauth2.Token, error) {
			return cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, hc))
		}
	case o.TokenSource != nil:
		src := o.TokenSource
		t.fetch = func(context.Context) (*oauth2.Token, error) { return src.Token() }
	}
	return t
}

// refreshable reports whether a 401 is worth a new token.
func (t *tokens) refreshable() bool { return t.fetch != nil }

// token returns the Authorization header value, "" for none.
func (t *tokens) token(ctx context.Context) (string, error) {
	if t.fetch == nil {
		if t.static == "" {
			return "", nil
		}
		return "Bearer " + t.static, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok == nil || !t.fresh(t.tok) {
		if t.tok != nil && t.log != nil {
			t.log.Info("client: token expiring, getting a new one", "expiry", t.tok.Expiry)
		}
		tok, err := t.fetch(ctx)
		if err != nil {
			if t.log != nil {
				t.log.Warn("client: getting a token failed", "err", err)
			}
			return "", err
		}
		t.tok = tok
		if t.log != nil {
			t.log.Debug("client: got a token", "expiry", tok.Expiry)
		}
	}
	return t.tok.Type() + " " + t.tok.AccessToken, nil
}

// fresh reports whether tok is not within the margin of its expiry.
func (t *tokens) fresh(tok *oauth2.Token) bool {
	if tok.AccessToken == "" {
		return false
	}
	return tok.Expiry.IsZero() || time.Now().Add(t.margin).Before(tok.Expiry)
}

// invalidate drops the cached token if it is still the one a 401 answered
// (header), so concurrent 401s cause one refresh.
func (t *tokens) invalidate(header string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != nil && t.tok.Type()+" "+t.tok.AccessToken == header {
		if t.log != nil {
			t.log.Warn("client: the server refused the token (401); getting a new one", "expiry", t.tok.Expiry)
		}
		t.tok = nil
	}
}
