package instance

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/pipeline"
	"github.com/google/uuid"
)

// Instance is a Dataverse-compatible instance over a store.
type Instance struct {
	// Store holds the data.
	Store eventual.Store
	// Schema is the schema the store serves.
	Schema *eventual.Schema
	// Now returns the current time; it defaults to time.Now. Timestamps are
	// kept to the second, as Dataverse keeps them.
	Now func() time.Time
	// NewID returns the primary key of a new record when the caller gives
	// none; it defaults to time-ordered version 7 UUIDs, which keep new
	// rows at the end of the primary key index.
	NewID func() uuid.UUID
	// Pipeline holds the steps that run around messages; nil runs none.
	Pipeline *pipeline.Registry
	// Meta identifies the instance in execution contexts.
	Meta eventual.Meta
	// MaxDepth is the loop guard (DefaultMaxDepth when 0).
	MaxDepth int
	// Logger receives the events of the background loops; it defaults to
	// slog.Default().
	Logger *slog.Logger
	// ChangeRetention is how long deletions are kept for change tracking:
	// the purge loop Start runs forgets older ones. Zero runs no purge
	// loop.
	ChangeRetention time.Duration
	// PurgeInterval is how often the purge loop runs
	// (DefaultPurgeInterval when 0).
	PurgeInterval time.Duration
	// Observer, if set, hears of placeholders made and hydrated and of
	// async jobs run (metrics, logs).
	Observer Observer

	users    sync.Map // uuid.UUID → struct{}: the users EnsureUser recorded
	jobsOnce sync.Once
	jobsWake chan struct{}
	life     lifecycle
}

// New returns an instance over a store, with an empty pipeline.
func New(store eventual.Store, schema *eventual.Schema) *Instance {
	return &Instance{Store: store, Schema: schema, Meta: store.Meta(), Pipeline: pipeline.NewRegistry(schema)}
}

// Time returns the current time by the instance's clock, Now (time.Now
// when Now is nil), in UTC. The layers over the instance read the time
// here, so that one clock rules them all.
func (in *Instance) Time() time.Time {
	if in.Now != nil {
		return in.Now().UTC()
	}
	return time.Now().UTC()
}

// now is the time the instance records: Time, to the second.
func (in *Instance) now() time.Time { return in.Time().Truncate(time.Second) }

func (in *Instance) newID() uuid.UUID {
	if in.NewID != nil {
		return in.NewID()
	}
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.New()
	}
	return id
}

// Create creates a record (and the related records of a deep insert)
// through the pipeline and returns its primary key.
func (in *Instance) Create(ctx context.Context, e *eventual.Entity) (uuid.UUID, error) {
	return in.createMessage(ctx, nil, e, false, nil)
}

// Update updates an existing record through the pipeline. With IfMatch
// set to a version, the record must still have it; with IfNoneMatch "*"
// it fails (412, or 404 without the record) and writes nothing.
func (in *Instance) Update(ctx context.Context, target eventual.EntityReference, values eventual.Values, cond eventual.Condition) (uuid.UUID, error) {
	if cond.IfNoneMatch == "*" {
		// An update needs the record, which If-None-Match: * forbids
		// (RFC 7232 §3.2): 412 when it exists, 404 when it does not,
		// and nothing is written either way.
		if _, err := in.Retrieve(ctx, target, nil, nil, ""); err != nil {
			return uuid.Nil, err
		}
		return uuid.Nil, eventual.Errorf(eventual.KindPrecondition, eventual.CodeDuplicateRecord,
			"A record with matching key values already exists.")
	}
	if cond.IfMatch == "" {
		cond.IfMatch = "*"
	}
	return in.updateMessage(ctx, nil, target, &eventual.Entity{Table: target.Table, Values: values}, cond, false, nil)
}

