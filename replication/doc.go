// Package replication is the sync engine: it replicates tables from one
// eventual.RecordService (the source, Instance A) to another (the target,
// Instance B), through outages, hydrating the target's placeholders.
//
// It reads the source's change feed (the initial read, then delta after
// delta), writes the target with the bulk messages, and records progress
// in a State only after the target acknowledged, so a crash resumes with
// nothing lost and nothing applied into an older state. It knows neither
// HTTP nor the stores: the sync command gives it client.Records for both
// ends (each with its circuit breaker), and tests may give it instances.
//
// The files: syncer.go (Syncer, Run, CatchUp), feed.go (one cycle of a
// table and its feed), pipeline.go (pages read ahead and written several
// at a time, committed in order), apply.go (a page's upserts and
// deletions, version skips, dead letters), keys.go (the key values of
// records of a table matched by an alternate key, for targets that cannot
// adopt placeholders), keywrites.go (that table's writes: by the target's
// record id, in an order that frees each key before it is taken),
// keyconflicts.go (in a table matched by primary key, the writes the
// target refuses for a key another record of the sync holds: that record
// moves off the key first), hydrate.go
// (pull-through of the target's placeholders), sweep.go (the end of a
// full read), status.go, lease.go, progress.go, deadletters.go, and
// state.go (the State contract; package replication/state implements it).
package replication
