package sqlite

import (
	"testing"
	"testing/synctest"
	"time"
)

// gatherWriter is a writer with only what gather uses: the queue and
// the options.
func gatherWriter(maxBatch int, wait time.Duration) *writer {
	return &writer{db: &DB{ops: make(chan *writeOp, maxBatch), opts: Options{MaxBatch: maxBatch, BatchWait: wait}}, pays: payScale}
}

func newBatch(w *writer, n int) []*writeOp {
	b := make([]*writeOp, 0, w.db.opts.MaxBatch)
	for range n {
		b = append(b, &writeOp{})
	}
	return b
}

// TestGatherTakesWritesQueuedDuringTheWait: writes queued while the
// writer waits join its batch, and the wait ends after BatchWait by the
// clock (synctest's: each turn here takes 10µs).
func TestGatherTakesWritesQueuedDuringTheWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := gatherWriter(8, 25*time.Microsecond)
		turns := 0
		w.waitHook = func() {
			turns++
			if turns <= 2 {
				w.db.ops <- &writeOp{}
			}
			time.Sleep(10 * time.Microsecond)
		}
		w.db.ops <- &writeOp{} // queued before the batch is cut
		batch := w.gather(newBatch(w, 1))
		if len(batch) != 4 {
			t.Errorf("batch of %d writes, want 4: the first, the queued one and the two queued during the wait", len(batch))
		}
		if turns != 3 {
			t.Errorf("the wait took %d turns of 10µs, want 3 (BatchWait 25µs)", turns)
		}
		if w.waits != 1 || w.gained != 2 {
			t.Errorf("waits %d, gained %d; want 1 and 2", w.waits, w.gained)
		}
	})
}

// TestGatherStopsAtAFullBatch: a full batch runs at once, and a wait
// ends when the batch fills.
func TestGatherStopsAtAFullBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := gatherWriter(4, time.Second)
		w.waitHook = func() { w.db.ops <- &writeOp{} }
		if batch := w.gather(newBatch(w, 1)); len(batch) != 4 {
			t.Errorf("batch of %d, want 4 (full)", len(batch))
		}
		if w.waits != 1 {
			t.Errorf("%d waits, want 1", w.waits)
		}
		w.waitHook = func() { t.Error("waited with a full batch") }
		for range 4 {
			w.db.ops <- &writeOp{}
		}
		if batch := w.gather(newBatch(w, 0)); len(batch) != 4 {
			t.Errorf("batch of %d, want 4", len(batch))
		}
	})
}

// TestGatherLoneWriterStopsWaiting: a writer whose waits never gain a
// write soon waits only once in probeEvery batches, so that sequential
// writes do not pay BatchWait each; a batch that holds several writes
// waits again, and waits that gain writes keep the writer waiting.
func TestGatherLoneWriterStopsWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := gatherWriter(8, 25*time.Microsecond)
		w.waitHook = func() { time.Sleep(10 * time.Microsecond) }
		const batches = 20 * probeEvery
		for range batches {
			w.gather(newBatch(w, 1))
		}
		// The score falls below payEnough within a dozen waits; then one
		// wait per probeEvery batches.
		if maxWaits := 12 + batches/probeEvery; w.waits > maxWaits || w.waits < batches/probeEvery {
			t.Errorf("a lone writer waited %d times in %d batches, want between %d and %d", w.waits, batches, batches/probeEvery, maxWaits)
		}
		if w.gained != 0 {
			t.Errorf("gained %d writes from nobody", w.gained)
		}

		waits := w.waits
		w.gather(newBatch(w, 2))
		if w.waits != waits+1 {
			t.Error("a batch of two writes did not wait")
		}

		// Writers arrive during waits: the writer waits every batch.
		w.waitHook = func() { w.db.ops <- &writeOp{}; time.Sleep(10 * time.Microsecond) }
		for range 3 * probeEvery { // enough probes for the score to climb
			w.gather(newBatch(w, 1))
		}
		waits = w.waits
		for range 10 {
			w.gather(newBatch(w, 1))
		}
		if w.waits != waits+10 {
			t.Errorf("with writes arriving, %d waits in 10 batches, want 10", w.waits-waits)
		}
	})
}

// TestGatherNeverWaitsWhenOff: a negative BatchWait never waits.
func TestGatherNeverWaitsWhenOff(t *testing.T) {
	w := gatherWriter(8, -1)
	w.waitHook = func() { t.Fatal("waited with BatchWait < 0") }
	w.db.ops <- &writeOp{}
	if batch := w.gather(newBatch(w, 2)); len(batch) != 3 || w.waits != 0 {
		t.Errorf("batch %d, waits %d; want 3 and 0", len(batch), w.waits)
	}
}