// Upsert updates the record the target names, or creates it if there is
// none, following Dataverse's rules: the record is found by primary key or
// alternate key; if found, key columns are dropped from the values and the
// record is updated; if not, the key values missing from the values are
// copied into them and the record is created with the target's primary
// key, if it has one. Key values the values do carry win on create, even
// when they differ from the target's (use-upsert-insert-update-record.md,
// "Guidance for composing requests"): repeating such an upsert finds no
// record by the target's key and fails with a duplicate key, which is why
// Dataverse tells clients not to repeat key values in the body. IfMatch
// "*" forbids the create (404), IfNoneMatch "*" forbids the update (412).
// It reports whether it created the record.
// With eventual.WithAdoptPlaceholders, an upsert by primary key that finds
// no record but whose key values match a placeholder adopts it (see
// adopt.go): the placeholder takes the primary key and is updated, so the
// upsert reports no creation.
// The Upsert message runs through the pipeline, and so does the Create or
// Update it becomes.
func (in *Instance) Upsert(ctx context.Context, target eventual.EntityReference, e *eventual.Entity, cond eventual.Condition) (created bool, id uuid.UUID, err error) {
	return in.upsertMessage(ctx, nil, target, e, cond, false, nil)
}

// Delete deletes the record the target names through the pipeline.
// Lookups that referenced it are cleared (Dataverse's "remove link"
// behaviour), so none dangles.
func (in *Instance) Delete(ctx context.Context, target eventual.EntityReference, cond eventual.Condition) error {
	return in.deleteMessage(ctx, nil, target, cond, false, nil)
}

// write runs fn in tx, or in a new transaction when tx is nil.
func (in *Instance) write(ctx context.Context, tx eventual.Tx, fn func(ctx context.Context, tx eventual.Tx) error) error {
	if tx != nil {
		return fn(ctx, tx)
	}
	return in.transact(ctx, fn)
}

// createMessage runs a Create message (top-level when tx is nil). lookups
// are the records the enclosing write already resolved in tx (nil for a
// top-level message); the other message functions take them too.
func (in *Instance) createMessage(ctx context.Context, tx eventual.Tx, e *eventual.Entity, platform bool, lookups lookupCache) (uuid.UUID, error) {
	if isJobTable(e.Table) {
		return uuid.Nil, errCreateJob() // before any step runs
	}
	var id uuid.UUID
	if !in.Pipeline.Has(eventual.MessageCreate, e.Table.LogicalName) {
		if tx == nil && len(e.Related) == 0 && readsNothing(e.Table, e.Values) {
			// Checked and built before the write is queued: the store's
			// writer only inserts it.
			rec, err := in.buildCreate(ctx, nil, e, nil)
			if err != nil {
				return uuid.Nil, err
			}
			err = in.transactStatement(ctx, func(ctx context.Context, tx eventual.Tx) error {
				if err := tx.Insert(ctx, rec); err != nil {
					return conflictError(err, e.Table, rec.ID)
				}
				return nil
			})
			return rec.ID, err
		}
		err := in.write(ctx, tx, func(ctx context.Context, tx eventual.Tx) error {
			var err error
			id, err = in.create(ctx, tx, e, lookups)
			return err
		})
		return id, err
	}
	x, err := in.newExecution(ctx, eventual.MessageCreate, e.Table, e, platform)
	if err != nil {
		return uuid.Nil, err
	}
	err = x.runWrite(ctx, tx, lookups, func(ctx context.Context, tx eventual.Tx, lookups lookupCache) error {
		var err error
		id, err = in.create(ctx, tx, e, lookups)
		if err != nil {
			return err
		}
		// PostOperation steps see the Target with its new id, as in
		// Dataverse (a retry of the transaction keeps it).
		e.ID = id
		x.ec.PrimaryEntityID = id
		x.ec.OutputParameters["id"] = id
		return nil
	})
	return id, err
}

