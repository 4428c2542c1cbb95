package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/sqlstore"
	"github.com/eventual-pp/eventual/metadata"
)

// TestPageCaches checks each connection's page cache: the writer's
// writerCacheKiB, the readers' share of readersCacheKiB (never below
// SQLite's default), the checkpointer's SQLite default.
func TestPageCaches(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		readers, wantReader int
	}{
		{2, readersCacheKiB / 2},
		{4, readersCacheKiB / 4},
		{64, sqliteCacheKiB},
	} {
		db, err := Open(ctx, filepath.Join(t.TempDir(), "c.db"), metadata.Builtin(), Options{Readers: tc.readers})
		if err != nil {
			t.Fatal(err)
		}
		cacheOf := func(q sqlstore.Querier) int {
			t.Helper()
			rows, err := q.QueryContext(ctx, "PRAGMA cache_size")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var n int
			if !rows.Next() {
				t.Fatal("PRAGMA cache_size: no row")
			}
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		var taken []*reader // every reader, each taken once
		for range tc.readers {
			r := <-db.readers
			taken = append(taken, r)
			if got := cacheOf(r.conn); got != -tc.wantReader {
				t.Errorf("%d readers: a reader's cache_size %d, want %d", tc.readers, got, -tc.wantReader)
			}
		}
		for _, r := range taken {
			db.readers <- r
		}
		err = db.Update(ctx, func(tx eventual.Tx) error {
			if got := cacheOf(tx.(*sqlstore.Tx).Q); got != -writerCacheKiB {
				t.Errorf("the writer's cache_size %d, want %d", got, -writerCacheKiB)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := cacheOf(db.checkpoints.db); got != -sqliteCacheKiB {
			t.Errorf("the checkpointer's cache_size %d, want SQLite's default %d", got, -sqliteCacheKiB)
		}
		db.Close()
	}
}
