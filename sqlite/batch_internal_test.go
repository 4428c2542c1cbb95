package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// batchOp is a write of TestBatchesWithoutSavepoints: what it does in its
// transaction, the records it leaves if it succeeds and the error it must
// get ("" for none).
type batchOp struct {
	name string
	fn   func(ctx context.Context, tx eventual.Tx, acc *eventual.Table) error
	ids  []uuid.UUID
	want string
}

// TestBatchesWithoutSavepoints: writes queued while the writer is busy
// run as one batch. Writes that succeed, that fail before changing a row
// or that fail on a constraint (which SQLite undoes) need no savepoint;
// a write that fails, or panics, after changing rows makes the batch
// run again in savepoints. Either way each write gets its own result, and
// exactly the successful writes' records are stored.
func TestBatchesWithoutSavepoints(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "b.db"), checkpointSchema(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	acc := db.schema.Table("account")
	if err := db.Update(ctx, func(tx eventual.Tx) error {
		return tx.Insert(ctx, &eventual.Record{Table: acc, ID: uuid.New(), Values: eventual.Values{"accountnumber": "TAKEN"}})
	}); err != nil {
		t.Fatal(err)
	}
	insert := func(ids ...uuid.UUID) func(context.Context, eventual.Tx, *eventual.Table) error {
		return func(ctx context.Context, tx eventual.Tx, acc *eventual.Table) error {
			for _, id := range ids {
				if err := tx.Insert(ctx, &eventual.Record{Table: acc, ID: id, Values: eventual.Values{"name": id.String()}}); err != nil {
					return err
				}
			}
			return nil
		}
	}
	ok := func(name string, n int) batchOp {
		ids := make([]uuid.UUID, n)
		for i := range ids {
			ids[i] = uuid.New()
		}
		return batchOp{name: name, fn: insert(ids...), ids: ids}
	}
	readThenFail := batchOp{name: "reads, then fails", want: "no such record", fn: func(ctx context.Context, tx eventual.Tx, acc *eventual.Table) error {
		if _, err := tx.Get(ctx, acc, uuid.New(), nil); !errors.Is(err, eventual.ErrNotFound) {
			return fmt.Errorf("get of a missing record: %v", err)
		}
		return errors.New("no such record")
	}}
	duplicate := batchOp{name: "a duplicate key", want: "conflict", fn: func(ctx context.Context, tx eventual.Tx, acc *eventual.Table) error {
		err := tx.Insert(ctx, &eventual.Record{Table: acc, ID: uuid.New(), Values: eventual.Values{"accountnumber": "taken"}})
		if _, ok := errors.AsType[*eventual.ConflictError](err); ok {
			return errors.New("conflict")
		}
		return fmt.Errorf("insert of a taken key: %v", err)
	}}
	writeThenFail := batchOp{name: "writes, then fails", want: "after a write", fn: func(ctx context.Context, tx eventual.Tx, acc *eventual.Table) error {
		if err := insert(uuid.New())(ctx, tx, acc); err != nil {
			return err
		}
		return errors.New("after a write")
	}}
	writeThenPanic := batchOp{name: "writes, then panics", want: "panicked", fn: func(ctx context.Context, tx eventual.Tx, acc *eventual.Table) error {
		if err := insert(uuid.New())(ctx, tx, acc); err != nil {
			return err
		}
		panic("after a write")
	}}
	tests := []struct {
		name   string
		ops    []batchOp
		redone int // batches run again in savepoints
	}{
		{"successes", []batchOp{ok("one", 1), ok("two", 2), ok("three", 1)}, 0},
		{"failures that changed nothing", []batchOp{ok("one", 1), readThenFail, duplicate, ok("two", 2)}, 0},
		{"a failure after a write", []batchOp{ok("one", 1), writeThenFail, ok("two", 2), duplicate}, 1},
		{"a panic after a write", []batchOp{writeThenPanic, ok("one", 1), readThenFail}, 1},
	}
	stored := int64(1) // TAKEN
	for _, tt := range tests {
		for _, op := range tt.ops {
			stored += int64(len(op.ids))
		}
		t.Run(tt.name, func(t *testing.T) {
			before := db.writer.redone
			fns := make([]func(eventual.Tx) error, len(tt.ops))
			for i, op := range tt.ops {
				fns[i] = func(tx eventual.Tx) error { return op.fn(ctx, tx, acc) }
			}
			errs := queueBatch(t, db, fns...)
			for i, op := range tt.ops {
				switch {
				case op.want == "" && errs[i] != nil:
					t.Errorf("%s: %v", op.name, errs[i])
				case op.want != "" && (errs[i] == nil || !strings.Contains(errs[i].Error(), op.want)):
					t.Errorf("%s: got %v, want its own error (%q)", op.name, errs[i], op.want)
				}
				for _, id := range op.ids {
					_, err := get(ctx, db, acc, id)
					if op.want == "" && err != nil {
						t.Errorf("%s: record %s: %v", op.name, id, err)
					}
				}
			}
			if got := db.writer.redone - before; got != tt.redone {
				t.Errorf("%d batches run again in savepoints, want %d", got, tt.redone)
			}
		})
	}
	var n int64
	if err := db.View(ctx, func(tx eventual.ReadTx) error {
		var err error
		n, err = tx.Count(ctx, acc, nil, 0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n != stored {
		t.Errorf("%d accounts stored, want %d: the first and the successful writes' (none of a failed write's)", n, stored)
	}
}

// queueBatch runs fns as one batch of the writer: a first write holds
// the writer while they queue, in order.
func queueBatch(t *testing.T, db *DB, fns ...func(eventual.Tx) error) []error {
	t.Helper()
	ctx := context.Background()
	release, busy := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { db.Update(ctx, func(eventual.Tx) error { close(busy); <-release; return nil }) })
	<-busy
	errs := make([]error, len(fns))
	for i, fn := range fns {
		wg.Go(func() { errs[i] = db.Update(ctx, fn) })
		for deadline := time.Now().Add(10 * time.Second); len(db.ops) < i+1; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("write %d of %d not queued", i+1, len(fns))
			}
		}
	}
	close(release)
	wg.Wait()
	return errs
}

