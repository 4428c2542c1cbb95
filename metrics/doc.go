// Package metrics exports what eventual serve and eventual sync do as
// Prometheus metrics (github.com/prometheus/client_golang), on a registry
// the caller injects (cmd/eventual makes one per process and serves it at
// /metrics; the global registry is never used).
//
// Serve holds an instance's metrics: requests by route template, method
// and status with their latency; the store's commits (writes per group
// commit, commit latency); placeholders made and hydrated, with the time
// each took to hydrate; async jobs run by outcome. At scrape time it asks
// a ServeSource for the gauges that live in the database: placeholders
// pending per table and the age of the oldest, jobs queued, the
// change-tracking head version. Sync holds the sync's: per table lag,
// backlog, records applied and dead letters (from its state, at scrape
// time), cycle durations, each endpoint's breaker state, retries by
// reason and 429s by Dataverse's service-protection code.
//
// Names follow Prometheus conventions (eventual_…_total for counters,
// _seconds for durations) and labels stay bounded: a route template, a
// method among the HTTP methods, a status code, a table or an endpoint of
// the configuration, never a record id or a key value.
//
// The methods that count events (PlaceholderCreated, Commit, Retry, …)
// match the hooks of the packages they observe (instance.Observer,
// sqlite.Options.OnCommit, client.Options.OnRetry, …); cmd/eventual
// connects them, so this package imports none of those layers.
package metrics
