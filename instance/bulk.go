package instance

import (
	"context"
	"slices"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// This file runs the bulk messages set-wise: one read for the records that
// exist, one for the lookups the records bind, then multi-row inserts and
// updates. The outcome is the one a loop of single operations gives, which
// is the fallback when records of a request depend on each other (one
// binding another, deep inserts, a CreateMultiple naming one id twice).
// UpsertMultiple refuses two targets naming one record, and UpdateMultiple
// applies the first, as bulk-operations.md says.

// CreateMultiple creates records of one table and returns their ids.
func (s *Session) CreateMultiple(ctx context.Context, entities []*eventual.Entity) ([]uuid.UUID, error) {
	ctx = s.bind(ctx)
	targets := make([]eventual.BulkTarget, len(entities))
	for i, e := range entities {
		targets[i] = eventual.BulkTarget{Entity: e}
	}
	return s.bulk(ctx, targets, false, nil)
}

// UpsertMultiple upserts records of one table, each as Upsert would. Two
// targets that name the same record are refused (bulk-operations.md:
// "UpsertMultiple will return an error").
func (s *Session) UpsertMultiple(ctx context.Context, targets []eventual.BulkTarget) error {
	if err := checkUpsertTargets(targets); err != nil {
		return err
	}
	ctx = s.bind(ctx)
	_, err := s.bulk(ctx, targets, true, nil)
	return err
}

// UpdateMultiple updates records of one table, each as Update would (the
// record must exist). Of targets that name the same record only the first
// is applied (bulk-operations.md: "Any subsequent records with the same
// key value(s) in the payload are ignored").
func (s *Session) UpdateMultiple(ctx context.Context, targets []eventual.BulkTarget) error {
	ctx = s.bind(ctx)
	seen := map[string]bool{}
	for i, tg := range targets {
		if tg.HasTarget {
			if id := refKey(tg.Target); seen[id] {
				continue
			} else {
				seen[id] = true
			}
		}
		if !tg.HasTarget {
			return eventual.Errorf(eventual.KindInvalid, eventual.CodeBadRequest, "Target %d of UpdateMultiple names no record.", i)
		}
		if _, err := s.Update(ctx, tg.Target, tg.Entity.Values, eventual.Condition{IfMatch: "*"}); err != nil {
			return err
		}
	}
	return nil
}

// DeleteMultiple deletes records of one table, each as Delete would.
func (s *Session) DeleteMultiple(ctx context.Context, targets []eventual.EntityReference) error {
	ctx = s.bind(ctx)
	for _, ref := range targets {
		if err := s.Delete(ctx, ref, eventual.Condition{}); err != nil {
			return err
		}
	}
	return nil
}

// CreateMultiple creates records of one table in one transaction (see
// Session.CreateMultiple).
func (in *Instance) CreateMultiple(ctx context.Context, entities []*eventual.Entity) (ids []uuid.UUID, err error) {
	targets := make([]eventual.BulkTarget, len(entities))
	for i, e := range entities {
		targets[i] = eventual.BulkTarget{Entity: e}
	}
	prebuilt := in.prebuildCreates(ctx, targets, false)
	err = in.atomic(ctx, func(s *Session) error {
		ids, err = s.bulk(s.bind(ctx), targets, false, prebuilt)
		return err
	})
	return ids, err
}

// UpdateMultiple updates records of one table in one transaction.
func (in *Instance) UpdateMultiple(ctx context.Context, targets []eventual.BulkTarget) error {
	return in.atomic(ctx, func(s *Session) error { return s.UpdateMultiple(ctx, targets) })
}

// UpsertMultiple upserts records of one table in one transaction (see
// Session.UpsertMultiple).
func (in *Instance) UpsertMultiple(ctx context.Context, targets []eventual.BulkTarget) error {
	if err := checkUpsertTargets(targets); err != nil {
		return err
	}
	prebuilt := in.prebuildCreates(ctx, targets, true)
	return in.atomic(ctx, func(s *Session) error {
		_, err := s.bulk(s.bind(ctx), targets, true, prebuilt)
		return err
	})
}

// prebuildCreates builds, before the write is queued, the record each
// target would create, so that the store's single writer only inserts it
// (building a record costs about a fifth of the writer's time per row of a
// bulk write). A target gets none (nil) when its record needs the
// transaction to be built: bulk steps may change the entities, and lookups
// and currencies are read. A target that fails to build also gets none: it
// may name a record that exists, which the transaction finds and updates,
// or it is built again there and fails with the same error in its place.
// Whether a target creates at all is only known in the transaction.
func (in *Instance) prebuildCreates(ctx context.Context, targets []eventual.BulkTarget, upsert bool) []*eventual.Record {
	if len(targets) == 0 {
		return nil
	}
	t := targets[0].Entity.Table
	if steps, ok := in.bulkSteps(t, upsert); !ok || len(steps) > 0 || isJobTable(t) {
		return nil
	}
	out := make([]*eventual.Record, len(targets))
	for i, tg := range targets {
		if tg.Entity.Table != t || len(tg.Entity.Related) > 0 {
			continue
		}
		e := bulkCreateEntity(t, tg)
		if !readsNothing(t, e.Values) {
			continue
		}
		if rec, err := in.buildCreate(ctx, nil, e, nil); err == nil {
			out[i] = rec
		}
	}
	return out
}

// DeleteMultiple deletes records of one table in one transaction.
func (in *Instance) DeleteMultiple(ctx context.Context, targets []eventual.EntityReference) error {
	return in.atomic(ctx, func(s *Session) error { return s.DeleteMultiple(ctx, targets) })
}

// checkUpsertTargets refuses a target by the nil GUID (as Upsert does), and
// targets of which two name the same record by
// primary key or by the same alternate key (compared as the store compares
// keys, without case).
func checkUpsertTargets(targets []eventual.BulkTarget) error {
	seen := make(map[string]int, len(targets))
	for i, tg := range targets {
		var ids []string
		if tg.HasTarget && !tg.Target.ByKey() && tg.Target.ID == uuid.Nil && tg.Target.Table != nil {
			_, err := tg.Target.Table.PrimaryKeyValue(uuid.Nil) // as a single upsert
			return err
		}
		if tg.HasTarget {
			ids = append(ids, refKey(tg.Target))
		}
		if e := tg.Entity; e != nil && e.ID != uuid.Nil {
			ids = append(ids, refKey(eventual.Ref(e.Table, e.ID)))
		}
		for _, id := range slices.Compact(ids) {
			if j, ok := seen[id]; ok && j != i {
				return eventual.Errorf(eventual.KindInvalid, eventual.CodeBadRequest,
					"Targets %d and %d of UpsertMultiple name the same record. Multiple records with the same primary key or alternate key values are not supported with UpsertMultiple.", j, i)
			}
			seen[id] = i
		}
	}
	return nil
}

func refKey(r eventual.EntityReference) string {
	if !r.ByKey() {
		return r.Table.LogicalName + "|" + r.ID.String()
	}
	return r.Table.LogicalName + "|" + r.Key.LogicalName + "|" + r.Key.KeyValueText(r.KeyValues)
}

// findMany returns the records the references name, by refKey, reading
// records by id and single-column keys in a few queries.
func (in *Instance) findMany(ctx context.Context, tx eventual.ReadTx, refs []eventual.EntityReference, cols []*eventual.Column) (map[string]*eventual.Record, error) {
	out := map[string]*eventual.Record{}
	byID := map[*eventual.Table][]any{}
	byKey := map[*eventual.Key][]eventual.EntityReference{}
	for _, r := range refs {
		if r.ByKey() {
			byKey[r.Key] = append(byKey[r.Key], r)
		} else {
			byID[r.Table] = append(byID[r.Table], r.ID)
		}
	}
	for t, ids := range byID {
		recs, err := fetchByIDs(ctx, tx, t, ids, cols, nil)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			out[refKey(r.Reference())] = r
		}
	}
	for k, rs := range byKey {
		if len(k.Columns) > 1 {
			for _, r := range rs {
				rec, err := in.find(ctx, tx, r, cols)
				if err != nil {
					continue // missing: the caller's single-record path reports it
				}
				out[refKey(r)] = rec
			}
			continue
		}
		c := k.Columns[0]
		qcols := cols
		if qcols != nil {
			qcols = append(append([]*eventual.Column{}, cols...), c)
		}
		for start := 0; start < len(rs); start += chunk {
			part := rs[start:min(start+chunk, len(rs))]
			vals := make([]any, len(part))
			for i, r := range part {
				vals[i] = r.KeyValues[0]
			}
			recs, err := tx.Query(ctx, &eventual.Query{Table: k.Table(), Columns: qcols,
				Filter: eventual.In{Field: eventual.Field{Column: c}, Values: vals}})
			if err != nil {
				return nil, err
			}
			for _, rec := range recs {
				out[k.Table().LogicalName+"|"+k.LogicalName+"|"+k.KeyValueText([]any{rec.Values[c.LogicalName]})] = rec
			}
		}
	}
	return out, nil
}

