// Package client is the resilient HTTP transport of a Dataverse Web API
// client: one Client per Web API endpoint and identity, sending requests
// with auth (none, a static bearer token, OAuth2 client credentials),
// retries with exponential backoff and full jitter, Dataverse's service
// protection (a Retry-After pauses every request of the client; the
// concurrency starts from x-ms-dop-hint and adapts), and a circuit breaker.
//
// It owns the HTTP exchange and its failure modes: Client.Do, the Replay
// classification that decides what may be sent again, and *Error, which
// unwraps to an *eventual.Error of the kind a local instance would return.
// Records sends the record messages (Create, Retrieve, Update, Upsert,
// Delete, RetrieveMultiple, Count) over Do, in the root package's types,
// with the wire form of the codec package; FormatFilter, QueryOptions and
// AfterFilter build query options without pasting caller text.
//
// It must not know the instance, the stores or the webapi package: it
// talks to any Dataverse Web API endpoint, eventual's or Microsoft's,
// over HTTP only.
package client
