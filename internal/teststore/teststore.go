package teststore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/testpg"
	"github.com/eventual-pp/eventual/postgres"
	"github.com/eventual-pp/eventual/sqlite"
)

// Kind opens empty stores of one kind. A store is closed when the test
// that opened it ends (after what the test set up later, such as its
// servers); closing it sooner is no harm.
type Kind struct {
	// Name is "sqlite" or "postgres", for subtest names.
	Name string
	// Open opens an empty store for the schema.
	Open func(tb testing.TB, schema *eventual.Schema) eventual.Store
}

// SQLite is the embedded store in a file of the test's temporary folder.
var SQLite = Kind{Name: "sqlite", Open: func(tb testing.TB, schema *eventual.Schema) eventual.Store {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "test.db"), schema, sqlite.Options{})
	if err != nil {
		tb.Fatalf("open sqlite: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}}

// Postgres is the PostgreSQL store in a fresh schema.
var Postgres = Kind{Name: "postgres", Open: func(tb testing.TB, schema *eventual.Schema) eventual.Store {
	tb.Helper()
	db, err := postgres.Open(context.Background(), testpg.Schema(tb, "t"), schema, postgres.Options{})
	if err != nil {
		tb.Fatalf("open postgres: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}}

// All returns the kinds tests run against: SQLite, and PostgreSQL when
// EVENTUAL_TEST_POSTGRES is set.
func All() []Kind {
	if testpg.DSN() == "" {
		return []Kind{SQLite}
	}
	return []Kind{SQLite, Postgres}
}
