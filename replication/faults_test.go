package replication

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/teststore"
	"github.com/google/uuid"
)

// TestHydratesPlaceholders: an order written to B referencing an account
// B has not received gets a placeholder; the delta hydrates it, the
// Hydrate message runs once, and a placeholder the feed will not mention
// again is hydrated by pull-through.
func TestHydratesPlaceholders(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) {
		e := newEnv(t, kind, "account")
		acc := e.schema.Table("account")
		hydrates := countHydrates(t, e)
		id := e.create(e.a, "account", eventual.Values{"name": "Contoso", "accountnumber": "C-1"})
		e.create(e.b, "new_order", eventual.Values{"new_name": "o1", "new_customer": eventual.Ref(acc, id)})
		if st := e.rows(e.b, "account")[id].Values[eventual.ColumnHydrationState]; st != eventual.HydrationPlaceholder {
			t.Fatalf("B's account is %v, want a placeholder", st)
		}
		e.catchUp()
		e.converged("account")
		if n := hydrates.Load(); n != 1 {
			t.Errorf("Hydrate ran %d times, want 1", n)
		}

		// B loses the account; an order makes it a placeholder again. The
		// feed has nothing new: pull-through fetches it from A.
		if err := e.b.Delete(e.ctx, eventual.Ref(acc, id), eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		e.create(e.b, "new_order", eventual.Values{"new_name": "o2", "new_customer": eventual.Ref(acc, id)})
		reports, err := e.sync.Cycle(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if reports[0].Hydrated != 1 {
			t.Errorf("pull-through hydrated %d, want 1", reports[0].Hydrated)
		}
		e.converged("account")
		if n := hydrates.Load(); n != 2 {
			t.Errorf("Hydrate ran %d times in all, want 2", n)
		}
	})
}

