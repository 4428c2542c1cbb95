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
package replication
