package instance

import (
	"context"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// The short way of an upsert by alternate key: one statement (Tx.Put)
// instead of a read by key followed by an insert or an update. It is
// taken only where that statement does exactly what the long way would:
//
//   - no Create or Update step is registered on the table (steps see the
//     pre-image and the message the long way picks);
//   - no condition (If-Match, If-None-Match), no adoption of
//     placeholders, no deep insert, an id not given in the body;
//   - the body sets no key column of any of the table's keys (the long
//     way keeps the URL's key on update and takes the body's on create;
//     another key would be a second unique constraint the statement
//     meets), no statecode or statuscode (their check reads the record),
//     and no name part of a computed full name;
//   - every key value is given (a null one matches no unique index);
//   - no lookup in the body: resolving one reads, and may write (a
//     placeholder, a deep insert), so a record the create would refuse
//     could leave a statement failed behind it, which on PostgreSQL ends
//     the transaction the long way would go on in.
//
// The record the key names, when it is a placeholder, is left alone by
// the statement and hydrated the long way, so Hydrate and its steps run
// as before. Anything the short way cannot settle (a value the create
// would refuse, a placeholder) falls back to the long way, which then
// decides, in the same transaction.
func (in *Instance) canPut(ctx context.Context, target eventual.EntityReference, e *eventual.Entity, cond eventual.Condition) bool {
	t := target.Table
	if !target.ByKey() || cond.IfMatch != "" || cond.IfNoneMatch != "" || e.ID != uuid.Nil || len(e.Related) > 0 ||
		isJobTable(t) || eventual.AdoptPlaceholders(ctx) ||
		in.Pipeline.Has(eventual.MessageCreate, t.LogicalName) || in.Pipeline.Has(eventual.MessageUpdate, t.LogicalName) {
		return false
	}
	for _, v := range target.KeyValues {
		if v == nil {
			return false
		}
	}
	for _, k := range t.Keys {
		for _, c := range k.Columns {
			if _, ok := e.Values[c.LogicalName]; ok {
				return false
			}
		}
	}
	if _, ok := e.Values[t.PrimaryIDAttribute]; ok || !readsNothing(t, e.Values) {
		return false
	}
	for _, name := range []string{"statecode", "statuscode", "firstname", "lastname", "middlename"} {
		if _, ok := e.Values[name]; ok {
			return false
		}
	}
	return true
}

// buildPut builds the Put of the short way, or returns nil when the
// record could not be created as it stands (a required column missing, a
// bad value): the long way then decides, as an update may still be fine.
// The values read nothing (canPut), so nothing ran in tx, which may be
// nil: the Put is then built before the transaction.
func (in *Instance) buildPut(ctx context.Context, tx eventual.Tx, target eventual.EntityReference, e *eventual.Entity, lookups lookupCache) *eventual.Put {
	t := target.Table
	values := make(eventual.Values, len(e.Values)+len(target.Key.Columns))
	for k, v := range e.Values {
		values[k] = v
	}
	for i, c := range target.Key.Columns {
		values[c.LogicalName] = target.KeyValues[i]
	}
	rec, err := in.buildCreate(ctx, tx, &eventual.Entity{Table: t, Values: values}, lookups)
	if err != nil {
		return nil
	}
	p := &eventual.Put{Record: rec, Key: target.Key, Set: make([]*eventual.Column, 0, len(e.Values)+2)}
	for _, c := range t.Columns {
		if _, ok := e.Values[c.LogicalName]; ok && !c.System && !c.Computed {
			p.Set = append(p.Set, c)
		}
	}
	if c := t.Column("modifiedon"); c != nil {
		p.Set = append(p.Set, c)
	}
	if c := t.Column(eventual.ColumnModifiedBy); c != nil && rec.Values[c.LogicalName] != nil {
		p.Set = append(p.Set, c)
	}
	// Money was converted at the base currency's rate (the values bind no
	// currency, or the short way would not be taken): the statement
	// updates a record in the base currency only, with the rate and the
	// base values of the money written; the long way, which reads the
	// record's currency, takes any other.
	if t.HasCurrency() {
		money := false
		for _, c := range t.Columns {
			if bc := t.BaseColumn(c); bc != nil {
				if _, ok := e.Values[c.LogicalName]; ok {
					p.Set = append(p.Set, bc)
					money = true
				}
			}
		}
		if money {
			p.Set = append(p.Set, t.Column(eventual.ColumnExchangeRate))
			p.Only, p.OnlyValue = t.Column(eventual.ColumnCurrency), rec.Values[eventual.ColumnCurrency]
		}
	}
	if c := t.Column(eventual.ColumnHydrationState); c != nil {
		p.Keep, p.KeepValue = c, eventual.HydrationPlaceholder
	}
	return p
}

// runPut runs the short way's statement. done reports whether it settled
// the write; when it did not (a placeholder holds the key), it wrote
// nothing and the long way takes over in the same transaction.
func (in *Instance) runPut(ctx context.Context, tx eventual.Tx, p *eventual.Put) (done, created bool, id uuid.UUID, err error) {
	res, id, _, err := tx.Put(ctx, p)
	if err != nil {
		return true, false, uuid.Nil, conflictError(err, p.Record.Table, p.Record.ID)
	}
	switch res {
	case eventual.PutInserted:
		return true, true, id, nil
	case eventual.PutUpdated:
		return true, false, id, nil
	}
	return false, false, uuid.Nil, nil
}

// readsNothing reports whether checking values needs no transaction: no
// lookup among them (resolving one reads the referenced record and may
// write its placeholder). The checks of such values can run before the
// write is queued, off the store's writer.
func readsNothing(t *eventual.Table, values eventual.Values) bool {
	for name := range values {
		if c := t.Column(name); c != nil && (c.Type == eventual.TypeLookup || c.Type == eventual.TypeCustomer) {
			return false
		}
	}
	return true
}
