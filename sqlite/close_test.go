package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/sqlite"
)

// TestClosed_ViewAndUpdate checks that a closed store, writable or
// read-only, answers View and Update with eventual.ErrClosed instead of
// waiting for a reader that Close took for good.
func TestClosed_ViewAndUpdate(t *testing.T) {
	schema := builtinSchema(t)
	path := filepath.Join(t.TempDir(), "c.db")
	for _, opts := range []sqlite.Options{{}, {ReadOnly: true}} {
		db, err := sqlite.Open(context.Background(), path, schema, opts)
		if err != nil {
			t.Fatalf("open %+v: %v", opts, err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		// Bounded, so that a regression fails instead of hanging.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = db.View(ctx, func(eventual.ReadTx) error { return nil })
		if !errors.Is(err, eventual.ErrClosed) {
			t.Errorf("View after Close (ReadOnly %v): %v, want ErrClosed", opts.ReadOnly, err)
		}
		err = db.Update(ctx, func(eventual.Tx) error { return nil })
		if !errors.Is(err, eventual.ErrClosed) {
			t.Errorf("Update after Close (ReadOnly %v): %v, want ErrClosed", opts.ReadOnly, err)
		}
		cancel()
	}
}
