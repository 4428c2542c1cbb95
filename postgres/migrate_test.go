package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/eventual-pp/eventual/internal/testpg"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/eventual-pp/eventual/postgres"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// TestMigrationRebuildsKeysUnderTheFoldRule opens a database whose
// alternate-key index was built by lower() in the "C" collation, as
// earlier versions did (ASCII only), holding two keys that collide under
// the Unicode rule: the start must stop naming both records, and start
// once one is fixed, with the index rebuilt on eventual_fold.
func TestMigrationRebuildsKeysUnderTheFoldRule(t *testing.T) {
	testpg.Require(t)
	ctx := context.Background()
	schema := metadata.Builtin()
	dsn := testpg.Schema(t, "fold")
	db, err := postgres.Open(ctx, dsn, schema, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close(ctx)
	var index string
	if err := raw.QueryRow(ctx, `SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'account' AND indexname LIKE 'ak\_%'`).Scan(&index); err != nil {
		t.Fatal(err)
	}
	a, b := uuid.New(), uuid.New()
	for _, stmt := range []string{
		`DROP INDEX "` + index + `"`,
		`CREATE UNIQUE INDEX "` + index + `" ON account ((lower(accountnumber) COLLATE "C"))`,
		`INSERT INTO account (accountid, versionnumber, name, accountnumber) VALUES ('` + a.String() + `', 1, 'lower', 'ä1'), ('` + b.String() + `', 2, 'upper', 'Ä1')`,
	} {
		if _, err := raw.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	_, err = postgres.Open(ctx, dsn, schema, postgres.Options{})
	if err == nil {
		t.Fatal("open succeeded with colliding keys ä1 and Ä1")
	}
	for _, want := range []string{"accountnumber_key", a.String(), b.String(), `"ä1"`, `"Ä1"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if _, err := raw.Exec(ctx, `UPDATE account SET accountnumber = 'Ä2' WHERE accountid = $1`, b); err != nil {
		t.Fatal(err)
	}
	db, err = postgres.Open(ctx, dsn, schema, postgres.Options{})
	if err != nil {
		t.Fatalf("open after fixing the collision: %v", err)
	}
	defer db.Close()
	var def string
	if err := raw.QueryRow(ctx, `SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = $1`, index).Scan(&def); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(def, "eventual_fold(") {
		t.Errorf("key index not rebuilt on eventual_fold: %s", def)
	}
	// The key index serves lookups by key: the planner uses it.
	if _, err := raw.Exec(ctx, "SET enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	var plan string
	if err := raw.QueryRow(ctx, `EXPLAIN SELECT accountid FROM account WHERE eventual_fold(accountnumber) = 'ä1'`).Scan(&plan); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, index) {
		t.Errorf("lookup by folded key does not use %s: %s", index, plan)
	}
}

// TestMigrationSchemaNameAsPostgreSQLReadsIt: an unquoted search_path name
// is folded to lower case by PostgreSQL, so the migration must create that
// schema, not one spelled as written that the connection never uses.
func TestMigrationSchemaNameAsPostgreSQLReadsIt(t *testing.T) {
	testpg.Require(t)
	ctx := context.Background()
	name := "Evt_Mixed_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	raw, err := pgx.Connect(ctx, testpg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close(ctx)
	t.Cleanup(func() {
		for _, n := range []string{strings.ToLower(name), name} {
			raw.Exec(context.Background(), `DROP SCHEMA IF EXISTS "`+n+`" CASCADE`)
		}
	})
	db, err := postgres.Open(ctx, testpg.WithSearchPath(t, testpg.DSN(), name), metadata.Builtin(), postgres.Options{})
	if err != nil {
		t.Fatalf("open with search_path=%s: %v", name, err)
	}
	defer db.Close()
	var folded, asWritten bool
	if err := raw.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = 'account'),
		EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $2)`, strings.ToLower(name), name).Scan(&folded, &asWritten); err != nil {
		t.Fatal(err)
	}
	if !folded || asWritten {
		t.Errorf("tables in %q: %v; schema %q created: %v (want the tables in the folded name only)", strings.ToLower(name), folded, name, asWritten)
	}
}
