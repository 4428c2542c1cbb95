package instance_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// This file tests the lookup cache a write passes down: a lookup the write
// already resolved in its transaction is not read again.

// keyReads wraps a store and counts the reads by alternate key of one
// table's records.
type keyReads struct {
	eventual.Store
	table string
	n     atomic.Int64
}

func (s *keyReads) Update(ctx context.Context, fn func(tx eventual.Tx) error) error {
	return s.Store.Update(ctx, func(tx eventual.Tx) error { return fn(&keyReadsTx{Tx: tx, s: s}) })
}

type keyReadsTx struct {
	eventual.Tx
	s *keyReads
}

func (tx *keyReadsTx) GetByKey(ctx context.Context, key *eventual.Key, values []any, columns []*eventual.Column) (*eventual.Record, error) {
	if key.Table().LogicalName == tx.s.table {
		tx.s.n.Add(1)
	}
	return tx.Tx.GetByKey(ctx, key, values, columns)
}

// mustOpenCounted opens an env whose store counts reads of accounts by key.
func mustOpenCounted(tb testing.TB, st storeKind) (*env, *keyReads) {
	tb.Helper()
	db, schema := openStore(tb, st)
	kr := &keyReads{Store: db, table: "account"}
	return newEnv(kr, schema), kr
}

// TestLookupCacheDeferredPlaceholderUpsert: an Upsert whose PreValidation
// step defers a placeholder reads the account once, in the write's
// transaction, and the Create the Upsert becomes binds it through the
// cache.
func TestLookupCacheDeferredPlaceholderUpsert(t *testing.T) {
	for _, st := range stores {
		t.Run(st.Name, func(t *testing.T) {
			e, kr := mustOpenCounted(t, st)
			ref := eventual.EntityReference{Table: e.account, Key: e.account.Key("accountnumber_key"), KeyValues: []any{"A-1"}}
			e.register(t, syncStep("placeholder", eventual.MessageUpsert, "contact", eventual.PreValidation, func(ctx context.Context, ec *eventual.ExecutionContext) error {
				return ec.Service.EnsurePlaceholders(ctx, []eventual.EntityReference{ref}, []eventual.Values{{"name": "A-1"}})
			}))
			id := uuid.New()
			created, _, err := e.in.Upsert(testContext(t), eventual.Ref(e.contact, id),
				&eventual.Entity{Table: e.contact, Values: eventual.Values{"lastname": "Smith", "parentcustomerid": ref}}, eventual.Condition{})
			if err != nil || !created {
				t.Fatalf("upsert: created %v, %v", created, err)
			}
			if got, want := kr.n.Load(), int64(1); got != want {
				t.Errorf("%d reads of the account by key, want %d", got, want)
			}
			c := e.get(t, e.contact, id)
			bound, _ := c.Values["parentcustomerid"].(eventual.EntityReference)
			a := e.get(t, e.account, bound.ID)
			if a == nil || a.Values["accountnumber"] != "A-1" || a.Values[eventual.ColumnHydrationState] != eventual.HydrationPlaceholder {
				t.Errorf("the contact binds %v, want the placeholder of A-1 (%v)", c.Values["parentcustomerid"], a)
			}
		})
	}
}

// TestLookupCacheBulkCreate: CreateMultiple resolves the account its
// records bind in one query, and no record reads it again by key.
func TestLookupCacheBulkCreate(t *testing.T) {
	for _, st := range stores {
		t.Run(st.Name, func(t *testing.T) {
			e, kr := mustOpenCounted(t, st)
			acc := e.mustCreate(t, e.account, eventual.Values{"name": "Contoso", "accountnumber": "A-1"})
			ref := eventual.EntityReference{Table: e.account, Key: e.account.Key("accountnumber_key"), KeyValues: []any{"A-1"}}
			var entities []*eventual.Entity
			for _, name := range []string{"One", "Two", "Three"} {
				entities = append(entities, &eventual.Entity{Table: e.contact, Values: eventual.Values{"lastname": name, "parentcustomerid": ref}})
			}
			var ids []uuid.UUID
			err := e.in.Atomic(testContext(t), func(s eventual.RecordService) error {
				var err error
				ids, err = s.CreateMultiple(testContext(t), entities)
				return err
			})
			if err != nil {
				t.Fatalf("create multiple: %v", err)
			}
			if got := kr.n.Load(); got != 0 {
				t.Errorf("%d reads of the account by key, want 0", got)
			}
			for _, id := range ids {
				if got, _ := e.get(t, e.contact, id).Values["parentcustomerid"].(eventual.EntityReference); got.ID != acc || got.Table != e.account {
					t.Errorf("contact %s binds %v, want account %s", id, got, acc)
				}
			}
		})
	}
}
