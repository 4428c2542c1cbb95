// Package clients runs real Dataverse client libraries against an
// "eventual serve" process. Each client lives in its own folder with a
// pinned dependency manifest and a script that exits 0 when every step
// passes.
//
// The package is tests only (clients_test.go); nothing imports it.
package clients