// sequential reports whether the records of a bulk request depend on each
// other, so that only a loop of single operations gives the right result.
func sequential(targets []eventual.BulkTarget) bool {
	seen := map[string]bool{}
	for _, tg := range targets {
		e := tg.Entity
		if len(e.Related) > 0 {
			return true
		}
		for _, v := range e.Values {
			if _, ok := v.(*eventual.Entity); ok {
				return true
			}
		}
		ids := []string{}
		if tg.HasTarget {
			ids = append(ids, refKey(tg.Target))
		}
		if e.ID != uuid.Nil {
			ids = append(ids, refKey(eventual.Ref(e.Table, e.ID)))
		}
		for _, k := range e.Table.Keys {
			vals := make([]any, len(k.Columns))
			complete := true
			for i, c := range k.Columns {
				if vals[i] = e.Values[c.LogicalName]; vals[i] == nil {
					complete = false
				}
			}
			if complete {
				ids = append(ids, refKey(eventual.EntityReference{Table: e.Table, Key: k, KeyValues: vals}))
			}
		}
		slices.Sort(ids)
		for _, id := range slices.Compact(ids) { // one target may name itself twice
			if seen[id] {
				return true
			}
			seen[id] = true
		}
	}
	// A record that binds another record of the request needs that one
	// written first.
	for _, tg := range targets {
		for _, v := range tg.Entity.Values {
			if r, ok := v.(eventual.EntityReference); ok && r.Table != nil && seen[refKey(r)] {
				return true
			}
		}
	}
	return false
}

