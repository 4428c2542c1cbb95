// Package testpg gives tests PostgreSQL databases: each test gets a
// PostgreSQL schema of its own on the server that EVENTUAL_TEST_POSTGRES
// names, dropped when the test ends. Only tests and test helpers import
// it.
package testpg
