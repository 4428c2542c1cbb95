package instance_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/instance"
	"github.com/eventual-pp/eventual/metadata"
)

// This file tests the lifecycle of the instance's background loops: Start
// starts them, Stop stops them and waits, so that a store closed after
// Stop is never used by a loop.

// guardStore counts the transactions in progress on a store and records
// any begun after it was marked stopped.
type guardStore struct {
	eventual.Store
	inFlight atomic.Int64
	stopped  atomic.Bool
	late     atomic.Int64
}

func (g *guardStore) enter() func() {
	if g.stopped.Load() {
		g.late.Add(1)
	}
	g.inFlight.Add(1)
	return func() { g.inFlight.Add(-1) }
}

func (g *guardStore) Update(ctx context.Context, fn func(tx eventual.Tx) error) error {
	defer g.enter()()
	return g.Store.Update(ctx, fn)
}

func (g *guardStore) View(ctx context.Context, fn func(tx eventual.ReadTx) error) error {
	defer g.enter()()
	return g.Store.View(ctx, fn)
}

// A job running when Stop is called sees its context end; Stop returns
// only after the step returned and its outcome was recorded, and no loop
// uses the store after that.
func TestStopWaitsForLoops(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		e := open(t)
		g := &guardStore{Store: e.store}
		ge := newEnv(g, e.schema)
		ge.in.Logger = slog.New(slog.DiscardHandler)
		ge.in.ChangeRetention = time.Hour
		ge.in.PurgeInterval = time.Millisecond
		started := make(chan struct{})
		var returned atomic.Bool
		ge.register(t, asyncStep("slow", eventual.MessageCreate, "account", func(ctx context.Context, ec *eventual.ExecutionContext) error {
			close(started)
			<-ctx.Done()
			time.Sleep(100 * time.Millisecond) // a step slow to notice
			returned.Store(true)
			return ctx.Err()
		}))
		if err := ge.in.Start(testContext(t)); err != nil {
			t.Fatal(err)
		}
		ge.mustCreate(t, ge.account, eventual.Values{"name": "x"})
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("the runner did not start the job within 10s")
		}
		ge.in.Stop()
		g.stopped.Store(true)
		if !returned.Load() {
			t.Error("Stop returned before the running step did")
		}
		if n := g.inFlight.Load(); n != 0 {
			t.Errorf("%d store transactions in progress after Stop", n)
		}
		// The outcome of the interrupted run is recorded: a failed
		// attempt, to be retried.
		if job := e.onlyJob(t, "slow"); job.Values["statuscode"] != instance.JobWaiting || job.Values["retrycount"] != int64(1) {
			t.Errorf("interrupted job status %v retrycount %v, want a failed attempt waiting for retry", job.Values["statuscode"], job.Values["retrycount"])
		}
		// Past a poll interval of the runner and many of the purge loop,
		// nothing touched the store.
		time.Sleep(instance.JobPollInterval + 200*time.Millisecond)
		if n := g.late.Load(); n != 0 {
			t.Errorf("%d store transactions began after Stop returned", n)
		}
		ge.in.Stop() // a second Stop returns at once
	})
}

func TestStartTwice(t *testing.T) {
	e := mustOpenEnv(t, stores[0])
	e.in.Stop() // Stop before Start does nothing
	if err := e.in.Start(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if err := e.in.Start(testContext(t)); !errors.Is(err, instance.ErrStarted) {
		t.Errorf("second Start: %v, want ErrStarted", err)
	}
	e.in.Stop()
	if err := e.in.Start(testContext(t)); !errors.Is(err, instance.ErrStarted) {
		t.Errorf("Start after Stop: %v, want ErrStarted", err)
	}
}

// purgeStore is a store that only records the purges asked of it.
type purgeStore struct {
	eventual.Store
	mu      sync.Mutex
	befores []time.Time
}

func (s *purgeStore) Meta() eventual.Meta { return eventual.Meta{} }

func (s *purgeStore) Update(ctx context.Context, fn func(tx eventual.Tx) error) error {
	return fn(purgeTx{s: s})
}

func (s *purgeStore) purges() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.befores)
}

type purgeTx struct {
	eventual.Tx
	s *purgeStore
}

func (tx purgeTx) PurgeDeleted(ctx context.Context, before time.Time) (int64, error) {
	tx.s.mu.Lock()
	defer tx.s.mu.Unlock()
	tx.s.befores = append(tx.s.befores, before)
	return 0, nil
}

// The purge loop runs at Start and then every PurgeInterval, purging what
// is older than ChangeRetention by the instance's clock, until Stop.
func TestPurgeLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &purgeStore{}
		in := instance.New(st, metadata.Builtin())
		in.Pipeline = nil // no jobs to run
		in.ChangeRetention = 24 * time.Hour
		in.PurgeInterval = time.Hour
		start := time.Now().UTC()
		if err := in.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		want := []time.Time{start.Add(-24 * time.Hour)}
		if got := st.purges(); !slices.EqualFunc(got, want, time.Time.Equal) {
			t.Errorf("purges at Start %v, want %v", got, want)
		}
		time.Sleep(90 * time.Minute)
		synctest.Wait()
		want = append(want, start.Add(time.Hour-24*time.Hour))
		if got := st.purges(); !slices.EqualFunc(got, want, time.Time.Equal) {
			t.Errorf("purges after 90 minutes %v, want %v", got, want)
		}
		in.Stop()
		time.Sleep(3 * time.Hour)
		synctest.Wait()
		if got := st.purges(); len(got) != len(want) {
			t.Errorf("%d purges after Stop, want none", len(got)-len(want))
		}
	})
}