func (s *Session) bulk(ctx context.Context, targets []eventual.BulkTarget, upsert bool, prebuilt []*eventual.Record) ([]uuid.UUID, error) {
	if len(targets) == 0 {
		return []uuid.UUID{}, nil
	}
	in := s.in
	t := targets[0].Entity.Table
	bulkSteps, ok := in.bulkSteps(t, upsert)
	// System jobs follow the rules of single messages (see checkJobUpdate).
	if !ok || isJobTable(t) || sequential(targets) {
		return s.sequentialBulk(ctx, targets, nil)
	}
	if err := s.runBulkSteps(ctx, t, targets, bulkSteps, upsert); err != nil {
		return nil, err
	}
	cache, err := s.bulkLookups(ctx, targets)
	if err != nil {
		return nil, err
	}
	cols := updateColumns(t)
	if in.Pipeline.Has(eventual.MessageHydrate, t.LogicalName) {
		cols = nil // Hydrate steps get the whole placeholder as pre-image
	}
	var existing map[string]*eventual.Record
	if upsert {
		if existing, err = s.bulkExisting(ctx, targets, cols); err != nil {
			return nil, err
		}
	}
	plan, err := s.planBulk(ctx, t, targets, existing, cols, cache, prebuilt)
	if err != nil {
		return nil, err
	}
	if plan == nil { // two targets name one record
		return s.sequentialBulk(ctx, targets, cache)
	}
	return plan.ids, s.applyBulk(ctx, t, plan, cache)
}

