package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eventual-pp/eventual/metadata"
	"github.com/eventual-pp/eventual/sqlite"
	"github.com/google/uuid"
)

// TestMigrationRebuildsKeysUnderTheFoldRule opens a database whose
// alternate-key index was built by the NOCASE collation of earlier
// versions (which folds only ASCII) and holds two keys that collide under
// the Unicode rule: the start must stop naming both records, and start
// once one of them is fixed, with the index rebuilt on eventual_fold.
func TestMigrationRebuildsKeysUnderTheFoldRule(t *testing.T) {
	ctx := context.Background()
	schema := metadata.Builtin()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sqlite.Open(ctx, path, schema, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	a, b := uuid.New(), uuid.New()
	for _, stmt := range []string{
		`DROP INDEX "ak_account_accountnumber_key"`,
		`CREATE UNIQUE INDEX "ak_account_accountnumber_key" ON "account" ("accountnumber")`,
		`INSERT INTO account (accountid, versionnumber, name, accountnumber) VALUES ('` + a.String() + `', 1, 'lower', 'ä1'), ('` + b.String() + `', 2, 'upper', 'Ä1')`,
	} {
		if _, err := raw.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	_, err = sqlite.Open(ctx, path, schema, sqlite.Options{})
	if err == nil {
		t.Fatal("open succeeded with colliding keys ä1 and Ä1")
	}
	for _, want := range []string{"accountnumber_key", a.String(), b.String(), `"ä1"`, `"Ä1"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if _, err := raw.ExecContext(ctx, `UPDATE account SET accountnumber = 'Ä2' WHERE accountid = ?`, b.String()); err != nil {
		t.Fatal(err)
	}
	db, err = sqlite.Open(ctx, path, schema, sqlite.Options{})
	if err != nil {
		t.Fatalf("open after fixing the collision: %v", err)
	}
	defer db.Close()
	var def string
	if err := raw.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE name = 'ak_account_accountnumber_key'`).Scan(&def); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(def, "eventual_fold") {
		t.Errorf("key index not rebuilt on eventual_fold: %s", def)
	}
	// The key index serves lookups by key.
	var id, parent, notused int
	var plan string
	if err := raw.QueryRowContext(ctx, `EXPLAIN QUERY PLAN SELECT accountid FROM account WHERE eventual_fold(accountnumber) = 'ä1'`).Scan(&id, &parent, &notused, &plan); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, "ak_account_accountnumber_key") {
		t.Errorf("lookup by folded key does not use the key index: %s", plan)
	}
}
