package instance

import (
	"context"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// Session runs operations inside one store transaction: they commit
// together or not at all. $batch change sets and the bulk messages
// (CreateMultiple, UpsertMultiple, ...) run in sessions.
type Session struct {
	in *Instance
	tx eventual.Tx
	ev *events // the transaction's events, noted whatever context a method gets
}

// bind gives ctx the session's events list, so that what the session's
// writes do reaches the Observer once the transaction commits: the
// session's methods get their callers' contexts, not the transaction's.
func (s *Session) bind(ctx context.Context) context.Context {
	if s.ev == nil || ctx.Value(eventsKey{}) == s.ev {
		return ctx
	}
	return context.WithValue(ctx, eventsKey{}, s.ev)
}

// Atomic runs fn in one write transaction. If fn returns an error, none of
// the session's writes persist. fn may run more than once (see
// eventual.Store.Update), so it must not keep results of a failed run.
func (in *Instance) Atomic(ctx context.Context, fn func(eventual.RecordService) error) error {
	return in.atomic(ctx, func(s *Session) error { return fn(s) })
}

// atomic is Atomic for the instance's own callers, which use the session's
// type.
func (in *Instance) atomic(ctx context.Context, fn func(*Session) error) error {
	err := in.transact(ctx, func(ctx context.Context, tx eventual.Tx) error {
		ev, _ := ctx.Value(eventsKey{}).(*events)
		return fn(&Session{in: in, tx: tx, ev: ev})
	})
	if err == nil {
		in.notifyJobs() // jobs queued by the session's steps
	}
	return err
}

// Create creates a record (see Instance.Create). Its steps all run inside
// the session's transaction.
func (s *Session) Create(ctx context.Context, e *eventual.Entity) (uuid.UUID, error) {
	ctx = s.bind(ctx)
	return s.in.createMessage(ctx, s.tx, e, false, nil)
}

// Upsert updates or creates a record (see Instance.Upsert).
func (s *Session) Upsert(ctx context.Context, target eventual.EntityReference, e *eventual.Entity, cond eventual.Condition) (bool, uuid.UUID, error) {
	ctx = s.bind(ctx)
	return s.in.upsertMessage(ctx, s.tx, target, e, cond, false, nil)
}

// Update updates an existing record (see Instance.Update).
func (s *Session) Update(ctx context.Context, target eventual.EntityReference, values eventual.Values, cond eventual.Condition) (uuid.UUID, error) {
	ctx = s.bind(ctx)
	if cond.IfMatch == "" {
		cond.IfMatch = "*"
	}
	return s.in.updateMessage(ctx, s.tx, target, &eventual.Entity{Table: target.Table, Values: values}, cond, false, nil)
}

// Delete deletes a record (see Instance.Delete).
func (s *Session) Delete(ctx context.Context, target eventual.EntityReference, cond eventual.Condition) error {
	ctx = s.bind(ctx)
	return s.in.deleteMessage(ctx, s.tx, target, cond, false, nil)
}

// Retrieve reads a record inside the session, seeing its writes.
func (s *Session) Retrieve(ctx context.Context, target eventual.EntityReference, columns []*eventual.Column, expand []eventual.Expand, ifNoneMatch string) (*eventual.Record, error) {
	return s.in.retrieve(ctx, s.tx, target, columns, expand, ifNoneMatch)
}

// PrimaryNames returns primary names of referenced records (see
// Instance.PrimaryNames).
func (s *Session) PrimaryNames(ctx context.Context, refs []eventual.EntityReference) (map[uuid.UUID]string, error) {
	return s.in.primaryNames(ctx, s.tx, refs)
}

// RetrieveMultiple runs a query inside the session, seeing its writes (see
// Instance.RetrieveMultiple). Retrieve steps do not run for it.
func (s *Session) RetrieveMultiple(ctx context.Context, q *eventual.Query, expand []eventual.Expand, count bool) (*eventual.Page, error) {
	return s.in.retrieveMultiple(ctx, s.tx, q, expand, count)
}

// Count counts records inside the session (see Instance.Count).
func (s *Session) Count(ctx context.Context, t *eventual.Table, filter eventual.Expr) (int64, error) {
	return count(ctx, s.tx, t, filter)
}

// Aggregate runs a grouped query inside the session (see
// Instance.Aggregate).
func (s *Session) Aggregate(ctx context.Context, a *eventual.Aggregate) ([]eventual.AggregateRow, error) {
	return aggregate(ctx, s.tx, a)
}

// Changes reads changes inside the session (see Instance.Changes).
func (s *Session) Changes(ctx context.Context, t *eventual.Table, columns []*eventual.Column, since, until string, cur eventual.ChangeCursor, limit int) (*eventual.ChangePage, error) {
	return changes(ctx, s.tx, t, columns, since, until, cur, limit)
}

// Atomic runs fn in the session's own transaction: a session is already
// atomic, so nested calls join it.
func (s *Session) Atomic(ctx context.Context, fn func(eventual.RecordService) error) error {
	return fn(s)
}

// The instance and its sessions are the record service webapi serves.
var (
	_ eventual.AtomicService = (*Instance)(nil)
	_ eventual.AtomicService = (*Session)(nil)
)
