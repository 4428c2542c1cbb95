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

// TestUpdateStatement: a write of one statement commits by itself; a
// second statement fails without running (the first has committed, as
// eventual.StatementStore says); a failing statement writes nothing; a
// read-only store refuses.
func TestUpdateStatement(t *testing.T) {
	testpg.Require(t)
	ctx := context.Background()
	schema := metadata.Builtin()
	dsn := testpg.Schema(t, "update_statement")
	db, err := postgres.Open(ctx, dsn, schema, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	account := schema.Table("account")
	rec := func(number string) *eventual.Record {
		return &eventual.Record{Table: account, ID: uuid.New(), Values: eventual.Values{"name": "one statement", "accountnumber": number}}
	}
	exists := func(id uuid.UUID) bool {
		t.Helper()
		err := db.View(ctx, func(tx eventual.ReadTx) error { _, err := tx.Get(ctx, account, id, nil); return err })
		if err != nil && !errors.Is(err, eventual.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}

	one := rec("US-1")
	if err := db.UpdateStatement(ctx, func(tx eventual.Tx) error { return tx.Insert(ctx, one) }); err != nil {
		t.Fatalf("one insert: %v", err)
	}
	if !exists(one.ID) || one.Version == 0 {
		t.Fatalf("the insert did not commit (version %d)", one.Version)
	}

	first, second := rec("US-2"), rec("US-3")
	err = db.UpdateStatement(ctx, func(tx eventual.Tx) error {
		if err := tx.Insert(ctx, first); err != nil {
			return err
		}
		return tx.Insert(ctx, second)
	})
	if err == nil {
		t.Fatal("a second statement ran")
	}
	if !exists(first.ID) || exists(second.ID) {
		t.Errorf("after a second statement: first exists %v (want true), second %v (want false)", exists(first.ID), exists(second.ID))
	}

	dup := rec("US-1") // the alternate key of the first record
	err = db.UpdateStatement(ctx, func(tx eventual.Tx) error { return tx.Insert(ctx, dup) })
	var ce *eventual.ConflictError
	if !errors.As(err, &ce) {
		t.Errorf("duplicate key: %v, want a *eventual.ConflictError", err)
	}
	if exists(dup.ID) {
		t.Error("the failed insert persisted")
	}

	ro, err := postgres.Open(ctx, dsn, schema, postgres.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := ro.UpdateStatement(ctx, func(tx eventual.Tx) error { return tx.Insert(ctx, rec("US-4")) }); !errors.Is(err, postgres.ErrReadOnly) {
		t.Errorf("read-only store: %v, want ErrReadOnly", err)
	}
}
