package instance

import (
	"context"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// Observer receives what the instance does, for metrics and logs. Its
// methods are called after the transaction that did it committed (a
// write that rolled back, or an attempt a store retried, reports
// nothing), outside the store's locks; they must return quickly.
type Observer interface {
	// PlaceholderCreated reports a placeholder made for a lookup to a
	// missing record.
	PlaceholderCreated(table string, id uuid.UUID, at time.Time)
	// PlaceholderHydrated reports a placeholder that received its real
	// data; since is when it was made (zero if unknown).
	PlaceholderHydrated(table string, id uuid.UUID, since, at time.Time)
	// JobDone reports an async job's run: outcome is JobSucceededOutcome,
	// JobRetriedOutcome (it failed and runs again later) or
	// JobFailedOutcome (it failed for good).
	JobDone(outcome string)
}

// The outcomes of Observer.JobDone.
const (
	JobSucceededOutcome = "succeeded"
	JobRetriedOutcome   = "retried"
	JobFailedOutcome    = "failed"
)

// event is one thing an Observer hears of once its transaction commits.
type event struct {
	hydrated  bool
	table     string
	id        uuid.UUID
	since, at time.Time
}

// events gathers the events of one transaction attempt.
type events struct{ list []event }

type eventsKey struct{}

// note notes an event of the transaction ctx belongs to (none outside
// transact, or without an Observer).
func note(ctx context.Context, e event) {
	if ev, ok := ctx.Value(eventsKey{}).(*events); ok {
		ev.list = append(ev.list, e)
	}
}

// placeholderMade records the creation of placeholder rec.
func (in *Instance) placeholderMade(ctx context.Context, rec *eventual.Record) {
	at, _ := rec.Values[eventual.ColumnPlaceholderOn].(time.Time)
	note(ctx, event{table: rec.Table.LogicalName, id: rec.ID, at: at})
}

// transact runs fn in a write transaction of the store and, once it has
// committed, tells the Observer what it did. fn gets the context the
// events of the transaction are noted in (note).
// transactStatement runs fn, a write of one statement that creates and
// hydrates no placeholder (a single Tx.Insert or Tx.Put), as a transaction
// of its own where the store can (see statementStore), and as transact
// does elsewhere.
func (in *Instance) transactStatement(ctx context.Context, fn func(context.Context, eventual.Tx) error) error {
	ss, ok := in.statementStore()
	if !ok {
		return in.transact(ctx, fn)
	}
	return ss.UpdateStatement(ctx, func(tx eventual.Tx) error { return fn(ctx, tx) })
}

// viewStatement runs fn, a read that is usually one statement, through
// the store's StatementViewer where it has one, and View elsewhere.
func (in *Instance) viewStatement(ctx context.Context, fn func(eventual.ReadTx) error) error {
	if sv, ok := in.Store.(eventual.StatementViewer); ok {
		return sv.ViewStatement(ctx, fn)
	}
	return in.Store.View(ctx, fn)
}

// statementStore returns the store as an eventual.StatementStore, if it
// is one.
func (in *Instance) statementStore() (eventual.StatementStore, bool) {
	ss, ok := in.Store.(eventual.StatementStore)
	return ss, ok
}

func (in *Instance) transact(ctx context.Context, fn func(context.Context, eventual.Tx) error) error {
	if in.Observer == nil {
		return in.Store.Update(ctx, func(tx eventual.Tx) error { return fn(ctx, tx) })
	}
	ev := &events{}
	ctx = context.WithValue(ctx, eventsKey{}, ev)
	err := in.Store.Update(ctx, func(tx eventual.Tx) error {
		ev.list = ev.list[:0] // a store may run fn again (a retried transaction)
		return fn(ctx, tx)
	})
	if err != nil {
		return err
	}
	for _, e := range ev.list {
		if e.hydrated {
			in.Observer.PlaceholderHydrated(e.table, e.id, e.since, e.at)
		} else {
			in.Observer.PlaceholderCreated(e.table, e.id, e.at)
		}
	}
	return nil
}
