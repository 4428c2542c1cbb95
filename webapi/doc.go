// Package webapi serves the Dataverse Web API (OData v4 JSON) over HTTP:
// routing of /api/data/v9.x/ URLs, request decoding, lookup binding
// (@odata.bind), response encoding with Dataverse's annotations, ETags and
// paging, $batch, change tracking, $metadata and the service document,
// FetchXML (fetch.go, through package fetchxml), $apply and FetchXML
// aggregates (aggregate.go, for an eventual.Aggregator), many-to-many
// navigation (manytomany.go), and Dataverse's error bodies. It translates HTTP to calls on an
// eventual.RecordService: in eventual serve an instance.Instance, but any
// implementation will do (a gateway could serve a client of another
// instance). $batch change sets need an eventual.AtomicService.
//
// It knows nothing of storage or SQL: it imports no store, no
// internal/sqlstore or internal/sqlbuild and no database/sql, and sees
// records only through the record service and the root package's types.
package webapi