// TestBatchesWhoseTransactionEnds: SQLite rolls the whole transaction
// back when a statement, even a SELECT, fails with SQLITE_NOMEM,
// SQLITE_IOERR or SQLITE_FULL, and the connection then commits each later
// statement on its own. A write under which that happens (here by hand:
// those errors cannot be made to order) sends the batch round again with
// savepoints; if it happens there too, every write of the batch fails and
// none is stored. Either way later writes get versions past every stored
// one.
func TestBatchesWhoseTransactionEnds(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "e.db"), checkpointSchema(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	acc := db.schema.Table("account")
	insert := func(id uuid.UUID) func(eventual.Tx) error {
		return func(tx eventual.Tx) error {
			return tx.Insert(ctx, &eventual.Record{Table: acc, ID: id, Values: eventual.Values{"name": id.String()}})
		}
	}
	// ends reads, then has SQLite's rollback done under it on its first
	// runs (times of them; -1: all), returning the read's error or, if
	// swallow, nothing.
	ends := func(times int, swallow bool) func(eventual.Tx) error {
		runs := 0
		return func(tx eventual.Tx) error {
			runs++
			if _, err := tx.Get(ctx, acc, uuid.New(), nil); !errors.Is(err, eventual.ErrNotFound) {
				return err
			}
			if times >= 0 && runs > times {
				return nil
			}
			if err := db.writer.control("ROLLBACK"); err != nil {
				return err
			}
			if swallow {
				return nil
			}
			return errors.New("read account: out of memory")
		}
	}
	tests := []struct {
		name   string
		end    func(eventual.Tx) error
		stored bool // whether the others' records are
	}{
		{"on the first run only", ends(1, false), true},
		{"on every run", ends(-1, false), false},
		{"on every run, the error swallowed", ends(-1, true), false},
	}
	var highest int64
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, c := uuid.New(), uuid.New()
			before := db.writer.redone
			errs := queueBatch(t, db, insert(a), tt.end, insert(c))
			if got := db.writer.redone - before; got != 1 {
				t.Errorf("%d batches run again in savepoints, want 1", got)
			}
			for i, id := range map[int]uuid.UUID{0: a, 2: c} {
				rec, err := get(ctx, db, acc, id)
				switch {
				case tt.stored && (errs[i] != nil || err != nil):
					t.Errorf("write %d: %v; its record: %v", i, errs[i], err)
				case !tt.stored && (errs[i] == nil || !strings.Contains(errs[i].Error(), "ended its transaction") || err == nil):
					t.Errorf("write %d: got %v, stored %v; want the batch's failure, and nothing stored", i, errs[i], err == nil)
				case err == nil:
					highest = max(highest, rec.Version)
				}
			}
			if tt.stored && errs[1] != nil || !tt.stored && errs[1] == nil {
				t.Errorf("the write that ended the transaction: %v", errs[1])
			}
			later := &eventual.Record{Table: acc, ID: uuid.New(), Values: eventual.Values{"name": "later"}}
			if err := db.Update(ctx, func(tx eventual.Tx) error { return tx.Insert(ctx, later) }); err != nil {
				t.Fatal(err)
			}
			if later.Version <= highest {
				t.Errorf("a later write got version %d, not past a stored record's %d", later.Version, highest)
			}
			highest = later.Version
		})
	}
}

func get(ctx context.Context, db *DB, acc *eventual.Table, id uuid.UUID) (*eventual.Record, error) {
	var rec *eventual.Record
	err := db.View(ctx, func(tx eventual.ReadTx) error {
		var err error
		rec, err = tx.Get(ctx, acc, id, nil)
		return err
	})
	return rec, err
}
