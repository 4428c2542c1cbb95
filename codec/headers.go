package codec

// Header names, in Go's canonical form (textproto.CanonicalMIMEHeaderKey):
// http.Header's Get, Set and Del rewrite any other spelling on every call,
// which costs an allocation per header per request on the hot path. HTTP
// header names are case-insensitive (RFC 9110, 5.1), and the wire carried
// this form before too, since Set canonicalizes; a $batch part's headers are
// written in Dataverse's spelling (webapi/batch.go).
const (
	// HeaderODataVersion is OData-Version.
	HeaderODataVersion = "Odata-Version"
	// HeaderEntityID is OData-EntityId, the URL of a created or upserted
	// record.
	HeaderEntityID = "Odata-Entityid"
	// HeaderETag is ETag.
	HeaderETag = "Etag"
	// HeaderCorrelationID is x-ms-correlation-request-id, a client's id
	// for the operations of a request.
	HeaderCorrelationID = "X-Ms-Correlation-Request-Id"
	// HeaderServiceRequestID is x-ms-service-request-id, the id a
	// response carries.
	HeaderServiceRequestID = "X-Ms-Service-Request-Id"
	// HeaderBurstRemaining is x-ms-ratelimit-burst-remaining-xrm-requests.
	HeaderBurstRemaining = "X-Ms-Ratelimit-Burst-Remaining-Xrm-Requests"
	// HeaderTimeRemaining is x-ms-ratelimit-time-remaining-xrm-requests.
	HeaderTimeRemaining = "X-Ms-Ratelimit-Time-Remaining-Xrm-Requests"
)

// HeaderAdoptPlaceholders is eventual's request header that lets the
// upserts of a request adopt placeholders (eventual.WithAdoptPlaceholders):
// with the value "true", an upsert by primary key whose alternate-key
// values match a placeholder turns the placeholder into the record with
// that key, instead of failing with the duplicate-key error. Dataverse has
// no such header and ignores it; the sync sends it, and eventual's server
// reads it. It is x-eventual-adopt-placeholders, in canonical form.
const HeaderAdoptPlaceholders = "X-Eventual-Adopt-Placeholders"