// updateMessage runs an Update message on an existing record.
func (in *Instance) updateMessage(ctx context.Context, tx eventual.Tx, target eventual.EntityReference, e *eventual.Entity, cond eventual.Condition, platform bool, lookups lookupCache) (uuid.UUID, error) {
	var id uuid.UUID
	main := func(ctx context.Context, tx eventual.Tx, x *execution, lookups lookupCache) error {
		existing, err := in.find(ctx, tx, target, nil)
		if err != nil {
			return err
		}
		if err := checkVersion(existing, cond); err != nil {
			return err
		}
		values := e.Values.Clone()
		delete(values, target.Table.PrimaryIDAttribute)
		if isJobTable(target.Table) {
			if err := checkJobUpdate(existing, values); err != nil {
				return err
			}
		}
		id = existing.ID
		if x != nil {
			x.pre = existing
			x.ec.PrimaryEntityID = id
			e.ID = id // the Target names its record, as in Dataverse
		}
		return in.update(ctx, tx, existing, values, e.Related, lookups)
	}
	if !in.Pipeline.Has(eventual.MessageUpdate, target.Table.LogicalName) {
		err := in.write(ctx, tx, func(ctx context.Context, tx eventual.Tx) error { return main(ctx, tx, nil, lookups) })
		return id, err
	}
	x, err := in.newExecution(ctx, eventual.MessageUpdate, target.Table, e, platform)
	if err != nil {
		return uuid.Nil, err
	}
	x.ref = target
	if !target.ByKey() {
		x.ec.PrimaryEntityID = target.ID
		e.ID = target.ID
	}
	err = x.runWrite(ctx, tx, lookups, func(ctx context.Context, tx eventual.Tx, lookups lookupCache) error { return main(ctx, tx, x, lookups) })
	return id, err
}

// upsertMessage runs an Upsert message, which becomes a Create or an
// Update message inside it.
func (in *Instance) upsertMessage(ctx context.Context, tx eventual.Tx, target eventual.EntityReference, e *eventual.Entity, cond eventual.Condition, platform bool, lookups lookupCache) (bool, uuid.UUID, error) {
	if !target.ByKey() && target.ID == uuid.Nil && target.Table != nil {
		// The nil GUID names no record: an upsert of it would create a
		// new record, with a new id, every time it is repeated.
		_, err := target.Table.PrimaryKeyValue(target.ID)
		return false, uuid.Nil, err
	}
	var created bool
	var id uuid.UUID
	main := func(ctx context.Context, tx eventual.Tx, x *execution, lookups lookupCache) error {
		if x != nil {
			if err := x.loadPreAll(ctx, tx); err != nil {
				return err
			}
		}
		var err error
		created, id, err = in.upsert(ctx, tx, target, e, cond, lookups)
		if x != nil {
			x.ec.PrimaryEntityID = id
			x.ec.OutputParameters["RecordCreated"] = created
			x.ec.OutputParameters["Target"] = eventual.Ref(target.Table, id)
		}
		return err
	}
	if !in.Pipeline.Has(eventual.MessageUpsert, target.Table.LogicalName) {
		if tx == nil && in.canPut(ctx, target, e, cond) {
			// The short way, its record built before the write is queued:
			// the store's writer only runs the statement.
			if p := in.buildPut(ctx, nil, target, e, nil); p != nil {
				if _, ok := in.statementStore(); ok {
					return in.putAlone(ctx, p, target, e, cond)
				}
				err := in.transact(ctx, func(ctx context.Context, tx eventual.Tx) error {
					done, c, pid, err := in.runPut(ctx, tx, p)
					if !done {
						c, pid, err = in.upsertLong(ctx, tx, target, e, cond, nil)
					}
					created, id = c, pid
					return err
				})
				return created, id, err
			}
		}
		err := in.write(ctx, tx, func(ctx context.Context, tx eventual.Tx) error { return main(ctx, tx, nil, lookups) })
		return created, id, err
	}
	x, err := in.newExecution(ctx, eventual.MessageUpsert, target.Table, e, platform)
	if err != nil {
		return false, uuid.Nil, err
	}
	x.ref = target
	err = x.runWrite(ctx, tx, lookups, func(ctx context.Context, tx eventual.Tx, lookups lookupCache) error { return main(ctx, tx, x, lookups) })
	return created, id, err
}

