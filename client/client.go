package client

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// webAPIPath is the Web API root below an instance's base URL.
const webAPIPath = "/api/data/v9.2"

// Options configure a Client. The zero value is usable: no auth, the
// defaults below.
type Options struct {
	// HTTPClient sends the requests, token requests included; nil means a
	// client of its own over http.DefaultTransport. Its Timeout should be
	// zero: Timeout below bounds each attempt.
	HTTPClient *http.Client
	// RootCAs, when set and HTTPClient is nil, are the certificate
	// authorities the client trusts for HTTPS instead of the system's
	// (an eventual serve with a test certificate: see LoadCAs).
	RootCAs *x509.CertPool

	// Token is a static bearer token. At most one of Token,
	// ClientCredentials and TokenSource is set.
	Token string
	// ClientCredentials gets tokens by the OAuth2 client-credentials grant
	// (Entra ID: TokenURL https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token,
	// Scopes ["https://<org>.crm.dynamics.com/.default"]).
	ClientCredentials *clientcredentials.Config
	// TokenSource is any other source of tokens. It is asked for a token
	// whenever the cached one is within TokenRefreshMargin of its expiry or
	// the server answered 401, so it should not cache tokens itself.
	TokenSource oauth2.TokenSource
	// TokenRefreshMargin is how long before its expiry a token is replaced;
	// default 1 minute.
	TokenRefreshMargin time.Duration

	// Timeout bounds each attempt, from sending to the end of the response
	// body; default 2 minutes. The call's context bounds the whole call,
	// waits and retries included.
	Timeout time.Duration

	// MaxAttempts is the most times one call is sent; default 5, and 1
	// turns retries off.
	MaxAttempts int
	// RetryBase and RetryMax shape the backoff between attempts: the n-th
	// wait is uniform in [0, min(RetryMax, RetryBase·2ⁿ)] (full jitter).
	// Defaults 500ms and 30s. A server's Retry-After replaces the wait.
	RetryBase, RetryMax time.Duration
	// TransientCodes are Dataverse error codes worth retrying whatever the
	// status (the service-protection codes always are).
	TransientCodes []string

	// Concurrency is how many requests the client has in flight before a
	// response names x-ms-dop-hint; default 4. MaxConcurrency caps the
	// limit whatever the hint; default 52, Dataverse's concurrency limit.
	Concurrency, MaxConcurrency int

	// Breaker configures the endpoint's circuit breaker.
	Breaker BreakerOptions
	// OnStateChange, when set, is called after each change of the
	// breaker's state, outside the client's locks.
	OnStateChange func(from, to State)
	// OnRetry, when set, is called before each retry with the failed
	// attempt's HTTP status (0 when no response came: a transport error
	// or a timeout) and Dataverse error code ("" when none), for
	// metrics (429s by service-protection code). It must return quickly.
	OnRetry func(status int, code string)

	// Logger receives the breaker's state changes and retries; nil means
	// slog.Default().
	Logger *slog.Logger
}

// BreakerOptions configure the circuit breaker of a Client.
type BreakerOptions struct {
	// Failures is the run of consecutive failed attempts (transport
	// errors, timeouts, 5xx, 429) that opens the breaker; default 5.
	Failures uint32
	// OpenFor is how long the breaker stays open after its first trip;
	// default 5s. Each trip after a failed probe doubles it, up to
	// MaxOpenFor (default 5 minutes); closing resets it. The breaker never
	// half-opens before a Retry-After the server named.
	OpenFor, MaxOpenFor time.Duration
}

// Client is one Dataverse Web API endpoint, seen by one identity. It sends
// requests with auth, retries, service-protection pacing and a circuit
// breaker; make one per endpoint and identity and share it, since the
// pacing and the breaker are per Client. It is safe for concurrent use.
type Client struct {
	root    *url.URL
	hc      *http.Client
	auth    *tokens
	opts    Options
	log     *slog.Logger
	gov     *governor
	breaker *breaker

	// noDeleteMultiple holds the entity sets for which the endpoint
	// answered that DeleteMultiple is not available (real Dataverse, for
	// standard tables), so later deletes go straight to a $batch.
	noDeleteMultiple sync.Map
}

