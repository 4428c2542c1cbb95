package replication

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/teststore"
	"github.com/google/uuid"
)

// orderedTarget is a target that checks, for every record written, that
// the record its parentaccountid references (if the sync writes it too)
// was acknowledged before, and makes every other bulk write slow so that
// pages written at once finish out of order.
type orderedTarget struct {
	eventual.RecordService
	t       *testing.T
	synced  map[uuid.UUID]bool
	mu      sync.Mutex
	acked   map[uuid.UUID]bool
	calls   int
	flight  int
	maxSeen int
}

func (o *orderedTarget) UpsertMultiple(ctx context.Context, targets []eventual.BulkTarget) error {
	o.mu.Lock()
	o.calls++
	slow := o.calls%2 == 1
	o.flight++
	o.maxSeen = max(o.maxSeen, o.flight)
	inPage := map[uuid.UUID]bool{}
	for _, tg := range targets {
		if ref, ok := tg.Entity.Values["parentaccountid"].(eventual.EntityReference); ok && o.synced[ref.ID] && !o.acked[ref.ID] && !inPage[ref.ID] {
			o.t.Errorf("account %v sent before its parent %v was acknowledged", tg.Target.ID, ref.ID)
		}
		inPage[tg.Target.ID] = true
	}
	o.mu.Unlock()
	if slow {
		time.Sleep(30 * time.Millisecond)
	}
	err := o.RecordService.UpsertMultiple(ctx, targets)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.flight--
	if err == nil {
		for _, tg := range targets {
			o.acked[tg.Target.ID] = true
		}
	}
	return err
}

// TestPipelinedWrites: pages are written two at a time, finishing out of
// order, yet every page is committed in order (B converges, and a crash
// at each commit loses nothing: TestCrashBetweenWriteAndCommit), and a
// page whose accounts have parents in a page still in flight waits for
// it.
func TestPipelinedWrites(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) {
		e := newEnv(t, kind, "account")
		acc := e.schema.Table("account")
		synced := map[uuid.UUID]bool{}
		var prev uuid.UUID
		for i := range 30 {
			vals := eventual.Values{"name": fmt.Sprint("acc ", i)}
			if i%4 == 3 { // a chain through every fourth account, across pages
				if prev != uuid.Nil {
					vals["parentaccountid"] = eventual.Ref(acc, prev)
				}
			}
			id := e.create(e.a, "account", vals)
			if i%4 == 3 {
				prev = id
			}
			synced[id] = true
		}
		o := &orderedTarget{RecordService: e.sync.opts.Target, t: t, synced: synced, acked: map[uuid.UUID]bool{}}
		e.sync.opts.Target = o
		e.catchUp()
		e.converged("account")
		if o.maxSeen < 2 {
			t.Errorf("at most %d bulk writes at once, want 2", o.maxSeen)
		}
		if o.maxSeen > e.sync.opts.Writers {
			t.Errorf("%d bulk writes at once, more than Writers (%d)", o.maxSeen, e.sync.opts.Writers)
		}
	})
}
