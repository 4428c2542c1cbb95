// Package odata parses the OData v4 syntax that the Dataverse Web API
// accepts: resource paths with key predicates and function parameters,
// system query options, and $filter expressions. It knows nothing of any
// schema: the webapi package binds what it parses to tables and columns.
//
// The package depends on the standard library only, so it can be fuzzed
// and reused (the Go client prints the same syntax).
package odata