// putAlone runs the short way of an upsert on a store that runs a single
// statement as its own transaction: the Put alone, then, if it left a
// placeholder alone (writing nothing), the long way in a transaction of
// its own, which hydrates it.
func (in *Instance) putAlone(ctx context.Context, p *eventual.Put, target eventual.EntityReference, e *eventual.Entity, cond eventual.Condition) (created bool, id uuid.UUID, err error) {
	var done bool
	err = in.transactStatement(ctx, func(ctx context.Context, tx eventual.Tx) error {
		var err error
		done, created, id, err = in.runPut(ctx, tx, p)
		return err
	})
	if err != nil || done {
		return created, id, err
	}
	err = in.transact(ctx, func(ctx context.Context, tx eventual.Tx) error {
		var err error
		created, id, err = in.upsertLong(ctx, tx, target, e, cond, nil)
		return err
	})
	return created, id, err
}

// deleteMessage runs a Delete message.
func (in *Instance) deleteMessage(ctx context.Context, tx eventual.Tx, target eventual.EntityReference, cond eventual.Condition, platform bool, lookups lookupCache) error {
	if target.Table.LogicalName == eventual.UserTable {
		return errDeleteUser() // before any step runs
	}
	main := func(ctx context.Context, tx eventual.Tx, x *execution) error {
		return in.delete(ctx, tx, target, cond, x)
	}
	if !in.Pipeline.Has(eventual.MessageDelete, target.Table.LogicalName) {
		return in.write(ctx, tx, func(ctx context.Context, tx eventual.Tx) error { return main(ctx, tx, nil) })
	}
	x, err := in.newExecution(ctx, eventual.MessageDelete, target.Table, target, platform)
	if err != nil {
		return err
	}
	x.ref = target
	// A Delete resolves no lookups; its steps' messages may.
	return x.runWrite(ctx, tx, lookups, func(ctx context.Context, tx eventual.Tx, _ lookupCache) error { return main(ctx, tx, x) })
}

// Retrieve returns the record the target names, with the columns asked
// for (nil for all) and the expansions. With ifNoneMatch set to the
// record's current version it returns an error of KindNotModified.
func (in *Instance) Retrieve(ctx context.Context, target eventual.EntityReference, columns []*eventual.Column, expand []eventual.Expand, ifNoneMatch string) (*eventual.Record, error) {
	var rec *eventual.Record
	view := in.Store.View
	if len(expand) == 0 {
		view = in.viewStatement // one read by id or key
	}
	read := func() error {
		return view(ctx, func(tx eventual.ReadTx) error {
			var err error
			rec, err = in.retrieve(ctx, tx, target, columns, expand, ifNoneMatch)
			return err
		})
	}
	if !in.Pipeline.Has(eventual.MessageRetrieve, target.Table.LogicalName) {
		return rec, read()
	}
	x, err := in.newExecution(ctx, eventual.MessageRetrieve, target.Table, target, false)
	if err != nil {
		return nil, err
	}
	x.ec.InputParameters["ColumnSet"] = columns
	err = x.runRead(ctx, func() (any, error) {
		err := read()
		if rec != nil {
			x.ec.PrimaryEntityID = rec.ID
		}
		return rec, err
	}, "BusinessEntity")
	return rec, err
}

func (in *Instance) retrieve(ctx context.Context, tx eventual.ReadTx, target eventual.EntityReference, columns []*eventual.Column, expand []eventual.Expand, ifNoneMatch string) (*eventual.Record, error) {
	rec, err := in.find(ctx, tx, target, withLookups(target.Table, columns, expand))
	if err != nil {
		return nil, err
	}
	if ifNoneMatch != "" && ifNoneMatch == strconv.FormatInt(rec.Version, 10) {
		return nil, eventual.Errorf(eventual.KindNotModified, eventual.CodeNone, "Not Modified")
	}
	if err := in.expand(ctx, tx, []*eventual.Record{rec}, expand); err != nil {
		return nil, err
	}
	return rec, nil
}

