// Package client is a Dataverse Web API client for Go, for eventual's
// server and for real Dataverse (https://<org>.crm.dynamics.com).
//
// A Client is one Web API endpoint and identity. Client.Do sends a request
// with auth (none, a static bearer token, OAuth2 client credentials),
// retries with exponential backoff and full jitter, Dataverse's service
// protection (a Retry-After pauses every request of the client; the
// concurrency starts from x-ms-dop-hint and adapts), and a circuit
// breaker. Replay classifies what may be sent again after an attempt that
// may have been applied; *Error carries the status, Dataverse's code and
// message and whether a retry may help, and unwraps to an *eventual.Error
// of the kind a local instance would return (IsNotFound,
// IsPreconditionFailed, IsThrottled, IsBreakerOpen).
//
// Records implements eventual.RecordService over a Client: create,
// retrieve, update, upsert and delete by GUID or alternate key (composite
// too) with If-Match/If-None-Match, deep insert and $expand, queries
// (FormatFilter and QueryOptions render the query IR, every literal
// escaped by the codec), paging iterators (Pages, All), the bulk messages
// (with DeleteMultiple falling back to a $batch of DELETEs where the
// server does not offer it) and change tracking (Changes, Track for an
// iterator over delta links, CountChanges). Batch sends $batch requests
// with change sets and Content-ID references (ContentRef). WhoAmI, Keys
// and TableDefinition read the endpoint's identity and metadata, and
// DiscoverSchema builds an eventual.Schema from it.
//
// It must not know the instance, the stores or the webapi package: it
// talks to any Dataverse Web API endpoint, eventual's or Microsoft's,
// over HTTP only.
package client
