// Package testoidc is a local OpenID Connect issuer for tests: discovery
// and its JWKS served on loopback, and access tokens it signs (or signs
// with another key, to be refused).
package testoidc