// RetrieveMultiple runs a query. q.Limit is the page size; the page
// reports whether more records follow. With count set it also counts the
// records the filter selects (up to MaxCount).
func (in *Instance) RetrieveMultiple(ctx context.Context, q *eventual.Query, expand []eventual.Expand, count bool) (*eventual.Page, error) {
	var page *eventual.Page
	view := in.Store.View
	if len(expand) == 0 && !count {
		view = in.viewStatement // one query
	}
	read := func() error {
		return view(ctx, func(tx eventual.ReadTx) error {
			var err error
			page, err = in.retrieveMultiple(ctx, tx, q, expand, count)
			return err
		})
	}
	if !in.Pipeline.Has(eventual.MessageRetrieveMultiple, q.Table.LogicalName) {
		return page, read()
	}
	x, err := in.newExecution(ctx, eventual.MessageRetrieveMultiple, q.Table, nil, false)
	if err != nil {
		return nil, err
	}
	x.ec.InputParameters = map[string]any{"Query": q}
	err = x.runRead(ctx, func() (any, error) {
		err := read()
		if page == nil {
			return nil, err
		}
		return page.Records, err
	}, "BusinessEntityCollection")
	return page, err
}

func (in *Instance) retrieveMultiple(ctx context.Context, tx eventual.ReadTx, q *eventual.Query, expand []eventual.Expand, count bool) (*eventual.Page, error) {
	page := &eventual.Page{Count: -1}
	cq := *q
	cq.Columns = withLookups(q.Table, q.Columns, expand)
	if q.Limit > 0 {
		cq.Limit = q.Limit + 1
	}
	recs, err := tx.Query(ctx, &cq)
	if err != nil {
		return nil, err
	}
	if q.Limit > 0 && len(recs) > q.Limit {
		recs, page.More = recs[:q.Limit], true
	}
	page.Records = recs
	if count {
		n, err := tx.Count(ctx, q.Table, q.Filter, eventual.MaxCount)
		if err != nil {
			return nil, err
		}
		page.Count, page.CountLimitExceeded = min(n, eventual.MaxCount), n > eventual.MaxCount
	}
	if err := in.expand(ctx, tx, recs, expand); err != nil {
		return nil, err
	}
	return page, nil
}

// Count returns the number of records the filter selects, at most
// MaxCount.
func (in *Instance) Count(ctx context.Context, t *eventual.Table, filter eventual.Expr) (int64, error) {
	var n int64
	err := in.Store.View(ctx, func(tx eventual.ReadTx) error {
		var err error
		n, err = count(ctx, tx, t, filter)
		return err
	})
	return n, err
}

// Aggregate runs a grouped query ($apply, FetchXML aggregate="true").
// Like Dataverse it refuses to aggregate more than
// eventual.MaxAggregateRecords records.
func (in *Instance) Aggregate(ctx context.Context, a *eventual.Aggregate) ([]eventual.AggregateRow, error) {
	var rows []eventual.AggregateRow
	err := in.Store.View(ctx, func(tx eventual.ReadTx) error {
		var err error
		rows, err = aggregate(ctx, tx, a)
		return err
	})
	return rows, err
}

func aggregate(ctx context.Context, tx eventual.ReadTx, a *eventual.Aggregate) ([]eventual.AggregateRow, error) {
	limit := eventual.MaxAggregateRecords
	if a.RecordLimit > 0 {
		limit = min(limit, a.RecordLimit)
	}
	n, err := tx.Count(ctx, a.Table, a.Filter, limit)
	if err != nil {
		return nil, err
	}
	if n > int64(limit) {
		if limit == eventual.MaxAggregateRecords {
			return nil, eventual.ErrAggregateLimit
		}
		return nil, eventual.Errorf(eventual.KindInvalid, eventual.CodeAggregateLimit, "AggregateQueryRecordLimit exceeded. Cannot perform this operation: more than the aggregatelimit of %d records.", limit)
	}
	return tx.Aggregate(ctx, a)
}

