package postgres_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/testpg"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/eventual-pp/eventual/postgres"
	"github.com/eventual-pp/eventual/storetest"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// TestOpenReadOnly_Refuses opens read-only what is not an eventual
// database serving the schema: each open must fail with a message that
// says why, and create nothing.
func TestOpenReadOnly_Refuses(t *testing.T) {
	testpg.Require(t)
	ctx := context.Background()
	tests := []struct {
		name string
		// setup returns the DSN to open and the PostgreSQL schema it
		// selects.
		setup  func(t *testing.T) (dsn, pgSchema string)
		schema *eventual.Schema
		want   []string
	}{
		{name: "MissingSchema", setup: func(t *testing.T) (string, string) {
			name := "evt_missing_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
			return testpg.WithSearchPath(t, testpg.DSN(), name), name
		}, want: []string{"does not exist", "search_path"}},
		{name: "MissingSchemaBeforePublic", setup: func(t *testing.T) (string, string) {
			// current_schema() would skip the missing schema and pick
			// public; the open must not.
			name := "evt_missing_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
			return testpg.WithSearchPath(t, testpg.DSN(), name+",public"), name
		}, want: []string{"does not exist"}},
		{name: "EmptySchema", setup: func(t *testing.T) (string, string) {
			dsn := testpg.Schema(t, "ro_empty")
			return dsn, searchPath(t, dsn)
		}, want: []string{"holds no eventual database", "no eventual_meta table"}},
		{name: "BehindTheSchema", setup: func(t *testing.T) (string, string) {
			dsn := testpg.Schema(t, "ro_behind")
			db, err := postgres.Open(ctx, dsn, metadata.Builtin(), postgres.Options{})
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
			return dsn, searchPath(t, dsn)
		}, schema: storetest.ExtendedSchema(t), want: []string{"is behind the configured schema", "column account.new_tier", "table new_project", "eventual serve"}},
		{name: "MissingDatabase", setup: func(t *testing.T) (string, string) {
			u, err := url.Parse(testpg.DSN())
			if err != nil {
				t.Fatal(err)
			}
			u.Path = "/evt_no_such_database"
			return u.String(), ""
		}, want: []string{"evt_no_such_database", "does not exist"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dsn, pgSchema := tc.setup(t)
			before := tables(t, pgSchema)
			s := tc.schema
			if s == nil {
				s = metadata.Builtin()
			}
			err := storetest.OpenRefused(t, func() (eventual.Store, error) {
				return postgres.Open(ctx, dsn, s, postgres.Options{ReadOnly: true})
			}, tc.want)
			if pgSchema != "" && !strings.Contains(err.Error(), `"`+pgSchema+`"`) {
				t.Errorf("error %q does not name the schema %q", err, pgSchema)
			}
			if after := tables(t, pgSchema); after != before {
				t.Errorf("read-only open changed the schema's tables: %q before, %q after", before, after)
			}
		})
	}
}

// TestOpenReadOnly_BesideWriter reads a database while a writer uses
// it: the read-only store shares the identity, sees committed writes and
// refuses writes of its own.
func TestOpenReadOnly_BesideWriter(t *testing.T) {
	testpg.Require(t)
	ctx := context.Background()
	schema := metadata.Builtin()
	acct := schema.Table("account")
	dsn := testpg.Schema(t, "ro_beside")
	w, err := postgres.Open(ctx, dsn, schema, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r, err := postgres.Open(ctx, dsn, schema, postgres.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only open beside a writer: %v", err)
	}
	defer r.Close()
	storetest.ReadOnlyBesideWriter(t, w, r, acct, postgres.ErrReadOnly, nil)
}

// searchPath returns the search_path of a DSN.
func searchPath(tb testing.TB, dsn string) string {
	tb.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	return u.Query().Get("search_path")
}

// tables lists the tables of a PostgreSQL schema, or "(no schema)" if
// it does not exist; "" lists nothing.
func tables(tb testing.TB, pgSchema string) string {
	tb.Helper()
	if pgSchema == "" {
		return ""
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testpg.DSN())
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", pgSchema).Scan(&exists); err != nil {
		tb.Fatal(err)
	}
	if !exists {
		return "(no schema)"
	}
	var list string
	err = conn.QueryRow(ctx, "SELECT coalesce(string_agg(tablename, ',' ORDER BY tablename), '') FROM pg_tables WHERE schemaname = $1", pgSchema).Scan(&list)
	if err != nil {
		tb.Fatal(err)
	}
	return list
}
