// Package instance applies Dataverse's message semantics on top of a
// store: Create, Update, Upsert, Delete, Retrieve and RetrieveMultiple,
// with alternate keys, lookup binding, deep insert, optimistic concurrency
// and related-record expansion. The Web API, the sync engine and programs
// that embed eventual all write through an Instance, so every entry point
// follows the same rules.
package instance

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/eventual-pp/eventual"
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
}

// New returns an instance over a store.
func New(store eventual.Store, schema *eventual.Schema) *Instance {
	return &Instance{Store: store, Schema: schema}
}

func (in *Instance) now() time.Time {
	if in.Now != nil {
		return in.Now().UTC().Truncate(time.Second)
	}
	return time.Now().UTC().Truncate(time.Second)
}

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

// Condition holds the optimistic-concurrency conditions of a write.
type Condition struct {
	// IfMatch is "" (none), "*" (the record must exist) or a row version
	// the record must still have.
	IfMatch string
	// IfNoneMatch is "" (none) or "*" (the record must not exist).
	IfNoneMatch string
}

// ParseETag returns the row version in a weak ETag (W/"123"), or "*".
// It reports false for anything else.
func ParseETag(tag string) (string, bool) {
	tag = strings.TrimSpace(tag)
	if tag == "*" {
		return tag, true
	}
	tag = strings.TrimPrefix(tag, "W/")
	if len(tag) < 2 || tag[0] != '"' || tag[len(tag)-1] != '"' {
		return "", false
	}
	v := tag[1 : len(tag)-1]
	if _, err := strconv.ParseInt(v, 10, 64); err != nil {
		return "", false
	}
	return v, true
}

// ETag returns the weak ETag of a row version.
func ETag(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }

// Create creates a record (and the related records of a deep insert) and
// returns its primary key.
func (in *Instance) Create(ctx context.Context, e *eventual.Entity) (uuid.UUID, error) {
	var id uuid.UUID
	err := in.Atomic(ctx, func(s *Session) error {
		var err error
		id, err = s.Create(ctx, e)
		return err
	})
	return id, err
}

// Update updates an existing record. With IfMatch set to a version, the
// record must still have it.
func (in *Instance) Update(ctx context.Context, target eventual.EntityReference, values eventual.Values, cond Condition) (uuid.UUID, error) {
	var id uuid.UUID
	err := in.Atomic(ctx, func(s *Session) error {
		var err error
		id, err = s.Update(ctx, target, values, cond)
		return err
	})
	return id, err
}

// Upsert updates the record the target names, or creates it if there is
// none, following Dataverse's rules: the record is found by primary key or
// alternate key; if found, key columns are dropped from the values and the
// record is updated; if not, the key values missing from the values are
// copied into them and the record is created with the target's primary
// key, if it has one. IfMatch "*" forbids the create (404), IfNoneMatch
// "*" forbids the update (412). It reports whether it created the record.
func (in *Instance) Upsert(ctx context.Context, target eventual.EntityReference, e *eventual.Entity, cond Condition) (created bool, id uuid.UUID, err error) {
	err = in.Atomic(ctx, func(s *Session) error {
		var err error
		created, id, err = s.Upsert(ctx, target, e, cond)
		return err
	})
	return created, id, err
}

// Delete deletes the record the target names. Lookups that referenced it
// are cleared (Dataverse's "remove link" behaviour), so none dangles.
func (in *Instance) Delete(ctx context.Context, target eventual.EntityReference, cond Condition) error {
	return in.Atomic(ctx, func(s *Session) error { return s.Delete(ctx, target, cond) })
}

