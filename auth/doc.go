// Package auth authenticates the callers of the Web API: it turns a
// request's bearer token into an eventual.Caller, or answers 401 as
// Dataverse does (WWW-Authenticate: Bearer authorization_uri=…,
// resource_id=…, and an error body).
//
// Three modes (cmd/eventual's auth.mode):
//
//   - none: any token or none; every caller is the instance's built-in
//     user (no Authenticator is installed);
//   - tokens: static bearer tokens, each mapped to a user (Tokens);
//   - oidc: JWTs verified for issuer, audience, expiry and signature
//     against the issuer's JWKS, found by OpenID Connect discovery and
//     cached (github.com/coreos/go-oidc/v3), so that Entra ID access
//     tokens for a https://<org>.crm.dynamics.com audience work; the oid
//     claim names the user (OIDC).
//
// Tokens are never logged or kept: a failed authentication logs why, not
// what was presented.
package auth
