package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/codec"
	"github.com/google/uuid"
)

// An Authenticator finds the caller of a request from its bearer token.
type Authenticator interface {
	// Authenticate returns the caller a bearer token (without "Bearer ")
	// stands for, or an error saying why it does not (ErrNoToken for
	// none).
	Authenticate(ctx context.Context, token string) (eventual.Caller, error)
}

// ErrNoToken is the error of a request without a bearer token.
var ErrNoToken = errors.New("auth: no bearer token")

// The 401 answer: Dataverse's AccessTokenExpired code and message, which
// it answers for a request whose token is missing, expired or not valid.
const (
	CodeNotAuthenticated    = "0x8005f101"
	MessageNotAuthenticated = "The requested resource requires authentication."
)

// Options tune the middleware.
type Options struct {
	// AuthorizationURI and ResourceID make the WWW-Authenticate challenge
	// (Dataverse: https://login.microsoftonline.com/<tenant>/oauth2/authorize
	// and the organization's URL), from which clients such as MSAL find
	// the authority. An empty ResourceID is the request's own root URL.
	AuthorizationURI, ResourceID string
	// Logger receives why an authentication failed (never the token).
	Logger *slog.Logger
}

// Middleware authenticates every request to next: the caller rides in the
// request's context (eventual.WithCaller); a request whose token is
// missing or refused gets 401. CORS preflights (OPTIONS) pass: browsers
// send them without credentials.
func Middleware(a Authenticator, o Options, next http.Handler) http.Handler {
	challenge := func(r *http.Request) string {
		res := o.ResourceID
		if res == "" {
			scheme := "http"
			if r.TLS != nil {
				scheme = "https"
			}
			res = scheme + "://" + r.Host + "/"
		}
		return "Bearer authorization_uri=" + o.AuthorizationURI + ", resource_id=" + res
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	body := codec.ErrorBody(CodeNotAuthenticated, MessageNotAuthenticated, http.StatusUnauthorized, false)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		token, ok := bearer(r.Header.Get("Authorization"))
		var c eventual.Caller
		err := ErrNoToken
		if ok {
			c, err = a.Authenticate(r.Context(), token)
		}
		if err != nil {
			log.Info("auth: request refused", "method", r.Method, "path", r.URL.EscapedPath(), "remote", r.RemoteAddr, "reason", err.Error())
			h := w.Header()
			h.Set("WWW-Authenticate", challenge(r))
			h.Set("Content-Type", "application/json; odata.metadata=minimal")
			h.Set(codec.HeaderODataVersion, "4.0")
			h.Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(http.StatusUnauthorized)
			w.Write(body)
			return
		}
		next.ServeHTTP(w, r.WithContext(eventual.WithCaller(r.Context(), c)))
	})
}

// bearer takes the token out of an Authorization header value.
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// A User is a caller a static token stands for.
type User struct {
	Token string
	eventual.Caller
}

// Tokens authenticates static bearer tokens (comparing in constant time).
type Tokens []User

// Authenticate finds the user whose token it is.
func (ts Tokens) Authenticate(_ context.Context, token string) (eventual.Caller, error) {
	var found *User
	for i := range ts {
		if subtle.ConstantTimeCompare([]byte(ts[i].Token), []byte(token)) == 1 && found == nil {
			found = &ts[i]
		}
	}
	if found == nil {
		return eventual.Caller{}, errors.New("auth: unknown token")
	}
	return found.Caller, nil
}

// OIDC verifies JWTs from one issuer for one audience.
type OIDC struct {
	verifier *oidc.IDTokenVerifier
	issuer   string
	authURL  string
}

// NewOIDC discovers the issuer's configuration and keys
// (<issuer>/.well-known/openid-configuration) and returns an
// Authenticator of the tokens it signs for audience. The keys are cached
// and fetched again when a token names a key the cache lacks.
func NewOIDC(ctx context.Context, issuer, audience string) (*OIDC, error) {
	p, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		return nil, fmt.Errorf("auth: OpenID Connect discovery of %s: %w", issuer, err)
	}
	// Access tokens, not ID tokens: the audience is the resource, and
	// Entra ID's v1 tokens carry no nonce or at_hash checks apply to.
	return &OIDC{verifier: p.Verifier(&oidc.Config{ClientID: audience}), issuer: issuer, authURL: p.Endpoint().AuthURL}, nil
}

// AuthorizationURI is the issuer's authorization endpoint, for the 401
// challenge.
func (o *OIDC) AuthorizationURI() string { return o.authURL }

// claims are the claims of an Entra ID access token eventual reads.
type claims struct {
	OID               string `json:"oid"`
	Name              string `json:"name"`
	PreferredUsername string `json:"preferred_username"`
	UPN               string `json:"upn"`
	AppID             string `json:"appid"`
	AZP               string `json:"azp"`
	IDType            string `json:"idtyp"`
}

// Authenticate verifies a JWT: its signature against the issuer's keys,
// its issuer, its audience and its expiry; the oid claim names the user
// (a GUID is the systemuser's id; any other value is mapped to a stable
// GUID).
func (o *OIDC) Authenticate(ctx context.Context, token string) (eventual.Caller, error) {
	t, err := o.verifier.Verify(ctx, token)
	if err != nil {
		return eventual.Caller{}, err
	}
	var cl claims
	if err := t.Claims(&cl); err != nil {
		return eventual.Caller{}, fmt.Errorf("auth: token claims: %w", err)
	}
	if cl.OID == "" {
		return eventual.Caller{}, errors.New("auth: the token has no oid claim")
	}
	id, err := uuid.Parse(cl.OID)
	if err != nil {
		id = uuid.NewSHA1(uuid.NameSpaceURL, []byte(o.issuer+"#"+cl.OID))
	}
	c := eventual.Caller{UserID: id, Name: cl.Name, Domain: cl.PreferredUsername, Application: cl.IDType == "app"}
	if c.Domain == "" {
		c.Domain = cl.UPN
	}
	if c.Name == "" {
		c.Name = c.Domain
	}
	if c.Application {
		app := cl.AZP // v2.0 tokens; v1.0 tokens name the app appid
		if app == "" {
			app = cl.AppID
		}
		c.ApplicationID, _ = uuid.Parse(app)
	}
	return c, nil
}
