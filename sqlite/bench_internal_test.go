package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// BenchmarkGroupCommit: inserts of one record by 8 writers at once, in
// the batches of the group commit. The writer runs the writes one after
// another, so ns/op is its time per write; writes/batch is how many one
// commit served.
func BenchmarkGroupCommit(b *testing.B) {
	ctx := context.Background()
	var batches, writes atomic.Int64
	db, err := Open(ctx, filepath.Join(b.TempDir(), "g.db"), checkpointSchema(b), Options{
		OnCommit: func(w int, _ time.Duration) { batches.Add(1); writes.Add(int64(w)) },
	})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	acc := db.schema.Table("account")
	var n atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := &eventual.Record{Table: acc, ID: uuid.New(), Values: eventual.Values{"name": "g", "accountnumber": fmt.Sprintf("G-%d", n.Add(1))}}
			if err := db.Update(ctx, func(tx eventual.Tx) error { return tx.Insert(ctx, r) }); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if bn := batches.Load(); bn > 0 {
		b.ReportMetric(float64(writes.Load())/float64(bn), "writes/batch")
	}
}
