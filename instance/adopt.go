package instance

import (
	"context"
	"errors"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// This file holds placeholder adoption (eventual.WithAdoptPlaceholders).
// A placeholder made for a reference by alternate key has an id of this
// instance's own. When a replication engine later copies the source
// record, it upserts it by the source's id, which finds no record: a
// create would collide with the placeholder's key. With the context flag
// set, the upsert adopts the placeholder instead: Tx.ChangeID gives it the
// source's id (every lookup that referenced it follows, and change
// tracking reports the old id deleted), and the upsert goes on as an
// update of the re-keyed record, which hydrates it and runs Hydrate once.

// adopt finds, for an upsert of the record of t with id that does not
// exist, the record whose alternate-key values (any key of t, with values
// from the entity) match values. A placeholder is re-keyed to id and
// returned, read again with the columns; so is a record that already has
// id (a concurrent adopter won). No match returns nil. A match that is not
// a placeholder, or matches of different records, are the duplicate-key
// error. lookups, if not nil, follows the re-keying.
func (in *Instance) adopt(ctx context.Context, tx eventual.Tx, t *eventual.Table, id uuid.UUID, values eventual.Values, cols []*eventual.Column, lookups lookupCache) (*eventual.Record, error) {
	var match *eventual.Record
	err := keyHolders(ctx, tx, t, values, func(k *eventual.Key, rec *eventual.Record) error {
		if match != nil && match.ID != rec.ID {
			return DuplicateKey(k) // keys of different records: refuse to guess
		}
		if rec.ID != id && !isPlaceholder(rec) && !bornPlaceholder(rec) {
			return DuplicateKey(k)
		}
		match = rec
		return nil
	})
	if err != nil {
		return nil, err
	}
	if match == nil {
		return nil, nil
	}
	if match.ID != id {
		if err := tx.ChangeID(ctx, t, match.ID, id); err != nil {
			return nil, conflictError(err, t, id)
		}
		lookups.follow(match.ID, id)
	}
	return tx.Get(ctx, t, id, cols)
}

// absorb folds into the record of t with id the placeholders made by
// alternate key for the key values the write gives it: a client that
// bound one missing record both by GUID and by key made two placeholders
// (one under the GUID, one under a GUID of this instance's own holding the
// key); when the replication engine writes the real record by its GUID,
// with adoption asked for, the one holding the key is merged into it
// (every lookup that referenced it follows; change tracking reports it
// deleted) rather than refusing the write for a duplicate key. A key held
// by a record that is not a placeholder is left to refuse the write.
func (in *Instance) absorb(ctx context.Context, tx eventual.Tx, t *eventual.Table, id uuid.UUID, values eventual.Values, lookups lookupCache) error {
	return keyHolders(ctx, tx, t, values, func(_ *eventual.Key, rec *eventual.Record) error {
		if rec.ID == id || !isPlaceholder(rec) {
			return nil
		}
		if err := tx.MergeInto(ctx, t, rec.ID, id); err != nil {
			return err
		}
		lookups.follow(rec.ID, id)
		return nil
	})
}

// keyHolders calls fn, for each alternate key of t whose values the write
// gives, with the record holding them, if any (read with its hydration
// state). GetByKey locks the row in write transactions, so of two
// adopters of one placeholder the second sees it re-keyed.
func keyHolders(ctx context.Context, tx eventual.Tx, t *eventual.Table, values eventual.Values, fn func(*eventual.Key, *eventual.Record) error) error {
	lockCols := []*eventual.Column{t.Column(eventual.ColumnHydrationState), t.Column(eventual.ColumnPlaceholderOn)}
	for _, k := range t.Keys {
		kv, ok := keyValues(k, values)
		if !ok {
			continue
		}
		rec, err := tx.GetByKey(ctx, k, kv, lockCols)
		if errors.Is(err, eventual.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if err := fn(k, rec); err != nil {
			return err
		}
	}
	return nil
}

// isPlaceholder reports whether rec is a placeholder pending hydration.
func isPlaceholder(rec *eventual.Record) bool {
	return rec.Values[eventual.ColumnHydrationState] == eventual.HydrationPlaceholder
}

// bornPlaceholder reports whether rec was made as a placeholder and
// hydrated since by a write of this instance's own (not by the sync, whose
// adoption gives it the source's id, so that it is never adopted again):
// it still stands for the source's record of its key, which adopts it as
// it would a pending placeholder, and the source's values win, as they do
// over a write to a placeholder made by GUID.
func bornPlaceholder(rec *eventual.Record) bool {
	return rec.Values[eventual.ColumnHydrationState] == eventual.HydrationHydrated && rec.Values[eventual.ColumnPlaceholderOn] != nil
}

// keyValues returns the values of the key's columns in values, if all are
// set to plain values (a lookup by id at most: references by key and deep
// inserts would need resolving).
func keyValues(k *eventual.Key, values eventual.Values) ([]any, bool) {
	out := make([]any, len(k.Columns))
	for i, c := range k.Columns {
		v := values[c.LogicalName]
		switch x := v.(type) {
		case nil, *eventual.Entity:
			return nil, false
		case eventual.EntityReference:
			if x.Table == nil || x.ByKey() {
				return nil, false
			}
		}
		out[i] = v
	}
	return out, true
}

// follow makes the cache's entries for the record old name new, after
// Tx.ChangeID re-keyed it.
func (c lookupCache) follow(old, new uuid.UUID) {
	for k, v := range c {
		if v == old {
			c[k] = new
		}
	}
}