// countHydrates registers a step on B's Hydrate message that counts.
func countHydrates(t *testing.T, e *env) *atomic.Int64 {
	n := &atomic.Int64{}
	st := eventual.Step{Name: "count-hydrate", Message: eventual.MessageHydrate, Table: "account", Stage: eventual.PostOperation,
		Plugin: eventual.PluginFunc(func(context.Context, *eventual.ExecutionContext) error { n.Add(1); return nil })}
	if err := e.b.Pipeline.Register(st); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestTargetDown: while B answers 503, cycles fail without committing,
// the breaker keeps the requests bounded, and when B is back one cycle
// brings it level.
func TestTargetDown(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) {
		e := newEnv(t, kind, "account")
		e.create(e.a, "account", eventual.Values{"name": "before"})
		e.catchUp()
		e.down.Store(true)
		firstWrite := time.Now()
		for i := range 10 {
			e.create(e.a, "account", eventual.Values{"name": fmt.Sprintf("during %d", i)})
		}
		// The status counts what waits and dates the oldest change not
		// applied.
		e.sentB.Store(0)
		start := time.Now()
		if _, err := e.sync.Cycle(e.ctx); err == nil {
			t.Fatal("a cycle against a down target succeeded")
		}
		st, err := e.state.Statuses(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s := st["account"]; s.Backlog != 10 || s.Oldest.Before(firstWrite.Add(-time.Second)) || s.Oldest.After(time.Now()) || s.LastError == "" {
			t.Errorf("status with B down: backlog %d, oldest %v (first write at %v), error %q; want 10, the first write's time, an error",
				s.Backlog, s.Oldest, firstWrite, s.LastError)
		}
		for range 49 {
			if _, err := e.sync.Cycle(e.ctx); err == nil {
				t.Fatal("a cycle against a down target succeeded")
			}
		}
		// The breaker opens after 3 failures; then one probe per open
		// period (20ms, doubling on each failed probe) at most.
		limit := 3 + 1 + int64(time.Since(start)/(20*time.Millisecond))
		if n := e.sentB.Load(); n > limit || n < 3 {
			t.Errorf("50 cycles sent %d requests to a down target, want 3 to %d", n, limit)
		}
		e.down.Store(false)
		// The breaker lets a probe through after its open period (20ms
		// here): cycles fail fast until then, then one catches up.
		deadline := time.Now().Add(5 * time.Second)
		for err := e.sync.CatchUp(e.ctx); err != nil; err = e.sync.CatchUp(e.ctx) {
			if time.Now().After(deadline) {
				t.Fatalf("B is back and the sync still fails: %v", err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		e.converged("account")
		st, err = e.state.Statuses(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s := st["account"]; s.Backlog != 0 || !s.Oldest.IsZero() || s.LastError != "" {
			t.Errorf("status caught up: backlog %d, oldest %v, error %q; want 0, none, none", s.Backlog, s.Oldest, s.LastError)
		}
	})
}

// failingState fails the commit of a cursor once after a number of
// them, as a sync killed between the target's acknowledgement and the
// state's commit (write-aheads, which come before the target's write,
// pass).
type failingState struct {
	State
	mu   sync.Mutex
	left int
}

var errCrash = errors.New("crash")

func (f *failingState) Commit(ctx context.Context, pair string, c Commit) error {
	if !c.KeepCursor {
		f.mu.Lock()
		crash := f.left == 0
		f.left--
		f.mu.Unlock()
		if crash {
			return errCrash
		}
	}
	return f.State.Commit(ctx, pair, c)
}

// TestCrashBetweenWriteAndCommit: pages the target applied but the state
// did not record are applied again after a restart, into the same state:
// nothing lost, nothing duplicated, at every point of the load.
func TestCrashBetweenWriteAndCommit(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) {
		for crashAt := range 5 {
			e := newEnv(t, kind, "account", "contact")
			acc := e.schema.Table("account")
			for i := range 7 {
				id := e.create(e.a, "account", eventual.Values{"name": fmt.Sprintf("a%d", i), "accountnumber": fmt.Sprintf("K%d", i)})
				e.create(e.a, "contact", eventual.Values{"lastname": fmt.Sprintf("c%d", i), "parentcustomerid": eventual.Ref(acc, id)})
			}
			mem := e.state
			e.sync.opts.State = &failingState{State: mem, left: crashAt}
			if err := e.sync.CatchUp(e.ctx); !errors.Is(err, errCrash) {
				t.Fatalf("crash at commit %d: %v", crashAt, err)
			}
			restarted, err := New(e.sync.opts) // a new process on the same state
			if err != nil {
				t.Fatal(err)
			}
			restarted.opts.State = mem
			e.sync = restarted
			e.catchUp()
			e.converged("account", "contact")
		}
	})
}

// TestPoisonRecord: a record B refuses for good becomes a dead letter
// with its error and payload; the rest of the table goes on, and once
// fixed at the source the record arrives and its dead letter goes.
func TestPoisonRecord(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) {
		e := newEnv(t, kind, "account")
		for _, msg := range []string{eventual.MessageCreate, eventual.MessageUpdate, eventual.MessageUpsert} {
			refuse := eventual.Step{Name: "refuse-poison-" + msg, Message: msg, Table: "account", Stage: eventual.PreValidation,
				Plugin: eventual.PluginFunc(func(_ context.Context, ec *eventual.ExecutionContext) error {
					if tg := ec.Target(); tg != nil && tg.Values["name"] == "poison" {
						return eventual.Errorf(eventual.KindInvalid, eventual.CodeBadRequest, "poison is not welcome")
					}
					return nil
				})}
			if err := e.b.Pipeline.Register(refuse); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 5 {
			e.create(e.a, "account", eventual.Values{"name": fmt.Sprintf("ok %d", i)})
		}
		bad := e.create(e.a, "account", eventual.Values{"name": "poison"})
		e.catchUp()
		if _, ok := e.rows(e.b, "account")[bad]; ok {
			t.Fatal("B holds the record its step refused")
		}
		if n := len(e.rows(e.b, "account")); n != 5 {
			t.Errorf("%d accounts on B, want the 5 good ones", n)
		}
		dead, err := e.state.DeadLetters(e.ctx, "account")
		if err != nil || len(dead) != 1 || dead[0].ID != bad || !strings.Contains(dead[0].Message, "poison is not welcome") || dead[0].Status != 400 || !strings.Contains(string(dead[0].Payload), `"poison"`) {
			t.Fatalf("dead letters = %+v, %v; want the poison record with its error and payload", dead, err)
		}
		// A retry while B still refuses keeps the dead letter, one attempt
		// more; once B takes it, the retry writes it and the letter goes.
		if n, err := e.sync.RetryDeadLetters(e.ctx, "account", nil); err != nil || n != 0 {
			t.Fatalf("retry while refused: %d written, %v", n, err)
		}
		if dead, _ := e.state.DeadLetters(e.ctx, "account"); len(dead) != 1 || dead[0].Attempts != 2 {
			t.Fatalf("dead letters after a refused retry: %+v, want one with 2 attempts", dead)
		}
		for _, msg := range []string{eventual.MessageCreate, eventual.MessageUpdate, eventual.MessageUpsert} {
			e.b.Pipeline.Unregister("refuse-poison-" + msg)
		}
		if n, err := e.sync.RetryDeadLetters(e.ctx, "account", []uuid.UUID{bad}); err != nil || n != 1 {
			t.Fatalf("retry once B takes it: %d written, %v", n, err)
		}
		e.converged("account")
		if dead, _ := e.state.DeadLetters(e.ctx, "account"); len(dead) != 0 {
			t.Errorf("dead letters after the retry: %+v", dead)
		}
	})
}

// TestExpiredToken: when the source refuses the delta token, the sync
// re-reads the table and deletes on B what it wrote there that A no
// longer has, leaving B's own records alone.
func TestExpiredToken(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) {
		e := newEnv(t, kind, "account")
		acc := e.schema.Table("account")
		keep := e.create(e.a, "account", eventual.Values{"name": "keep"})
		gone := e.create(e.a, "account", eventual.Values{"name": "gone"})
		e.catchUp()
		own := e.create(e.b, "account", eventual.Values{"name": "B's own"})
		if err := e.a.Delete(e.ctx, eventual.Ref(acc, gone), eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.a.Update(e.ctx, eventual.Ref(acc, keep), eventual.Values{"name": "kept"}, eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		// The deletion is forgotten and the token no longer readable.
		cur, _ := e.state.Cursor(e.ctx, "account")
		cur.Since = "9!expired"
		if err := e.state.Commit(e.ctx, "account", Commit{Cursor: cur}); err != nil {
			t.Fatal(err)
		}
		e.catchUp()
		bs := e.rows(e.b, "account")
		if _, ok := bs[gone]; ok {
			t.Error("the resync left on B a record A no longer has")
		}
		if bs[keep] == nil || bs[keep].Values["name"] != "kept" {
			t.Errorf("the kept record on B: %v", bs[keep])
		}
		if _, ok := bs[own]; !ok {
			t.Error("the resync deleted a record B made itself")
		}
		if cur, _ := e.state.Cursor(e.ctx, "account"); cur.Phase != PhaseDelta || cur.Epoch != 2 {
			t.Errorf("after the resync the cursor is %+v, want delta of epoch 2", cur)
		}
	})
}
