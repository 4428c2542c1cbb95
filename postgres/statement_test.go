package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/testpg"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/eventual-pp/eventual/postgres"
	"github.com/google/uuid"
)

// TestUpdateStatementReadOnly: a read-only store refuses a single-statement
// write as it refuses Update (the storetest suite covers the rest).
func TestUpdateStatementReadOnly(t *testing.T) {
	testpg.Require(t)
	ctx := context.Background()
	schema := metadata.Builtin()
	dsn := testpg.Schema(t, "update_statement")
	db, err := postgres.Open(ctx, dsn, schema, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ro, err := postgres.Open(ctx, dsn, schema, postgres.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	rec := &eventual.Record{Table: schema.Table("account"), ID: uuid.New(), Values: eventual.Values{"name": "refused"}}
	if err := ro.UpdateStatement(ctx, func(tx eventual.Tx) error { return tx.Insert(ctx, rec) }); !errors.Is(err, postgres.ErrReadOnly) {
		t.Errorf("read-only store: %v, want ErrReadOnly", err)
	}
}
