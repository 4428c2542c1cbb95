// Package webapi serves the Dataverse Web API (OData v4 JSON) over HTTP:
// routing of /api/data/v9.x/ URLs, request decoding, lookup binding
// (@odata.bind), response encoding with Dataverse's annotations, ETags and
// paging, $batch, change tracking, $metadata and the service document, and
// Dataverse's error bodies. It translates HTTP to calls on an
// instance.Instance.
//
// It knows nothing of storage or SQL: it imports no store, no
// internal/sqlstore or internal/sqlbuild and no database/sql, and sees
// records only through the instance and the root package's types.
package webapi
