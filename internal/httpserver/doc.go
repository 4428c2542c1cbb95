// Package httpserver is the process's HTTP server: it listens, holds the
// http.Server settings (timeouts, the request-head limit, the error log),
// routes, and shuts down gracefully.
//
// Its routes are exact paths, each with an optional method: the readiness
// probe GET /healthz, and whatever a program adds with Handle (/metrics, a
// status page). Every other request goes to one handler, the API (in
// eventual, the Dataverse Web API), so that the API's own error body
// answers unknown and unclean paths. Nothing is redirected: net/http's
// ServeMux cleans paths by redirecting, and clients repeat a POST, PATCH
// or DELETE at a URL they never asked for.
//
// It knows nothing of the Web API, the instance or storage: it imports no
// webapi, no instance and no store, and takes the API as an http.Handler.
package httpserver
