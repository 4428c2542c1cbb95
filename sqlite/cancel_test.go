package sqlite_test

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/sqlite"
	"github.com/google/uuid"
)

// TestView_CanceledLeavesReadersUsable: reads whose context ends at any
// moment (a client that hung up) must hand their connection back out of
// any transaction; afterwards every reader serves a read. A reader left
// inside its transaction answered "cannot start a transaction within a
// transaction" to the next request that drew it.
func TestView_CanceledLeavesReadersUsable(t *testing.T) {
	schema := builtinSchema(t)
	const readers = 2
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"), schema, sqlite.Options{Readers: readers})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	acc := schema.Table("account")
	if err := db.Update(context.Background(), func(tx eventual.Tx) error {
		for range 200 {
			if err := tx.Insert(context.Background(), &eventual.Record{Table: acc, ID: uuid.New(), Values: eventual.Values{"name": "x"}}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	read := func(ctx context.Context) error {
		return db.View(ctx, func(tx eventual.ReadTx) error {
			_, err := tx.Query(ctx, &eventual.Query{Table: acc, Limit: 200})
			return err
		})
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(time.Duration(rand.IntN(300))*time.Microsecond, cancel)
				read(ctx)
				cancel()
			}
		})
	}
	wg.Wait()
	for i := range 4 * readers {
		if err := read(context.Background()); err != nil {
			t.Fatalf("read %d after the canceled ones: %v", i, err)
		}
	}
}
