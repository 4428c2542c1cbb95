package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/sqlite"
	"github.com/eventual-pp/eventual/storetest"
	"github.com/google/uuid"
)

// TestOpenReadOnly_Refuses opens read-only what is not an eventual
// database serving the schema: each open must fail with a message that
// says why, and leave the file as it was (or absent).
func TestOpenReadOnly_Refuses(t *testing.T) {
	schema := builtinSchema(t)
	ctx := context.Background()
	tests := []struct {
		name string
		// setup prepares path (and may leave it absent).
		setup  func(t *testing.T, path string)
		schema *eventual.Schema
		want   []string
		// notExist: errors.Is(err, fs.ErrNotExist) must hold.
		notExist bool
	}{
		{name: "Missing", setup: func(*testing.T, string) {}, want: []string{"does not exist"}, notExist: true},
		{name: "Directory", setup: func(t *testing.T, path string) { mkdir(t, path) }, want: []string{"is a directory"}},
		{name: "EmptyFile", setup: func(t *testing.T, path string) { write(t, path, nil) },
			want: []string{"is not an eventual database", "no eventual_meta table"}},
		{name: "TextFile", setup: func(t *testing.T, path string) {
			write(t, path, bytes.Repeat([]byte("not a database. "), 64))
		}, want: []string{"is not an eventual database", "file is not a database"}},
		{name: "OtherSQLiteDatabase", setup: func(t *testing.T, path string) {
			execSQL(t, path, "CREATE TABLE notes (body TEXT)")
		}, want: []string{"is not an eventual database", "no eventual_meta table"}},
		{name: "NoIdentity", setup: func(t *testing.T, path string) {
			mustCreate(t, path, schema)
			execSQL(t, path, "DELETE FROM eventual_meta WHERE key = 'userid'")
		}, want: []string{"is not an eventual database", "eventual_meta has no userid"}},
		{name: "BehindTheSchema", setup: func(t *testing.T, path string) { mustCreate(t, path, schema) },
			schema: storetest.ExtendedSchema(t),
			want:   []string{"is behind the schema", "column account.new_tier", "table new_project", "eventual serve"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "x.db")
			tc.setup(t, path)
			before := snapshot(t, dir)
			s := tc.schema
			if s == nil {
				s = schema
			}
			err := storetest.OpenRefused(t, func() (eventual.Store, error) {
				return sqlite.Open(ctx, path, s, sqlite.Options{ReadOnly: true})
			}, tc.want)
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the database %s", err, path)
			}
			if got := errors.Is(err, fs.ErrNotExist); got != tc.notExist {
				t.Errorf("errors.Is(err, fs.ErrNotExist) = %v, want %v", got, tc.notExist)
			}
			// Nothing was created, migrated or written: the database
			// file is byte for byte what it was, and no lock file or
			// other file appeared unless SQLite's own -wal/-shm.
			after := snapshot(t, dir)
			for name, data := range after {
				old, ok := before[name]
				switch {
				case strings.HasSuffix(name, "-wal") || strings.HasSuffix(name, "-shm"):
				case !ok:
					t.Errorf("read-only open created %s", name)
				case !bytes.Equal(old, data):
					t.Errorf("read-only open changed %s", name)
				}
			}
			if _, err := os.Lstat(path); tc.notExist && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("read-only open of a missing database created it (%v)", err)
			}
		})
	}
}

// TestOpenReadOnly_BesideWriter reads a database while its writer runs:
// the read-only store opens (no writer lock), shares the instance
// identity, sees what the writer commits, refuses writes, and does not
// keep a writer from opening the database after the first one closed.
func TestOpenReadOnly_BesideWriter(t *testing.T) {
	schema := builtinSchema(t)
	acct := schema.Table("account")
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rw.db")
	w, err := sqlite.Open(ctx, path, schema, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { w.Close() }()
	first := storetest.InsertAccount(t, w, acct, "first")

	r, err := sqlite.Open(ctx, path, schema, sqlite.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only open beside a writer: %v", err)
	}
	defer r.Close()
	storetest.ReadOnlyBesideWriter(t, w, r, acct, sqlite.ErrReadOnly, map[uuid.UUID]string{first: "first"})

	// The reader holds no lock: a new writer may open once the first
	// writer is gone, while the reader stays open.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w, err = sqlite.Open(ctx, path, schema, sqlite.Options{})
	if err != nil {
		t.Fatalf("writer open beside a read-only store: %v", err)
	}
	// Two read-only stores may share the database too.
	r2, err := sqlite.Open(ctx, path, schema, sqlite.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("second read-only open: %v", err)
	}
	if err := r2.Close(); err != nil {
		t.Errorf("close read-only store: %v", err)
	}
}

// mustCreate creates an eventual database at path and closes it.
func mustCreate(tb testing.TB, path string, schema *eventual.Schema) {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), path, schema, sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
}

// execSQL runs a statement on the SQLite file at path, outside the store.
func execSQL(tb testing.TB, path, stmt string) {
	tb.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(stmt); err != nil {
		tb.Fatalf("%s: %v", stmt, err)
	}
}

func mkdir(tb testing.TB, path string) {
	tb.Helper()
	if err := os.Mkdir(path, 0o755); err != nil {
		tb.Fatal(err)
	}
}

func write(tb testing.TB, path string, data []byte) {
	tb.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// snapshot returns the regular files of dir with their contents.
func snapshot(tb testing.TB, dir string) map[string][]byte {
	tb.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		out[e.Name()] = data
	}
	return out
}
