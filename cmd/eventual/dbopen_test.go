package main_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eventual-pp/eventual/internal/testpg"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// TestPlaceholders_NoDatabase runs "eventual placeholders" on databases
// that are not there (a mistyped file, a PostgreSQL schema that does not
// exist) or are not eventual's: it must exit non-zero, say why, and leave
// no database behind.
func TestPlaceholders_NoDatabase(t *testing.T) {
	type target struct {
		db string
		// gone reports whether the database is still absent afterwards.
		gone func(t *testing.T) bool
	}
	tests := []struct {
		name     string
		postgres bool
		setup    func(t *testing.T) target
		want     []string
	}{
		{name: "MissingFile", setup: func(t *testing.T) target {
			dir := t.TempDir()
			return target{filepath.Join(dir, "missing.db"), func(t *testing.T) bool { return emptyDir(t, dir) }}
		}, want: []string{"missing.db does not exist"}},
		{name: "MissingFileInMissingFolder", setup: func(t *testing.T) target {
			dir := t.TempDir()
			return target{filepath.Join(dir, "typo", "x.db"), func(t *testing.T) bool { return emptyDir(t, dir) }}
		}, want: []string{"x.db does not exist"}},
		{name: "NotADatabase", setup: func(t *testing.T) target {
			path := filepath.Join(t.TempDir(), "notes.txt")
			if err := os.WriteFile(path, []byte(strings.Repeat("not a database\n", 40)), 0o644); err != nil {
				t.Fatal(err)
			}
			return target{path, func(t *testing.T) bool {
				data, err := os.ReadFile(path)
				return err == nil && string(data) == strings.Repeat("not a database\n", 40)
			}}
		}, want: []string{"notes.txt is not an eventual database"}},
		{name: "MissingPostgresSchema", postgres: true, setup: func(t *testing.T) target {
			name := "evt_cli_missing_" + uuid.NewString()[:8]
			return target{testpg.WithSearchPath(t, testpg.DSN(), name), func(t *testing.T) bool { return !schemaExists(t, name) }}
		}, want: []string{`schema "evt_cli_missing_`, "does not exist"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.postgres && testpg.DSN() == "" {
				t.Skipf("PostgreSQL tests are off: set %s", testpg.EnvDSN)
			}
			tg := tc.setup(t)
			for _, verb := range []string{"count", "list"} {
				code, stdout, stderr := runEventual(t, exitTimeout, "placeholders", verb, "--db", tg.db)
				if code == 0 {
					t.Errorf("placeholders %s --db %s: exit 0, want a failure\nstdout:\n%s", verb, tg.db, stdout)
				}
				for _, w := range append([]string{"eventual: placeholders: "}, tc.want...) {
					if !strings.Contains(stderr, w) {
						t.Errorf("placeholders %s: stderr %q does not contain %q", verb, stderr, w)
					}
				}
				if strings.Contains(stdout, "total") {
					t.Errorf("placeholders %s printed a count for a database that is not there:\n%s", verb, stdout)
				}
				if !tg.gone(t) {
					t.Fatalf("placeholders %s created or changed the database %s", verb, tg.db)
				}
			}
		})
	}
}

// emptyDir reports whether dir holds nothing.
func emptyDir(t *testing.T, dir string) bool {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Logf("left behind: %s", e.Name())
	}
	return len(ents) == 0
}

// schemaExists reports whether the test server has a PostgreSQL schema
// named name.
func schemaExists(t *testing.T, name string) bool {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testpg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	return exists
}