// New returns a client for the Web API at baseURL: an instance's base URL
// (http://127.0.0.1:8765, https://org.crm.dynamics.com) or its Web API root
// (…/api/data/v9.2).
func New(baseURL string, opts Options) (*Client, error) {
	root, err := webAPIRoot(baseURL)
	if err != nil {
		return nil, err
	}
	n := 0
	for _, set := range []bool{opts.Token != "", opts.ClientCredentials != nil, opts.TokenSource != nil} {
		if set {
			n++
		}
	}
	if n > 1 {
		return nil, errors.New("client: set at most one of Options.Token, ClientCredentials and TokenSource")
	}
	opts = withDefaults(opts)
	c := &Client{root: root, hc: opts.HTTPClient, opts: opts, log: opts.Logger}
	c.auth = newTokens(opts, c.hc)
	c.gov = newGovernor(opts.Concurrency, opts.MaxConcurrency)
	c.breaker = newBreaker(root.Host, opts.Breaker, c.log, opts.OnStateChange)
	return c, nil
}

// withDefaults fills in the zero fields of opts.
func withDefaults(o Options) Options {
	if o.HTTPClient == nil && o.RootCAs != nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: o.RootCAs, MinVersion: tls.VersionTLS12}
		o.HTTPClient = &http.Client{Transport: tr}
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	o.TokenRefreshMargin = cmp.Or(o.TokenRefreshMargin, time.Minute)
	o.Timeout = cmp.Or(o.Timeout, 2*time.Minute)
	o.MaxAttempts = max(cmp.Or(o.MaxAttempts, 5), 1)
	o.RetryBase = cmp.Or(o.RetryBase, 500*time.Millisecond)
	o.RetryMax = cmp.Or(o.RetryMax, 30*time.Second)
	o.MaxConcurrency = max(cmp.Or(o.MaxConcurrency, 52), 1)
	o.Concurrency = min(max(cmp.Or(o.Concurrency, 4), 1), o.MaxConcurrency)
	o.Breaker.Failures = cmp.Or(o.Breaker.Failures, 5)
	o.Breaker.OpenFor = cmp.Or(o.Breaker.OpenFor, 5*time.Second)
	o.Breaker.MaxOpenFor = max(cmp.Or(o.Breaker.MaxOpenFor, 5*time.Minute), o.Breaker.OpenFor)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// webAPIRoot normalises a base URL to the Web API root.
func webAPIRoot(base string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(base))
	if err != nil {
		return nil, fmt.Errorf("client: base URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q: want http(s)://host[/api/data/v9.2]", base)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client: base URL %q has a query or fragment", base)
	}
	p := strings.TrimRight(u.Path, "/")
	if !strings.HasSuffix(p, webAPIPath) {
		p += webAPIPath
	}
	u.Path, u.RawPath = p, ""
	return u, nil
}

// Root returns the Web API root the client sends to, such as
// http://127.0.0.1:8765/api/data/v9.2.
func (c *Client) Root() string { return c.root.String() }

// resolve makes the absolute URL of a request path: relative to the Web API
// root ("accounts(…)?$select=name", "$batch"), or an absolute URL on the
// same host (an @odata.nextLink or @odata.deltaLink).
func (c *Client) resolve(path string) (string, error) {
	if lower := strings.ToLower(path); strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://") {
		u, err := url.Parse(path)
		if err != nil {
			return "", fmt.Errorf("client: request URL: %w", err)
		}
		if !sameOrigin(u, c.root) {
			return "", fmt.Errorf("client: request URL %q is not on %s", path, c.root.Host)
		}
		return u.String(), nil
	}
	return c.root.String() + "/" + strings.TrimLeft(path, "/"), nil
}

// State returns the state of the endpoint's circuit breaker.
func (c *Client) State() State { return c.breaker.state() }

// Concurrency returns how many requests the client lets be in flight now.
func (c *Client) Concurrency() int { return c.gov.currentLimit() }

// PausedUntil returns the end of the service-protection pause the last
// Retry-After set; before now, no pause is on.
func (c *Client) PausedUntil() time.Time { return c.gov.pausedUntilTime() }

// sameOrigin reports whether two absolute URLs share scheme, host and
// port: host names compare without regard to case (a server may write its
// own name in another case than the base URL), and a missing port is the
// scheme's default.
func sameOrigin(a, b *url.URL) bool {
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		if strings.EqualFold(u.Scheme, "https") {
			return "443"
		}
		return "80"
	}
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

// LoadCAs reads PEM certificates (a test CA, a private CA) into a pool
// for Options.RootCAs.
func LoadCAs(paths ...string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	for _, p := range paths {
		pem, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("client: CA file: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client: CA file %s holds no PEM certificate", p)
		}
	}
	return pool, nil
}
