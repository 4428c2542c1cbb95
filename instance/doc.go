// Package instance applies Dataverse's message semantics on top of a
// store: Create, Update, Upsert, Delete, Retrieve, RetrieveMultiple and
// Aggregate, with alternate keys, lookup binding, deep insert and
// many-to-many associations, optimistic concurrency and related-record
// expansion, the user stamps (createdby, modifiedby, ownerid) and the
// currency columns (exchangerate, <money>_base) kept on every write, the bulk messages (CreateMultiple,
// UpdateMultiple, UpsertMultiple, DeleteMultiple), change tracking, and the event pipeline that runs the
// registered steps around every message, with its queue of asynchronous
// jobs. The Web API and programs that embed eventual all write through an
// Instance, so every entry point follows the same rules. An Instance and
// its Sessions implement eventual.AtomicService, the record-service
// contract the Web API serves.
//
// It works on an eventual.Store and knows nothing of SQL, of which store it
// runs on, or of HTTP: webapi calls it, and cmd/eventual gives it its store
// and steps.
package instance