// runBulkSteps runs the bulk steps (BulkPlugin) registered for the
// message once, on every target's entity.
func (s *Session) runBulkSteps(ctx context.Context, t *eventual.Table, targets []eventual.BulkTarget, steps []*eventual.Step, upsert bool) error {
	if len(steps) == 0 {
		return nil
	}
	entities := make([]*eventual.Entity, len(targets))
	for i, tg := range targets {
		entities[i] = tg.Entity
	}
	message := eventual.MessageCreate
	if upsert {
		message = eventual.MessageUpsert
	}
	x, err := s.in.newExecution(ctx, message, t, nil, false)
	if err != nil {
		return err
	}
	for _, st := range steps {
		x.ec.Stage, x.ec.Mode, x.ec.IsInTransaction, x.ec.Step = st.Stage, st.Mode, true, st
		x.ec.Service = &service{in: s.in, tx: s.tx}
		if err := st.Plugin.(eventual.BulkPlugin).ExecuteMany(context.WithValue(ctx, parentKey, x.ec), x.ec, entities); err != nil {
			return pluginError(st, err)
		}
	}
	return nil
}

// bulkLookups resolves, in a few queries, the lookups the records bind.
func (s *Session) bulkLookups(ctx context.Context, targets []eventual.BulkTarget) (lookupCache, error) {
	var lookups []eventual.EntityReference
	for _, tg := range targets {
		for _, v := range tg.Entity.Values {
			if r, ok := v.(eventual.EntityReference); ok && r.Table != nil {
				lookups = append(lookups, r)
			}
		}
	}
	cache := lookupCache{}
	if len(lookups) == 0 {
		return cache, nil
	}
	found, err := s.in.findMany(ctx, s.tx, lookups, []*eventual.Column{})
	if err != nil {
		return nil, err
	}
	for k, rec := range found {
		cache[k] = rec.ID
	}
	return cache, nil
}

// bulkExisting reads the records the targets name that exist, by refKey.
func (s *Session) bulkExisting(ctx context.Context, targets []eventual.BulkTarget, cols []*eventual.Column) (map[string]*eventual.Record, error) {
	var refs []eventual.EntityReference
	for _, tg := range targets {
		if tg.HasTarget {
			refs = append(refs, tg.Target)
		}
	}
	return s.in.findMany(ctx, s.tx, refs, cols)
}

// bulkPlan is what a set-wise bulk write does: the rows to insert and to
// update, the placeholders the updates hydrate, and each target's id.
type bulkPlan struct {
	ids        []uuid.UUID
	inserts    []*eventual.Record
	updates    []*eventual.RowUpdate
	hydrations []hydration
}

// hydration is a placeholder an update hydrates: its state before, and
// the values written.
type hydration struct {
	pre *eventual.Record
	e   *eventual.Entity
}

