// Package eventual holds the domain of eventual: the schema of a
// Dataverse-compatible instance (tables, columns, alternate keys,
// relationships), records and their values, queries, the record-service
// contract (RecordService, AtomicService: the Dataverse messages, which the
// instance implements and the Web API serves), the storage contract
// (Store, ReadTx, Tx) that every database adapter implements, the
// vocabulary of the event pipeline (stages, modes, steps, the execution
// context and the Service that steps call), the text and case-folding rules
// every store applies, and the application error type.
//
// The package imports only the standard library and github.com/google/uuid:
// it knows nothing of HTTP, SQL or any database. Implementations live in
// subpackages named for what they own:
//
//   - odata: OData v4 URL and $filter syntax (no semantics).
//   - codec: the Web API's wire form (JSON values and records, URL
//     literals, ETags, error bodies), for the server and a client alike.
//   - metadata: the built-in schema and schema configuration.
//   - instance: Dataverse message semantics (create, update, upsert, ...)
//     on top of a Store, the pipeline's stages and the async job queue.
//   - pipeline: the registry of steps.
//   - placeholder: the placeholder upsert step.
//   - webhook: the webhook step (RemoteExecutionContext payload).
//   - steps: the built-in configurable steps (require, setvalue).
//   - sqlite: the embedded Store.
//   - postgres: the Store on PostgreSQL.
//   - internal/sqlbuild: SQL rendering of queries and keyset paging,
//     behind a dialect seam.
//   - internal/sqlstore: the transaction both SQL stores share.
//   - internal/httpserver: the process's HTTP server around the Web API.
//   - webapi: the Dataverse Web API over HTTP.
//   - storetest: the contract suite every Store passes.
//   - internal/testpg, internal/teststore, internal/testproc,
//     internal/testhttp, internal/testrun: test helpers (a PostgreSQL
//     schema per test, the stores tests run against, running "eventual
//     serve" processes, Web API requests, background load loops).
//   - internal/layering: the test that keeps these packages in their layers.
//   - tests/clients: real Dataverse client libraries run against a live
//     server.
//   - cmd/eventual: the binary that wires them together.
//
// docs/architecture.md gives the layer rules and follows one request
// through the packages.
package eventual