// Retrieve returns the record the target names, with the columns asked
// for (nil for all) and the expansions. With ifNoneMatch set to the
// record's current version it returns an error of KindNotModified.
func (in *Instance) Retrieve(ctx context.Context, target eventual.EntityReference, columns []*eventual.Column, expand []eventual.Expand, ifNoneMatch string) (*eventual.Record, error) {
	var rec *eventual.Record
	err := in.Store.View(ctx, func(tx eventual.ReadTx) error {
		var err error
		rec, err = in.retrieve(ctx, tx, target, columns, expand, ifNoneMatch)
		return err
	})
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

// MaxCount is the largest count Dataverse reports for $count.
const MaxCount = 5000

// Page is a page of records.
type Page struct {
	// Records are the records of the page.
	Records []*eventual.Record
	// More reports whether records follow the page.
	More bool
	// Count is the number of records the query selects, at most MaxCount,
	// when the caller asked for it; -1 otherwise.
	Count int64
	// CountLimitExceeded reports that more than MaxCount records match.
	CountLimitExceeded bool
}

// RetrieveMultiple runs a query. q.Limit is the page size; the page
// reports whether more records follow. With count set it also counts the
// records the filter selects (up to MaxCount).
func (in *Instance) RetrieveMultiple(ctx context.Context, q *eventual.Query, expand []eventual.Expand, count bool) (*Page, error) {
	var page *Page
	err := in.Store.View(ctx, func(tx eventual.ReadTx) error {
		var err error
		page, err = in.retrieveMultiple(ctx, tx, q, expand, count)
		return err
	})
	return page, err
}

func (in *Instance) retrieveMultiple(ctx context.Context, tx eventual.ReadTx, q *eventual.Query, expand []eventual.Expand, count bool) (*Page, error) {
	page := &Page{Count: -1}
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
		n, err := tx.Count(ctx, q.Table, q.Filter, MaxCount)
		if err != nil {
			return nil, err
		}
		page.Count, page.CountLimitExceeded = min(n, MaxCount), n > MaxCount
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
		n, err = tx.Count(ctx, t, filter, MaxCount)
		return err
	})
	return min(n, MaxCount), err
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

func checkVersion(rec *eventual.Record, cond Condition) error {
	if cond.IfMatch != "" && cond.IfMatch != "*" && cond.IfMatch != strconv.FormatInt(rec.Version, 10) {
		return eventual.Errorf(eventual.KindPrecondition, eventual.CodeConcurrencyVersionMismatch,
			"The version of the existing record doesn't match the RowVersion property provided.")
	}
	return nil
}

func (in *Instance) upsert(ctx context.Context, tx eventual.Tx, target eventual.EntityReference, e *eventual.Entity, cond Condition) (bool, uuid.UUID, error) {
	existing, err := in.find(ctx, tx, target, nil)
	var nf *eventual.Error
	if err != nil && !(errors.As(err, &nf) && nf.Kind == eventual.KindNotFound) {
		return false, uuid.Nil, err
	}
	values := e.Values.Clone()
	if existing != nil {
		if cond.IfNoneMatch == "*" {
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
		if err := in.update(ctx, tx, existing, values, e.Related); err != nil {
			return false, uuid.Nil, err
		}
		return false, existing.ID, nil
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
	id, err := in.create(ctx, tx, ne)
	return true, id, err
}

func (in *Instance) delete(ctx context.Context, tx eventual.Tx, target eventual.EntityReference, cond Condition) error {
	rec, err := in.find(ctx, tx, target, []*eventual.Column{})
	if err != nil {
		return err
	}
	if err := checkVersion(rec, cond); err != nil {
		return err
	}
	for _, r := range target.Table.OneToMany() {
		if _, err := tx.Unlink(ctx, r, rec.ID); err != nil {
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

// PrimaryKeyValue returns an error unless v names a valid primary key.
func PrimaryKeyValue(t *eventual.Table, v any) (uuid.UUID, error) {
	id, ok := v.(uuid.UUID)
	if !ok || id == uuid.Nil {
		return uuid.Nil, eventual.Errorf(eventual.KindInvalid, eventual.CodeInvalidArgument,
			"The value of %s must be a non-empty GUID.", t.PrimaryIDAttribute)
	}
	return id, nil
}