// planBulk builds every target's insert or update, taking a create from
// prebuilt (see prebuildCreates; nil or nil entries: none) when there is
// one. It returns a nil plan when two targets name one record, which only
// a loop of single operations handles right.
func (s *Session) planBulk(ctx context.Context, t *eventual.Table, targets []eventual.BulkTarget, existing map[string]*eventual.Record, cols []*eventual.Column, cache lookupCache, prebuilt []*eventual.Record) (*bulkPlan, error) {
	in, tx := s.in, s.tx
	plan := &bulkPlan{ids: make([]uuid.UUID, len(targets))}
	updated := map[uuid.UUID]bool{}
	var adoptable map[int]bool
	if eventual.AdoptPlaceholders(ctx) {
		var err error
		if adoptable, err = s.adoptable(ctx, t, targets, existing); err != nil {
			return nil, err
		}
	}
	for i, tg := range targets {
		var rec *eventual.Record
		if tg.HasTarget {
			rec = existing[refKey(tg.Target)]
		}
		if rec != nil && rec.Values[eventual.ColumnHydrationState] == eventual.HydrationPlaceholder {
			// A placeholder about to be hydrated: read it again, locking
			// it, so that concurrent requests hydrate it (and run
			// Hydrate) once.
			var err error
			if rec, err = tx.Get(ctx, t, rec.ID, cols); err != nil {
				return nil, err
			}
			if adoptable != nil && !tg.Target.ByKey() {
				// A placeholder by key of the same record, too.
				if err := in.absorb(ctx, tx, t, rec.ID, tg.Entity.Values, cache); err != nil {
					return nil, err
				}
			}
		}
		if rec == nil && adoptable[i] {
			var err error
			if rec, err = in.adopt(ctx, tx, t, tg.Target.ID, tg.Entity.Values, cols, cache); err != nil {
				return nil, err
			}
		}
		if rec == nil {
			var nr *eventual.Record
			if prebuilt != nil {
				nr = prebuilt[i]
			}
			if nr == nil {
				var err error
				if nr, err = in.buildCreate(ctx, tx, bulkCreateEntity(t, tg), cache); err != nil {
					return nil, err
				}
			}
			plan.inserts = append(plan.inserts, nr)
			plan.ids[i] = nr.ID
			continue
		}
		if updated[rec.ID] {
			return nil, nil
		}
		updated[rec.ID] = true
		values := tg.Entity.Values.Clone()
		if tg.Target.ByKey() {
			for _, c := range tg.Target.Key.Columns {
				delete(values, c.LogicalName)
			}
		}
		delete(values, t.PrimaryIDAttribute)
		vals, hydrated, err := in.buildUpdate(ctx, tx, rec, values, cache)
		if err != nil {
			return nil, err
		}
		plan.updates = append(plan.updates, &eventual.RowUpdate{ID: rec.ID, Values: vals})
		if hydrated {
			plan.hydrations = append(plan.hydrations, hydration{rec, &eventual.Entity{Table: t, ID: rec.ID, Values: vals}})
		}
		plan.ids[i] = rec.ID
	}
	return plan, nil
}

// bulkCreateEntity is the entity a target creates: with the target's id or
// key values when it names a record that does not exist.
func bulkCreateEntity(t *eventual.Table, tg eventual.BulkTarget) *eventual.Entity {
	e := tg.Entity
	if !tg.HasTarget {
		return e
	}
	values := e.Values.Clone()
	ne := &eventual.Entity{Table: t, ID: tg.Target.ID, Values: values}
	if tg.Target.ByKey() {
		for j, c := range tg.Target.Key.Columns {
			if _, ok := values[c.LogicalName]; !ok {
				values[c.LogicalName] = tg.Target.KeyValues[j]
			}
		}
		ne.ID = e.ID
	}
	return ne
}

// applyBulk writes the plan: the inserts and updates set-wise, then the
// hydrations' Hydrate messages.
func (s *Session) applyBulk(ctx context.Context, t *eventual.Table, plan *bulkPlan, cache lookupCache) error {
	if err := s.tx.InsertMany(ctx, plan.inserts); err != nil {
		return conflictError(err, t, uuid.Nil)
	}
	if err := s.tx.UpdateMany(ctx, t, plan.updates); err != nil {
		return conflictError(err, t, uuid.Nil)
	}
	for _, h := range plan.hydrations {
		if err := s.in.hydrate(ctx, s.tx, h.pre, h.e, cache); err != nil {
			return err
		}
	}
	return nil
}

