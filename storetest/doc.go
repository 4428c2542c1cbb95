// Package storetest is the contract suite every eventual.Store passes. An
// adapter's tests call Run with a function that opens its store; the suite
// checks storage, keys, conflicts, atomicity, concurrency, queries, paging
// and migration against the built-in schema.
//
// Only tests import it. It knows no store: it sees each through the
// eventual.Store contract.
package storetest
