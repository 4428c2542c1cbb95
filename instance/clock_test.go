package instance_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/testpg"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/eventual-pp/eventual/postgres"
	"github.com/eventual-pp/eventual/sqlite"
)

// A store given the instance's clock records deletions at that clock's
// time, so the purge of expired deletions, which reads the instance's
// clock, agrees with them.
func TestDeletionTimeFollowsTheClock(t *testing.T) {
	schema := metadata.Builtin()
	clk := newFakeClock()
	kinds := map[string]func(tb testing.TB) eventual.Store{
		"sqlite": func(tb testing.TB) eventual.Store {
			db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "test.db"), schema, sqlite.Options{Now: clk.Now})
			if err != nil {
				tb.Fatal(err)
			}
			return db
		},
	}
	if testpg.DSN() != "" {
		kinds["postgres"] = func(tb testing.TB) eventual.Store {
			db, err := postgres.Open(context.Background(), testpg.Schema(tb, "clock"), schema, postgres.Options{Now: clk.Now})
			if err != nil {
				tb.Fatal(err)
			}
			return db
		}
	}
	for name, open := range kinds {
		t.Run(name, func(t *testing.T) {
			ctx := testContext(t)
			db := open(t)
			defer db.Close()
			e := newEnv(db, schema)
			e.in.Now = clk.Now
			id := e.mustCreate(t, e.account, eventual.Values{"name": "gone"})
			if err := e.in.Delete(ctx, eventual.Ref(e.account, id), eventual.Condition{}); err != nil {
				t.Fatal(err)
			}
			deleted := clk.Now()
			if n, err := e.in.ExpireChanges(ctx, deleted); err != nil || n != 0 {
				t.Fatalf("ExpireChanges(the deletion's time) = %d, %v; want 0 purged", n, err)
			}
			clk.Set(deleted.Add(time.Hour))
			if n, err := e.in.ExpireChanges(ctx, e.in.Time().Add(-time.Hour+time.Second)); err != nil || n != 1 {
				t.Fatalf("ExpireChanges(a second past the deletion) = %d, %v; want 1 purged", n, err)
			}
		})
	}
}