func count(ctx context.Context, tx eventual.ReadTx, t *eventual.Table, filter eventual.Expr) (int64, error) {
	n, err := tx.Count(ctx, t, filter, eventual.MaxCount)
	return min(n, eventual.MaxCount), err
}

// PrimaryNames returns the primary name of each referenced record that
// exists, by ID. It serves formatted values of lookups.
func (in *Instance) PrimaryNames(ctx context.Context, refs []eventual.EntityReference) (map[uuid.UUID]string, error) {
	var out map[uuid.UUID]string
	err := in.Store.View(ctx, func(tx eventual.ReadTx) error {
		var err error
		out, err = in.primaryNames(ctx, tx, refs)
		return err
	})
	return out, err
}

func (in *Instance) primaryNames(ctx context.Context, tx eventual.ReadTx, refs []eventual.EntityReference) (map[uuid.UUID]string, error) {
	byTable := map[*eventual.Table][]any{}
	for _, r := range refs {
		if r.Table != nil && r.Table.PrimaryName() != nil {
			byTable[r.Table] = append(byTable[r.Table], r.ID)
		}
	}
	out := map[uuid.UUID]string{}
	for t, ids := range byTable {
		recs, err := fetchByIDs(ctx, tx, t, ids, []*eventual.Column{t.PrimaryName()}, nil)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if s, ok := r.Values[t.PrimaryNameAttribute].(string); ok {
				out[r.ID] = s
			}
		}
	}
	return out, nil
}

// find returns the record a reference names.
func (in *Instance) find(ctx context.Context, tx eventual.ReadTx, ref eventual.EntityReference, cols []*eventual.Column) (*eventual.Record, error) {
	var rec *eventual.Record
	var err error
	if ref.ByKey() {
		rec, err = tx.GetByKey(ctx, ref.Key, ref.KeyValues, cols)
	} else {
		rec, err = tx.Get(ctx, ref.Table, ref.ID, cols)
	}
	if errors.Is(err, eventual.ErrNotFound) {
		return nil, NotFound(ref)
	}
	return rec, err
}

// NotFound returns the error Dataverse gives for a missing record: by
// primary key 0x80040217, by alternate key 0x80060891.
func NotFound(ref eventual.EntityReference) error {
	if ref.ByKey() {
		return eventual.Errorf(eventual.KindNotFound, eventual.CodeRecordNotFoundByKey,
			"A record with the specified key values does not exist in %s entity", ref.Table.LogicalName)
	}
	return eventual.Errorf(eventual.KindNotFound, eventual.CodeObjectDoesNotExist,
		"%s With Id = %s Does Not Exist", ref.Table.LogicalName, ref.ID)
}

func checkVersion(rec *eventual.Record, cond eventual.Condition) error {
	if cond.IfMatch != "" && cond.IfMatch != "*" && cond.IfMatch != strconv.FormatInt(rec.Version, 10) {
		return eventual.Errorf(eventual.KindPrecondition, eventual.CodeConcurrencyVersionMismatch,
			"The version of the existing record doesn't match the RowVersion property provided.")
	}
	return nil
}

func (in *Instance) upsert(ctx context.Context, tx eventual.Tx, target eventual.EntityReference, e *eventual.Entity, cond eventual.Condition, lookups lookupCache) (bool, uuid.UUID, error) {
	if in.canPut(ctx, target, e, cond) {
		if p := in.buildPut(ctx, tx, target, e, lookups); p != nil {
			if done, created, id, err := in.runPut(ctx, tx, p); done {
				return created, id, err
			}
		}
	}
	return in.upsertLong(ctx, tx, target, e, cond, lookups)
}

