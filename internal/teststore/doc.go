// Package teststore opens empty stores for tests: SQLite always, and
// PostgreSQL when EVENTUAL_TEST_POSTGRES names a server (each store in a
// schema of its own, dropped when the test ends). Only tests import it; it
// is the one package besides cmd/eventual that imports both stores.
package teststore
