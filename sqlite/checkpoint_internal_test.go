package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/google/uuid"
)

func checkpointSchema(t testing.TB) *eventual.Schema {
	t.Helper()
	s, err := eventual.NewSchema(metadata.BuiltinTables())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func insertAccount(ctx context.Context, db *DB, name string) error {
	acc := db.schema.Table("account")
	return db.Update(ctx, func(tx eventual.Tx) error {
		return tx.Insert(ctx, &eventual.Record{Table: acc, ID: uuid.New(), Values: eventual.Values{"name": name}})
	})
}

// TestCheckpointerCopiesTheWAL: after CheckpointEvery commits the
// checkpointer copies the WAL into the database, every frame of it when
// nothing else runs, and the writer never checkpoints by itself before
// the WAL reaches the backstop.
func TestCheckpointerCopiesTheWAL(t *testing.T) {
	ctx := context.Background()
	results := make(chan checkpointResult, 16)
	db, err := Open(ctx, filepath.Join(t.TempDir(), "c.db"), checkpointSchema(t), Options{
		CheckpointEvery: 4,
		onCheckpoint: func(_ bool, r checkpointResult, err error) {
			if err != nil {
				t.Errorf("checkpoint: %v", err)
			}
			results <- r
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range 3 {
		if err := insertAccount(ctx, db, "a"); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-results:
			t.Fatalf("checkpoint after %d commits (%+v), want one after 4", i+1, r)
		default:
		}
	}
	if err := insertAccount(ctx, db, "a"); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-results:
		if r.Busy || r.Frames == 0 || r.Checkpointed != r.Frames {
			t.Errorf("checkpoint %+v, want every frame of a non-empty WAL copied", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no checkpoint 10s after the 4th commit")
	}
}

// TestCheckpointerKeepsTheWALBounded: under writes without a pause a
// passive checkpoint never finds the WAL idle, so it never restarts the
// WAL; once the WAL reaches the backstop the writer checkpoints itself,
// and the next write restarts it. The run writes some 4000 pages of new
// rows; the WAL restarts again and again instead of holding them all,
// and every record is kept.
func TestCheckpointerKeepsTheWALBounded(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "b.db")
	const backstop = 200
	var mu sync.Mutex
	var commits, byWriter, restarts, last int
	db, err := Open(ctx, path, checkpointSchema(t), Options{
		CheckpointEvery: 4,
		backstopPages:   backstop,
		// Only the checkpointer and the writer's checkpoint at the
		// backstop: SQLite's own would restart the WAL too.
		noAutoCheckpoint: true,
		OnCommit:         func(int, time.Duration) { mu.Lock(); commits++; mu.Unlock() },
		onCheckpoint: func(w bool, r checkpointResult, err error) {
			if err != nil {
				t.Errorf("checkpoint (by the writer: %v): %v", w, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if w {
				byWriter++
			}
			if r.Busy {
				return
			}
			if r.Frames < last {
				restarts++ // the WAL started again from its beginning
			}
			last = r.Frames
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	name := strings.Repeat("x", 2000) // two records a page
	const writers, each = 8, 1000
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				if err := insertAccount(ctx, db, name); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	t.Logf("%d commits, %d checkpoints by the writer, %d WAL restarts seen", commits, byWriter, restarts)
	if byWriter == 0 {
		t.Error("the writer never checkpointed at the backstop")
	}
	// 4000 pages over a backstop of 200: a restart every 200 to 1000 or
	// so pages, fewer when slow fsyncs hold the checkpoints up; with no
	// checkpoint by the writer, none.
	if restarts < 2 {
		t.Errorf("the WAL restarted %d times over %d commits of some 4000 pages, want at least 2", restarts, commits)
	}
	mu.Unlock()
	// Every record is there after Close (which checkpoints the rest).
	db, err = Open(ctx, path, checkpointSchema(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.View(ctx, func(tx eventual.ReadTx) error {
		recs, err := tx.Query(ctx, &eventual.Query{Table: db.schema.Table("account"), Limit: 2 * writers * each})
		n = len(recs)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n != writers*each {
		t.Errorf("%d accounts after reopening, want %d", n, writers*each)
	}
}

// TestNoCheckpointer: CheckpointEvery < 0 leaves SQLite's own automatic
// checkpoint at its default and starts no checkpointer.
func TestNoCheckpointer(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "n.db"), checkpointSchema(t), Options{CheckpointEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.checkpoints != nil {
		t.Error("a checkpointer with CheckpointEvery -1")
	}
	if strings.Contains(db.dsn(modeWrite), "wal_autocheckpoint") {
		t.Errorf("writer DSN %q sets wal_autocheckpoint", db.dsn(modeWrite))
	}
	if err := insertAccount(ctx, db, "a"); err != nil {
		t.Fatal(err)
	}
}