// upsertLong is the long way of an upsert: the record is read by its
// reference, then created or updated through those messages.
func (in *Instance) upsertLong(ctx context.Context, tx eventual.Tx, target eventual.EntityReference, e *eventual.Entity, cond eventual.Condition, lookups lookupCache) (bool, uuid.UUID, error) {
	existing, err := in.find(ctx, tx, target, nil)
	var nf *eventual.Error
	if err != nil && !(errors.As(err, &nf) && nf.Kind == eventual.KindNotFound) {
		return false, uuid.Nil, err
	}
	values := e.Values.Clone()
	adopted := false
	if existing == nil && !target.ByKey() && cond.IfMatch == "" && eventual.AdoptPlaceholders(ctx) {
		if existing, err = in.adopt(ctx, tx, target.Table, target.ID, values, []*eventual.Column{}, lookups); err != nil {
			return false, uuid.Nil, err
		}
		adopted = existing != nil
	}
	if existing != nil && !adopted && !target.ByKey() && cond.IfNoneMatch == "" && eventual.AdoptPlaceholders(ctx) {
		if err := in.absorb(ctx, tx, target.Table, existing.ID, values, lookups); err != nil {
			return false, uuid.Nil, err
		}
	}
	if existing != nil {
		if cond.IfNoneMatch == "*" && !adopted {
			return false, uuid.Nil, eventual.Errorf(eventual.KindPrecondition, eventual.CodeDuplicateRecord,
				"A record with matching key values already exists.")
		}
		if err := checkVersion(existing, cond); err != nil {
			return false, uuid.Nil, err
		}
		if target.ByKey() {
			// Key columns come from the URL; the body cannot change them.
			for _, c := range target.Key.Columns {
				delete(values, c.LogicalName)
			}
		}
		if pk := target.Table.PrimaryIDAttribute; values[pk] != nil {
			delete(values, pk)
		}
		id, err := in.updateMessage(ctx, tx, existing.Reference(), &eventual.Entity{Table: target.Table, Values: values, Related: e.Related}, eventual.Condition{}, true, lookups)
		if err != nil {
			return false, uuid.Nil, err
		}
		return false, id, nil
	}
	if cond.IfMatch != "" {
		return false, uuid.Nil, err // the not-found error
	}
	ne := &eventual.Entity{Table: target.Table, ID: target.ID, Values: values, Related: e.Related}
	if target.ByKey() {
		for i, c := range target.Key.Columns {
			if _, ok := values[c.LogicalName]; !ok {
				values[c.LogicalName] = target.KeyValues[i]
			}
		}
		ne.ID = e.ID
	}
	id, err := in.createMessage(ctx, tx, ne, true, lookups)
	return true, id, err
}

func (in *Instance) delete(ctx context.Context, tx eventual.Tx, target eventual.EntityReference, cond eventual.Condition, x *execution) error {
	cols := []*eventual.Column{}
	if x != nil {
		cols = nil // pre-images see the whole record
	}
	rec, err := in.find(ctx, tx, target, cols)
	if err != nil {
		return err
	}
	if x != nil {
		x.pre = rec
		x.ec.PrimaryEntityID = rec.ID
	}
	if err := checkVersion(rec, cond); err != nil {
		return err
	}
	now := in.now()
	for _, r := range target.Table.OneToMany() {
		if _, err := tx.Unlink(ctx, r, rec.ID, now); err != nil {
			return err
		}
	}
	return tx.Delete(ctx, target.Table, rec.ID)
}

// withLookups adds to the columns the lookups that single-valued
// expansions follow. nil (all columns) stays nil.
func withLookups(t *eventual.Table, cols []*eventual.Column, expand []eventual.Expand) []*eventual.Column {
	if cols == nil {
		return nil
	}
	out := append([]*eventual.Column{}, cols...)
	for _, x := range expand {
		if x.Collection {
			continue
		}
		c := x.Relationship.Lookup
		found := false
		for _, have := range out {
			if have == c {
				found = true
				break
			}
		}
		if !found {
			out = append(out, c)
		}
	}
	return out
}

