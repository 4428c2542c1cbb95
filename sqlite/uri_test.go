package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/eventual-pp/eventual/sqlite"
)

// TestOpen_PathWithURICharacters opens databases whose file names hold
// the characters a SQLite URI gives a meaning to, and checks that the
// database lands in exactly the file named.
func TestOpen_PathWithURICharacters(t *testing.T) {
	schema := builtinSchema(t)
	for _, name := range []string{"a?b.db", "a#b.db", "a%3fb.db", "a&mode=ro.db"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, name)
			db, err := sqlite.Open(context.Background(), path, schema, sqlite.Options{})
			if err != nil {
				t.Fatalf("open %s: %v", name, err)
			}
			if err := db.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("database file %s: %v", name, err)
			}
			ents, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			// Only the database and its companions (-wal, -shm, -lock)
			// may exist.
			for _, e := range ents {
				if !strings.HasPrefix(e.Name(), name) {
					t.Errorf("stray file %q beside %q", e.Name(), name)
				}
			}
		})
	}
}

func builtinSchema(tb testing.TB) *eventual.Schema {
	tb.Helper()
	s, err := eventual.NewSchema(metadata.BuiltinTables())
	if err != nil {
		tb.Fatal(err)
	}
	return s
}
