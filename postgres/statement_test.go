package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

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

// TestViewStatementDeadline: a single-statement read waiting for a pooled
// connection ends with its context, as View does.
func TestViewStatementDeadline(t *testing.T) {
	testpg.Require(t)
	ctx := context.Background()
	schema := metadata.Builtin()
	db, err := postgres.Open(ctx, testpg.Schema(t, "view_statement_deadline"), schema, postgres.Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	held, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- db.Update(ctx, func(eventual.Tx) error { close(held); <-release; return nil })
	}()
	<-held
	// Without the deadline counting, the read would wait for the held
	// connection for ever: it is let go after 5 s, failing the test.
	stop := time.AfterFunc(5*time.Second, func() { close(release) })
	wait, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = db.ViewStatement(wait, func(tx eventual.ReadTx) error {
		_, err := tx.Get(wait, schema.Table("account"), uuid.New(), nil)
		return err
	})
	took := time.Since(start)
	if stop.Stop() {
		close(release)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("read with every connection taken: %v, want the context's deadline", err)
	}
	if took > 4*time.Second {
		t.Errorf("the read waited %v past its 300 ms deadline", took)
	}
}
