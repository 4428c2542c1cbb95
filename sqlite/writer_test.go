package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/eventual-pp/eventual/sqlite"
	"github.com/google/uuid"
)

// TestUpdateResultsStayTheirOwn races writers whose writes succeed, fail,
// panic or are cancelled, through group commits: every Update must get
// its own write's result and nothing else's (the writer's queued writes
// are reused once their result is read), and exactly the successful
// writes are stored.
func TestUpdateResultsStayTheirOwn(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "r.db"), metadata.Builtin(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	accounts := db.Schema().Table("account")
	const goroutines, each = 12, 150
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		written = map[uuid.UUID]bool{}
	)
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				tag := fmt.Sprintf("op %d-%d", g, i)
				id := uuid.New()
				opCtx, cancel := context.WithCancel(ctx)
				kind := (g + i) % 4
				if kind == 3 {
					cancel() // cancelled before it is queued or run
				}
				err := db.Update(opCtx, func(tx eventual.Tx) error {
					switch kind {
					case 1:
						return errors.New(tag)
					case 2:
						panic(tag)
					}
					return tx.Insert(ctx, &eventual.Record{Table: accounts, ID: id, Values: eventual.Values{"name": tag}})
				})
				cancel()
				switch kind {
				case 0:
					if err != nil {
						t.Errorf("%s: %v", tag, err)
					}
					mu.Lock()
					written[id] = true
					mu.Unlock()
				case 1, 2:
					if err == nil || !strings.Contains(err.Error(), tag) {
						t.Errorf("%s: got %v, want its own error", tag, err)
					}
				case 3:
					if !errors.Is(err, context.Canceled) {
						t.Errorf("%s: got %v, want context.Canceled", tag, err)
					}
				}
			}
		})
	}
	wg.Wait()
	var stored int64
	err = db.View(ctx, func(tx eventual.ReadTx) error {
		var err error
		stored, err = tx.Count(ctx, accounts, nil, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if stored != int64(len(written)) {
		t.Fatalf("%d accounts stored, want the %d successful writes", stored, len(written))
	}
}
