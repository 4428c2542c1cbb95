package webapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/rs/cors"
)

// CORS lets single-page apps on other origins call the Web API, as
// Dataverse does for SPAs that sign in with MSAL.js
// (oauth-cross-origin-resource-sharing-connect-single-page-application.md:
// "The server-side part has been done for you"). The docs name no header
// lists, so these follow what Dataverse clients send and read.

// CORSMaxAge is how long browsers may cache a preflight answer, in seconds.
const CORSMaxAge = 3600

// corsMethods are the methods the Web API serves.
var corsMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete}

// corsExposedHeaders are the response headers a script may read beyond
// the CORS-safelisted ones: the created record's URL, concurrency,
// preferences applied, the OData version, throttling and request ids.
var corsExposedHeaders = []string{
	"OData-EntityId", "OData-Version", "ETag", "Preference-Applied", "Location", "Retry-After",
	"x-ms-service-request-id", "x-ms-ratelimit-burst-remaining-xrm-requests",
	"x-ms-ratelimit-time-remaining-xrm-requests", "x-ms-dop-hint", "REQ_ID",
}

// CheckCORSOrigin checks an allowed-origin setting: "*" for any origin, or
// scheme://host[:port] as browsers send it in Origin (no path, no trailing
// slash), where the host may hold one "*" ("https://*.example.com").
func CheckCORSOrigin(origin string) error {
	if origin == "*" {
		return nil
	}
	bad := func(why string) error {
		return fmt.Errorf("CORS origin %q %s; write scheme://host[:port], for example https://app.example.com, or * for any origin", origin, why)
	}
	if strings.Count(origin, "*") > 1 {
		return bad("has more than one *")
	}
	u, err := url.Parse(strings.Replace(origin, "*", "wildcard", 1))
	switch {
	case err != nil:
		return bad("is not a URL")
	case u.Scheme == "" || u.Host == "" || u.Opaque != "":
		return bad("has no scheme or host")
	case u.User != nil || u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.HasSuffix(origin, "#"):
		return bad("has more than scheme, host and port")
	}
	return nil
}

// withCORS wraps the handler for the allowed origins. A preflight from an
// allowed origin, for a method the Web API serves, is answered 204 with
// Access-Control-Allow-Origin, -Methods, -Headers (the headers asked for:
// Authorization, OData-Version, Prefer, If-Match, MSCRM.* and the rest)
// and -Max-Age. Other requests from an allowed origin carry
// Access-Control-Allow-Origin and Access-Control-Expose-Headers, errors
// too, so that the app can read Dataverse's error body. Requests from
// other origins get no CORS headers, and an OPTIONS that is not an
// allowed preflight is answered as without CORS: a 405 (or 404) with
// Dataverse's body.
func withCORS(origins []string, next http.Handler) http.Handler {
	c := cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: corsMethods,
		// "*" echoes Access-Control-Request-Headers: Dataverse clients
		// send headers no fixed list keeps up with (MSCRM.*, CallerObjectId,
		// x-ms-*, Consistency, ...). There are no cookies to protect:
		// credentials are bearer tokens, and AllowCredentials stays off.
		AllowedHeaders:     []string{"*"},
		ExposedHeaders:     corsExposedHeaders,
		MaxAge:             CORSMaxAge,
		OptionsPassthrough: true,
	})
	return c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" &&
			w.Header().Get("Access-Control-Allow-Origin") != "" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	}))
}
