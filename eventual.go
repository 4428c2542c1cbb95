// Package eventual holds the domain of eventual: the schema of a
// Dataverse-compatible instance (tables, columns, alternate keys,
// relationships), records and their values, queries, the storage contract
// that every database adapter implements, the record service that the Web
// API, the sync engine and embedding programs call, and the application
// error type.
//
// The package imports only the standard library and github.com/google/uuid.
// Implementations live in subpackages named for what they own:
//
//   - odata: OData v4 URL and $filter syntax (no semantics).
//   - metadata: the built-in schema and schema files.
//   - instance: Dataverse message semantics (create, update, upsert, ...)
//     on top of a Store.
//   - sqlite: the embedded Store.
//   - webapi: the Dataverse Web API over HTTP.
//   - storetest: the contract suite every Store passes.
//   - cmd/eventual: the binary that wires them together.
package eventual

// Version is the version of eventual, set at build time with
// -ldflags "-X github.com/eventual-pp/eventual.Version=...".
var Version = "dev"