// bulkSteps returns the steps a set-wise bulk write runs (those of
// Create, Update and Upsert, which must all be BulkPlugins before the main
// operation); ok is false when a step needs the records one by one.
func (in *Instance) bulkSteps(t *eventual.Table, upsert bool) ([]*eventual.Step, bool) {
	messages := []string{eventual.MessageCreate}
	if upsert {
		messages = append(messages, eventual.MessageUpdate, eventual.MessageUpsert)
	}
	var out []*eventual.Step
	seen := map[*eventual.Step]bool{}
	for _, stage := range []eventual.Stage{eventual.PreValidation, eventual.PreOperation, eventual.PostOperation} {
		for _, m := range messages {
			for _, mode := range []eventual.Mode{eventual.Synchronous, eventual.Asynchronous} {
				for _, st := range in.Pipeline.Steps(m, t.LogicalName, stage, mode) {
					if _, bulk := st.Plugin.(eventual.BulkPlugin); !bulk || stage == eventual.PostOperation || mode == eventual.Asynchronous {
						return nil, false
					}
					if !seen[st] {
						seen[st] = true
						out = append(out, st)
					}
				}
			}
		}
	}
	return out, true
}

// sequentialBulk runs the targets one by one, as Session.Upsert and
// Session.Create would, with the lookups the bulk write already resolved.
func (s *Session) sequentialBulk(ctx context.Context, targets []eventual.BulkTarget, lookups lookupCache) ([]uuid.UUID, error) {
	ids := make([]uuid.UUID, len(targets))
	for i, tg := range targets {
		var err error
		if tg.HasTarget {
			_, ids[i], err = s.in.upsertMessage(ctx, s.tx, tg.Target, tg.Entity, eventual.Condition{}, false, lookups)
		} else {
			ids[i], err = s.in.createMessage(ctx, s.tx, tg.Entity, false, lookups)
		}
		if err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// updateColumns are the columns of an existing record that an update
// reads: those derived columns are computed from, and the state.
func updateColumns(t *eventual.Table) []*eventual.Column {
	// statecode: a statuscode written alone must belong to it.
	cols := []*eventual.Column{t.Column(eventual.ColumnHydrationState), t.Column("statecode")}
	if c := t.Column("fullname"); c != nil && c.Computed {
		for _, name := range []string{"firstname", "lastname"} {
			if c := t.Column(name); c != nil {
				cols = append(cols, c)
			}
		}
	}
	return cols
}

// adoptable lists the targets of an upsert with adoption that may adopt a
// placeholder: those naming by primary key a record that does not exist,
// whose values of some alternate key another record holds. A one-column
// key is looked up for the whole request in one query, so that creates
// without a match (most of an initial load) cost no query each; a
// composite key's targets are left to adopt's lookups.
func (s *Session) adoptable(ctx context.Context, t *eventual.Table, targets []eventual.BulkTarget, existing map[string]*eventual.Record) (map[int]bool, error) {
	out := map[int]bool{}
	var creates []int
	for i, tg := range targets {
		if tg.HasTarget && !tg.Target.ByKey() && existing[refKey(tg.Target)] == nil {
			creates = append(creates, i)
		}
	}
	for _, k := range t.Keys {
		if len(k.Columns) > 1 {
			for _, i := range creates {
				if _, ok := keyValues(k, targets[i].Entity.Values); ok {
					out[i] = true
				}
			}
			continue
		}
		c := k.Columns[0]
		byText := map[string][]int{}
		var vals []any
		for _, i := range creates {
			kv, ok := keyValues(k, targets[i].Entity.Values)
			if !ok {
				continue
			}
			text := k.KeyValueText(kv)
			if byText[text] == nil {
				vals = append(vals, kv[0])
			}
			byText[text] = append(byText[text], i)
		}
		for start := 0; start < len(vals); start += chunk {
			recs, err := s.tx.Query(ctx, &eventual.Query{Table: t, Columns: []*eventual.Column{t.PrimaryKey(), c},
				Filter: eventual.In{Field: eventual.Field{Column: c}, Values: vals[start:min(start+chunk, len(vals))]}})
			if err != nil {
				return nil, err
			}
			for _, rec := range recs {
				for _, i := range byText[k.KeyValueText([]any{rec.Values[c.LogicalName]})] {
					out[i] = true
				}
			}
		}
	}
	return out, nil
}
