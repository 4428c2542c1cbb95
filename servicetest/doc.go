// Package servicetest is the contract suite every eventual.RecordService
// passes: a local instance over each store, and the Web API client over
// eventual's server, answer every message alike (values, conditions and
// their error kinds, queries and paging, bulk atomicity, change tracking).
//
// Only tests import it. It knows no implementation: it sees each through
// the eventual.RecordService contract, over the built-in schema.
package servicetest
