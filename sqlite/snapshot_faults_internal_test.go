package sqlite

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

var errPlanned = errors.New("planned failure")

// TestSnapshotsUnderFaults (a review helper's): writers bump one counter through Update (one in three
// writes fails after its update, so its savepoint rolls back); readers
// read it through View and ViewStatement, with contexts cancelled at
// random moments, fn panicking or failing now and then, and slow
// many-row queries. Every read that is not cut short must succeed, see
// every acknowledged write, and never go back on its goroutine.
func TestSnapshotsUnderFaults(t *testing.T) {
	ctx := context.Background()
	db, acc, id := openCounter(t, "", Options{Readers: 3, CheckpointEvery: 4}, 0)
	if err := db.Update(ctx, func(tx eventual.Tx) error {
		for range 300 {
			if err := tx.Insert(ctx, &eventual.Record{Table: acc, ID: uuid.New(), Values: eventual.Values{"name": strings.Repeat("y", 200)}}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var acked atomic.Int64 // highest acknowledged count
	raise := func(v int64) {
		for {
			cur := acked.Load()
			if v <= cur || acked.CompareAndSwap(cur, v) {
				return
			}
		}
	}
	cols := []*eventual.Column{acc.Column("numberofemployees")}
	errs := make(chan error, 100)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	const writers, writes = 4, 200
	var ww sync.WaitGroup
	for w := range writers {
		ww.Go(func() {
			for i := range writes {
				fail := (i+w)%3 == 0
				var wrote int64
				err := db.Update(ctx, func(tx eventual.Tx) error {
					cur, err := tx.Get(ctx, acc, id, cols)
					if err != nil {
						return err
					}
					wrote = cur.Values["numberofemployees"].(int64) + 1
					if _, err := tx.Update(ctx, acc, id, eventual.Values{"numberofemployees": wrote}); err != nil {
						return err
					}
					if fail {
						return errPlanned
					}
					return nil
				})
				if fail {
					if !errors.Is(err, errPlanned) {
						report(fmt.Errorf("failing write: %v", err))
					}
					continue
				}
				if err != nil {
					report(fmt.Errorf("write: %w", err))
					return
				}
				raise(wrote)
			}
		})
	}
	read := func(c context.Context, mode int) (n int64, err error) {
		fn := func(tx eventual.ReadTx) error {
			switch mode {
			case 2: // a slow read before the counter
				if _, err := tx.Query(c, &eventual.Query{Table: acc, Limit: 400}); err != nil {
					return err
				}
			case 3:
				panic("planned panic")
			case 4:
				if _, err := tx.Get(c, acc, id, cols); err != nil {
					return err
				}
				return errPlanned
			case 5: // a many-row query alone (ViewStatement's one statement)
				_, err := tx.Query(c, &eventual.Query{Table: acc, Limit: 400})
				return err
			}
			rec, err := tx.Get(c, acc, id, cols)
			if err != nil {
				return err
			}
			n = rec.Values["numberofemployees"].(int64)
			return nil
		}
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panicked: %v", r)
			}
		}()
		if mode%2 == 0 {
			return n, db.View(c, fn)
		}
		return n, db.ViewStatement(c, fn)
	}
	for r := range 4 {
		wg.Go(func() {
			var last int64
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				mode := rand.IntN(6)
				c, cancel := context.WithCancel(ctx)
				cancelled := rand.IntN(3) == 0
				if cancelled {
					time.AfterFunc(time.Duration(rand.IntN(400))*time.Microsecond, cancel)
				}
				before := acked.Load()
				n, err := read(c, mode)
				cancel()
				switch {
				case mode == 3 || mode == 4:
					continue
				case err != nil && cancelled && errors.Is(err, context.Canceled):
					continue
				case err != nil:
					report(fmt.Errorf("reader %d mode %d (cancelled %v): %w", r, mode, cancelled, err))
					return
				case mode == 2 || mode == 5:
					continue
				}
				if n < before {
					report(fmt.Errorf("reader %d mode %d read %d after %d was acknowledged", r, mode, n, before))
				}
				if n < last {
					report(fmt.Errorf("reader %d mode %d read %d after reading %d", r, mode, n, last))
				}
				last = n
			}
		})
	}
	ww.Wait()
	close(stop)
	wg.Wait()
	// Every reader still serves both kinds of read.
	for i := range 12 {
		n, err := read(ctx, i%2)
		if err != nil {
			t.Errorf("read %d after the run: %v", i, err)
		} else if n != acked.Load() {
			t.Errorf("read %d after the run: %d, want %d", i, n, acked.Load())
		}
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("final count %d", acked.Load())
}