// chunk bounds IN lists.
const chunk = 500

func fetchByIDs(ctx context.Context, tx eventual.ReadTx, t *eventual.Table, ids []any, cols []*eventual.Column, filter eventual.Expr) ([]*eventual.Record, error) {
	var out []*eventual.Record
	for len(ids) > 0 {
		n := min(len(ids), chunk)
		var f eventual.Expr = eventual.In{Field: eventual.Field{Column: t.PrimaryKey()}, Values: ids[:n]}
		if filter != nil {
			f = eventual.And{Left: f, Right: filter}
		}
		recs, err := tx.Query(ctx, &eventual.Query{Table: t, Columns: cols, Filter: f})
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
		ids = ids[n:]
	}
	return out, nil
}

// MaxExpandRecords bounds the records of one collection-valued expansion
// per parent record, as Dataverse returns at most 5000.
const MaxExpandRecords = 5000

// expand attaches related records to recs.
func (in *Instance) expand(ctx context.Context, tx eventual.ReadTx, recs []*eventual.Record, exps []eventual.Expand) error {
	if len(recs) == 0 {
		return nil
	}
	for _, x := range exps {
		r := x.Relationship
		for _, rec := range recs {
			if rec.Related == nil {
				rec.Related = map[string][]*eventual.Record{}
			}
			rec.Related[x.Navigation] = nil
		}
		if !x.Collection {
			target := r.ReferencedTable
			var ids []any
			seen := map[uuid.UUID]bool{}
			for _, rec := range recs {
				if ref, ok := rec.Values[r.Lookup.LogicalName].(eventual.EntityReference); ok && ref.Table == target && !seen[ref.ID] {
					seen[ref.ID] = true
					ids = append(ids, ref.ID)
				}
			}
			related, err := fetchByIDs(ctx, tx, target, ids, withLookups(target, x.Columns, x.Expand), x.Filter)
			if err != nil {
				return err
			}
			byID := map[uuid.UUID]*eventual.Record{}
			for _, rr := range related {
				byID[rr.ID] = rr
			}
			for _, rec := range recs {
				if ref, ok := rec.Values[r.Lookup.LogicalName].(eventual.EntityReference); ok && ref.Table == target {
					if rr := byID[ref.ID]; rr != nil {
						rec.Related[x.Navigation] = []*eventual.Record{rr}
					}
				}
			}
			if err := in.expand(ctx, tx, related, x.Expand); err != nil {
				return err
			}
			continue
		}
		child := r.ReferencingTable
		cols := x.Columns
		if cols != nil {
			cols = append(append([]*eventual.Column{}, cols...), r.Lookup)
		}
		cols = withLookups(child, cols, x.Expand)
		limit := MaxExpandRecords
		if x.Top > 0 {
			limit = min(x.Top, MaxExpandRecords)
		}
		if x.Top < 0 { // $top=0
			continue
		}
		var all []*eventual.Record
		for _, rec := range recs {
			var f eventual.Expr = eventual.Compare{Op: eventual.OpEq, Left: eventual.Field{Column: r.Lookup}, Right: eventual.Literal{Value: eventual.Ref(r.ReferencedTable, rec.ID)}}
			if x.Filter != nil {
				f = eventual.And{Left: f, Right: x.Filter}
			}
			children, err := tx.Query(ctx, &eventual.Query{Table: child, Columns: cols, Filter: f, OrderBy: x.OrderBy, Limit: limit})
			if err != nil {
				return err
			}
			rec.Related[x.Navigation] = children
			all = append(all, children...)
		}
		if err := in.expand(ctx, tx, all, x.Expand); err != nil {
			return err
		}
	}
	return nil
}
