// Package layering holds the test that keeps eventual's packages in their
// layers: the root package imports only the standard library and
// github.com/google/uuid, odata only the standard library, the store
// adapters neither each other nor the layers above them, webapi no store,
// nothing imports cmd, and test helpers are imported only by tests.
//
// The rules are a table in layering_test.go, checked against the import
// graph of one "go list -deps" run; docs/architecture.md explains them.
// The package has no code of its own and nothing imports it.
package layering
