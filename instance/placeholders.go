package instance

import (
	"context"
	"fmt"
	"reflect"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// This file holds the engine's side of the placeholder upsert: when a
// write binds a lookup to a record that does not exist, a placeholder
// with that key is made so the write succeeds. The placeholder plugin
// (package placeholder) decides which lookups get one and with which
// values; it asks for them through Service.EnsurePlaceholder and
// Service.EnsurePlaceholders, and everything after that is here.
//
// Where the placeholders are made depends on where the step runs:
//
//   - Deferred into the write. A PreValidation step of a top-level write
//     runs outside any transaction. When no other synchronous step of the
//     write runs after it (execution.alone), nothing can look for the
//     records in between, so EnsurePlaceholders only records the request
//     (execution.deferred). runWrite then calls resolveDeferred inside
//     the write's own transaction: it looks each record up, inserts the
//     missing ones, and returns their ids as the write's lookupCache,
//     which runWrite passes to the main operation (and, through
//     execution.lookups, to the messages steps run in the transaction):
//     their lookups then need no second read. Binding an existing
//     record costs what it costs without the step. If the write fails,
//     the placeholders roll back with it, and ensureDeferred makes them
//     in a transaction of their own, since they outlive a failed write.
//   - In PreValidation's own transaction. When another step could look in
//     between, the step checks with a read first (exists, in Store.View:
//     the record usually exists, and a read does not queue behind
//     writers) and makes the missing ones in a write transaction of
//     their own, before the write's.
//   - In the step's transaction. A step inside a transaction (a nested
//     message, PreOperation) makes them in that transaction.
//
// ensurePlaceholders works set-wise: one findMany for all the
// references, then one InsertMany per table for the missing ones.
// ensurePlaceholder does the same for one reference.
//
// A placeholder (placeholderRecord) is the record buildCreate makes from
// the reference's key (or id) and the step's values, with defaults and
// timestamps, plus the lifecycle columns: eventual_hydrationstate set to
// HydrationPlaceholder, eventual_placeholderon (when it was made) and
// eventual_placeholdercorrelationid (the request that made it). A later
// write that brings data hydrates it: eventual_hydrationstate becomes
// HydrationHydrated and eventual_hydratedon is set (buildUpdate), and
// hydrate runs the Hydrate message in that write's transaction.
//
// Two writers may race to make the same placeholder (PostgreSQL; SQLite
// has one writer). The second insert fails with a conflict, the store
// runs the transaction again, and the retry finds the record.

// deferredPlaceholders is one deferred EnsurePlaceholders call.
type deferredPlaceholders struct {
	refs   []eventual.EntityReference
	values []eventual.Values
}

// alone reports whether no synchronous step but those of s's plugin runs
// after s in this write (later ones being the rest of its stage): then
// the placeholders s asks for may be deferred to the write, as no step
// can look for them in between.
func (x *execution) alone(s *eventual.Step, later []*eventual.Step) bool {
	same := func(o *eventual.Step) bool {
		t := reflect.TypeOf(o.Plugin)
		return t == reflect.TypeOf(s.Plugin) && t.Comparable() && o.Plugin == s.Plugin
	}
	messages := []string{x.ec.MessageName}
	if x.ec.MessageName == eventual.MessageUpsert {
		messages = append(messages, eventual.MessageCreate, eventual.MessageUpdate)
	}
	for _, m := range messages {
		for _, st := range []eventual.Stage{eventual.PreValidation, eventual.PreOperation, eventual.PostOperation} {
			list := x.in.Pipeline.Steps(m, x.tbl.LogicalName, st, eventual.Synchronous)
			if m == x.ec.MessageName && st == eventual.PreValidation {
				list = later
			}
			for _, o := range list {
				if !same(o) {
					return false
				}
			}
		}
	}
	return true
}

// resolveDeferred looks up, in the write's transaction, the records the
// deferred placeholders stand for, and makes the missing ones there. It
// returns their ids for the write's lookups, which then need no second
// read: binding an existing record costs what it costs without the step.
func (x *execution) resolveDeferred(ctx context.Context, tx eventual.Tx) (lookupCache, error) {
	cache := lookupCache{}
	for _, d := range x.deferred {
		for i, r := range d.refs {
			k := refKey(r)
			if _, ok := cache[k]; ok {
				continue
			}
			rec, err := x.in.find(ctx, tx, r, []*eventual.Column{})
			if err == nil {
				cache[k] = rec.ID
				continue
			}
			if eventual.ErrorKind(err) != eventual.KindNotFound {
				return nil, err
			}
			var v eventual.Values
			if i < len(d.values) {
				v = d.values[i]
			}
			p, err := x.in.placeholderRecord(ctx, tx, r, v, nil)
			if err != nil {
				return nil, err
			}
			// A concurrent writer that made it first fails this insert
			// with a conflict; the store runs the transaction again.
			if err := tx.Insert(ctx, p); err != nil {
				return nil, conflictError(err, r.Table, p.ID)
			}
			x.in.placeholderMade(ctx, p)
			cache[k] = p.ID
		}
	}
	return cache, nil
}

// ensureDeferred makes the deferred placeholders whose records are
// missing, in a transaction of their own.
func (x *execution) ensureDeferred(ctx context.Context) error {
	var refs []eventual.EntityReference
	var values []eventual.Values
	for _, d := range x.deferred {
		refs, values = append(refs, d.refs...), append(values, d.values...)
	}
	x.deferred = nil
	return x.in.transact(ctx, func(ctx context.Context, tx eventual.Tx) error {
		_, err := x.in.ensurePlaceholders(ctx, tx, refs, values, nil)
		return err
	})
}

func (s *service) EnsurePlaceholder(ctx context.Context, ref eventual.EntityReference, values eventual.Values) (bool, error) {
	if s.tx != nil {
		return s.in.ensurePlaceholder(ctx, s.tx, ref, values, s.lookups)
	}
	// Outside a transaction (PreValidation), look first with a read: the
	// record usually exists, and a read does not queue behind writers.
	if exists, err := s.in.exists(ctx, []eventual.EntityReference{ref}); err != nil || exists {
		return false, err
	}
	var created bool
	err := s.in.transact(ctx, func(ctx context.Context, tx eventual.Tx) error {
		var err error
		created, err = s.in.ensurePlaceholder(ctx, tx, ref, values, nil)
		return err
	})
	return created, err
}

func (s *service) EnsurePlaceholders(ctx context.Context, refs []eventual.EntityReference, values []eventual.Values) error {
	if s.tx != nil {
		_, err := s.in.ensurePlaceholders(ctx, s.tx, refs, values, s.lookups)
		return err
	}
	if s.deferrable {
		// The write binds these records and no step between here and
		// its transaction can look for them, so checking now would cost
		// a read on every write: the write resolves them itself, making
		// the missing ones (see runWrite).
		s.x.deferred = append(s.x.deferred, deferredPlaceholders{refs: refs, values: values})
		return nil
	}
	if exists, err := s.in.exists(ctx, refs); err != nil || exists {
		return err
	}
	return s.in.transact(ctx, func(ctx context.Context, tx eventual.Tx) error {
		_, err := s.in.ensurePlaceholders(ctx, tx, refs, values, nil)
		return err
	})
}

// exists reports whether the records of all the references exist, in a
// read-only transaction.
func (in *Instance) exists(ctx context.Context, refs []eventual.EntityReference) (bool, error) {
	all := false
	err := in.Store.View(ctx, func(tx eventual.ReadTx) error {
		if len(refs) == 1 {
			_, err := in.find(ctx, tx, refs[0], []*eventual.Column{})
			if eventual.ErrorKind(err) == eventual.KindNotFound {
				return nil
			}
			all = err == nil
			return err
		}
		found, err := in.findMany(ctx, tx, refs, []*eventual.Column{})
		if err != nil {
			return err
		}
		for _, r := range refs {
			if found[refKey(r)] == nil {
				return nil
			}
		}
		all = true
		return nil
	})
	return all, err
}

// ensurePlaceholders creates, in a few statements, the placeholders of the
// references whose records do not exist.
func (in *Instance) ensurePlaceholders(ctx context.Context, tx eventual.Tx, refs []eventual.EntityReference, values []eventual.Values, lookups lookupCache) (int, error) {
	found, err := in.findMany(ctx, tx, refs, []*eventual.Column{})
	if err != nil {
		return 0, err
	}
	byTable := map[*eventual.Table][]*eventual.Record{}
	made := map[string]bool{}
	for i, r := range refs {
		k := refKey(r)
		if found[k] != nil || made[k] {
			continue
		}
		made[k] = true
		var v eventual.Values
		if i < len(values) {
			v = values[i]
		}
		rec, err := in.placeholderRecord(ctx, tx, r, v, lookups)
		if err != nil {
			return 0, err
		}
		byTable[r.Table] = append(byTable[r.Table], rec)
	}
	for t, recs := range byTable {
		if err := tx.InsertMany(ctx, recs); err != nil {
			return 0, conflictError(err, t, uuid.Nil)
		}
		for _, rec := range recs {
			in.placeholderMade(ctx, rec)
		}
	}
	return len(made), nil
}

// ensurePlaceholder creates the record a reference names, marked as a
// placeholder, unless it exists. A concurrent creation of the same record
// is not an error: the record exists, which is all the caller needs.
func (in *Instance) ensurePlaceholder(ctx context.Context, tx eventual.Tx, ref eventual.EntityReference, values eventual.Values, lookups lookupCache) (bool, error) {
	if _, err := in.find(ctx, tx, ref, []*eventual.Column{}); err == nil {
		return false, nil
	} else if eventual.ErrorKind(err) != eventual.KindNotFound {
		return false, err
	}
	rec, err := in.placeholderRecord(ctx, tx, ref, values, lookups)
	if err != nil {
		return false, err
	}
	// If another writer creates the record first, the insert fails with a
	// conflict; stores retry such transactions, and the retry finds it.
	if err := tx.Insert(ctx, rec); err != nil {
		return false, conflictError(err, ref.Table, rec.ID)
	}
	in.placeholderMade(ctx, rec)
	return true, nil
}

// placeholderRecord builds a placeholder for a reference: its key, the
// values given (their lookups resolved through the write's cache), and
// the lifecycle columns.
func (in *Instance) placeholderRecord(ctx context.Context, tx eventual.Tx, ref eventual.EntityReference, values eventual.Values, lookups lookupCache) (*eventual.Record, error) {
	t := ref.Table
	vals := values.Clone()
	if vals == nil {
		vals = eventual.Values{}
	}
	id := ref.ID
	if !ref.ByKey() && id == uuid.Nil {
		return nil, NotFound(ref) // no record has the nil GUID, a placeholder neither
	}
	if ref.ByKey() {
		id = in.newID()
		for i, c := range ref.Key.Columns {
			vals[c.LogicalName] = ref.KeyValues[i]
		}
	}
	e := &eventual.Entity{Table: t, ID: id, Values: vals}
	rec, err := in.buildCreate(ctx, tx, e, lookups)
	if err != nil {
		return nil, fmt.Errorf("placeholder for %s: %w", ref, err)
	}
	rec.Values[eventual.ColumnHydrationState] = eventual.HydrationPlaceholder
	rec.Values[eventual.ColumnPlaceholderOn] = in.now()
	corr := uuid.Nil
	if p := parentOf(ctx); p != nil {
		corr = p.CorrelationID
	} else if c, ok := eventual.CorrelationID(ctx); ok {
		corr = c
	}
	if corr != uuid.Nil {
		rec.Values[eventual.ColumnPlaceholderCorrelation] = corr
	}
	return rec, nil
}

// hydrate runs the Hydrate message of a record that just received its
// real data, inside the transaction that hydrated it.
func (in *Instance) hydrate(ctx context.Context, tx eventual.Tx, pre *eventual.Record, e *eventual.Entity, lookups lookupCache) error {
	if !in.Pipeline.Has(eventual.MessageHydrate, pre.Table.LogicalName) {
		return nil
	}
	x, err := in.newExecution(ctx, eventual.MessageHydrate, pre.Table, e, true)
	if err != nil {
		return err
	}
	x.ec.PrimaryEntityID, x.pre, x.lookups = pre.ID, pre, lookups
	for _, st := range []eventual.Stage{eventual.PreValidation, eventual.PreOperation, eventual.PostOperation} {
		if err := x.runStage(ctx, st, tx); err != nil {
			return err
		}
	}
	return x.queue(ctx, tx)
}
