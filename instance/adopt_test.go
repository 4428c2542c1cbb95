package instance_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/google/uuid"
)

// This file tests placeholder adoption (eventual.WithAdoptPlaceholders):
// an upsert by primary key whose key values match a placeholder gives the
// placeholder that key, the lookups that referenced it follow, and change
// tracking reports the old id deleted.

// placeholder stores a placeholder of t with the values, as the
// placeholder upsert makes them, and returns its id.
func (e *env) placeholder(tb testing.TB, t *eventual.Table, values eventual.Values) uuid.UUID {
	tb.Helper()
	vals := values.Clone()
	vals[eventual.ColumnHydrationState] = eventual.HydrationPlaceholder
	rec := &eventual.Record{Table: t, ID: uuid.New(), Values: vals}
	if err := e.store.Update(testContext(tb), func(tx eventual.Tx) error { return tx.Insert(context.Background(), rec) }); err != nil {
		tb.Fatalf("insert placeholder: %v", err)
	}
	return rec.ID
}

// countHydrate registers a step on the table's Hydrate message and
// returns its count of runs.
func (e *env) countHydrate(tb testing.TB, table string) *atomic.Int64 {
	var n atomic.Int64
	e.register(tb, syncStep("hydrate-"+table, eventual.MessageHydrate, table, eventual.PostOperation, func(context.Context, *eventual.ExecutionContext) error {
		n.Add(1)
		return nil
	}))
	return &n
}

// upsertBy is a way to upsert one record by primary key: Upsert or
// UpsertMultiple.
type upsertBy struct {
	name string
	run  func(ctx context.Context, e *env, t *eventual.Table, id uuid.UUID, values eventual.Values) error
}

var upserts = []upsertBy{
	{"Upsert", func(ctx context.Context, e *env, t *eventual.Table, id uuid.UUID, values eventual.Values) error {
		_, _, err := e.in.Upsert(ctx, eventual.Ref(t, id), &eventual.Entity{Table: t, Values: values}, eventual.Condition{})
		return err
	}},
	{"UpsertMultiple", func(ctx context.Context, e *env, t *eventual.Table, id uuid.UUID, values eventual.Values) error {
		other := eventual.Values{t.PrimaryNameAttribute: "bystander"}
		if t.LogicalName == "contact" {
			other = eventual.Values{"lastname": "bystander"}
		}
		return e.in.UpsertMultiple(ctx, []eventual.BulkTarget{
			{Target: eventual.Ref(t, id), HasTarget: true, Entity: &eventual.Entity{Table: t, Values: values}},
			{Target: eventual.Ref(t, uuid.New()), HasTarget: true, Entity: &eventual.Entity{Table: t, Values: other}},
		})
	}},
}

// refersTo reports whether a lookup value references the record id of t.
func refersTo(v any, t *eventual.Table, id uuid.UUID) bool {
	r, ok := v.(eventual.EntityReference)
	return ok && r.Table == t && r.ID == id
}

// TestAdoptPlaceholderByKey: the sync's upsert of account G with the key
// of placeholder P makes P into G: one account with the key, hydrated,
// Hydrate run once, every lookup to P (another table's, a customer lookup,
// a self-reference) now to G, and a delta from before reports P deleted
// and G and the repointed records changed.
func TestAdoptPlaceholderByKey(t *testing.T) {
	forEachStoreCase(t, upserts, func(u upsertBy) string { return u.name }, func(t *testing.T, e *env, ctx context.Context, u upsertBy) {
		hydrated := e.countHydrate(t, "account")
		p := e.placeholder(t, e.account, eventual.Values{"name": "ACC-9", "accountnumber": "ACC-9"})
		child := e.mustCreate(t, e.account, eventual.Values{"name": "child", "parentaccountid": eventual.Ref(e.account, p)})
		contact := e.mustCreate(t, e.contact, eventual.Values{"lastname": "k", "parentcustomerid": eventual.Ref(e.account, p)})
		order := e.mustCreate(t, e.schema.Table("new_order"), eventual.Values{"new_name": "o", "new_customer": eventual.Ref(e.account, p)})
		tokens := map[string]string{}
		for _, name := range []string{"account", "contact", "new_order"} {
			page, err := e.in.Changes(ctx, e.schema.Table(name), nil, "", "", eventual.ChangeCursor{}, 1000)
			if err != nil {
				t.Fatal(err)
			}
			tokens[name] = page.Token
		}
		g := uuid.New()
		if err := u.run(eventual.WithAdoptPlaceholders(ctx), e, e.account, g, eventual.Values{"name": "Real", "accountnumber": "ACC-9"}); err != nil {
			t.Fatalf("adopting upsert: %v", err)
		}
		if e.get(t, e.account, p) != nil {
			t.Error("the placeholder's id still exists")
		}
		a := e.get(t, e.account, g)
		if a == nil || a.Values["name"] != "Real" || a.Values[eventual.ColumnHydrationState] != eventual.HydrationHydrated || a.Values[eventual.ColumnHydratedOn] == nil {
			t.Fatalf("adopted account: %v", a)
		}
		if n := hydrated.Load(); n != 1 {
			t.Errorf("Hydrate ran %d times, want 1", n)
		}
		if n := e.countWhere(t, e.account, "accountnumber", "ACC-9"); n != 1 {
			t.Errorf("%d accounts with ACC-9, want 1", n)
		}
		if !refersTo(e.get(t, e.account, child).Values["parentaccountid"], e.account, g) ||
			!refersTo(e.get(t, e.contact, contact).Values["parentcustomerid"], e.account, g) ||
			!refersTo(e.get(t, e.schema.Table("new_order"), order).Values["new_customer"], e.account, g) {
			t.Error("a lookup to the placeholder did not follow it")
		}
		changed, deleted := e.delta(t, e.account, tokens["account"])
		if !deleted[p] || len(deleted) != 1 || !changed[g] || !changed[child] {
			t.Errorf("account delta: changed %v deleted %v, want %s and %s changed, %s deleted", changed, deleted, g, child, p)
		}
		if changed, _ := e.delta(t, e.contact, tokens["contact"]); !changed[contact] {
			t.Errorf("contact delta %v lacks the repointed contact", changed)
		}
		if changed, _ := e.delta(t, e.schema.Table("new_order"), tokens["new_order"]); !changed[order] {
			t.Errorf("order delta %v lacks the repointed order", changed)
		}
	})
}

// countWhere counts the records of t whose column equals v.
func (e *env) countWhere(tb testing.TB, t *eventual.Table, col string, v any) int64 {
	tb.Helper()
	n, err := e.in.Count(testContext(tb), t, eventual.Compare{Op: eventual.OpEq, Left: eventual.Field{Column: t.Column(col)}, Right: eventual.Literal{Value: v}})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// delta reads every change of t since the token: the ids changed and
// deleted.
func (e *env) delta(tb testing.TB, t *eventual.Table, since string) (changed, deleted map[uuid.UUID]bool) {
	tb.Helper()
	changed, deleted = map[uuid.UUID]bool{}, map[uuid.UUID]bool{}
	page, err := e.in.Changes(testContext(tb), t, nil, since, "", eventual.ChangeCursor{}, 1000)
	if err != nil || page.More {
		tb.Fatalf("changes of %s: more %v, %v", t.LogicalName, page != nil && page.More, err)
	}
	for _, c := range page.Changes {
		if c.Deleted {
			deleted[c.ID] = true
		} else {
			changed[c.ID] = true
		}
	}
	return changed, deleted
}

// TestAdoptPlaceholderCompositeKey: a contact placeholder made for the
// key (firstname, emailaddress1) is adopted, and the contact lookup to it
// follows.
func TestAdoptPlaceholderCompositeKey(t *testing.T) {
	forEachStoreCase(t, upserts, func(u upsertBy) string { return u.name }, func(t *testing.T, e *env, ctx context.Context, u upsertBy) {
		hydrated := e.countHydrate(t, "contact")
		p := e.placeholder(t, e.contact, eventual.Values{"firstname": "Ann", "emailaddress1": "ann@example.com", "lastname": "?"})
		ref := e.mustCreate(t, e.contact, eventual.Values{"lastname": "ref", "parentcustomerid": eventual.Ref(e.contact, p)})
		g := uuid.New()
		if err := u.run(eventual.WithAdoptPlaceholders(ctx), e, e.contact, g, eventual.Values{"firstname": "Ann", "emailaddress1": "ann@example.com", "lastname": "Lee"}); err != nil {
			t.Fatalf("adopting upsert: %v", err)
		}
		c := e.get(t, e.contact, g)
		if e.get(t, e.contact, p) != nil || c == nil || c.Values["lastname"] != "Lee" || c.Values[eventual.ColumnHydrationState] != eventual.HydrationHydrated {
			t.Fatalf("adopted contact %v; placeholder left: %v", c, e.get(t, e.contact, p) != nil)
		}
		if !refersTo(e.get(t, e.contact, ref).Values["parentcustomerid"], e.contact, g) {
			t.Error("the contact lookup did not follow the placeholder")
		}
		if n := hydrated.Load(); n != 1 {
			t.Errorf("Hydrate ran %d times, want 1", n)
		}
	})
}

// TestAdoptRefusals: without the flag, and with it when the key is a real
// record's, the upsert stays Dataverse's duplicate-key error and changes
// nothing.
func TestAdoptRefusals(t *testing.T) {
	forEachStoreCase(t, upserts, func(u upsertBy) string { return u.name }, func(t *testing.T, e *env, ctx context.Context, u upsertBy) {
		p := e.placeholder(t, e.account, eventual.Values{"name": "P", "accountnumber": "ACC-9"})
		real := e.mustCreate(t, e.account, eventual.Values{"name": "R", "accountnumber": "ACC-1"})
		for _, c := range []struct {
			name string
			ctx  context.Context
			key  string
		}{{"without the flag", ctx, "ACC-9"}, {"real record", eventual.WithAdoptPlaceholders(ctx), "ACC-1"}} {
			err := u.run(c.ctx, e, e.account, uuid.New(), eventual.Values{"name": "x", "accountnumber": c.key})
			if eventual.ErrorKind(err) != eventual.KindPrecondition || eventual.ErrorCode(err) != eventual.CodeDuplicateRecordEntityKey {
				t.Errorf("%s: %v, want the duplicate-key error", c.name, err)
			}
		}
		if e.get(t, e.account, p) == nil || e.get(t, e.account, real) == nil || e.count(t, e.account) != 2 {
			t.Error("a refused upsert changed the accounts")
		}
	})
}

// TestAdoptRefusesTwoPlaceholders: values that match two placeholders by
// two keys are refused rather than guessed at.
func TestAdoptRefusesTwoPlaceholders(t *testing.T) {
	defs := metadata.BuiltinTables()
	for i := range defs {
		if defs[i].LogicalName == "account" {
			defs[i].Keys = append(defs[i].Keys, eventual.KeyDef{LogicalName: "name_key", Columns: []string{"name"}})
		}
	}
	schema, err := eventual.NewSchema(defs)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stores {
		t.Run(st.Name, func(t *testing.T) {
			db := st.Open(t, schema)
			t.Cleanup(func() { db.Close() })
			e := newEnv(db, schema)
			e.placeholder(t, e.account, eventual.Values{"name": "n1", "accountnumber": "ACC-1"})
			e.placeholder(t, e.account, eventual.Values{"name": "n2", "accountnumber": "ACC-2"})
			_, _, err := e.in.Upsert(eventual.WithAdoptPlaceholders(testContext(t)), eventual.Ref(e.account, uuid.New()),
				&eventual.Entity{Table: e.account, Values: eventual.Values{"name": "n2", "accountnumber": "ACC-1"}}, eventual.Condition{})
			if eventual.ErrorCode(err) != eventual.CodeDuplicateRecordEntityKey {
				t.Errorf("upsert matching two placeholders: %v, want the duplicate-key error", err)
			}
			if e.count(t, e.account) != 2 {
				t.Error("the refused upsert changed the accounts")
			}
		})
	}
}

// TestAdoptRace: many adopters of one placeholder at once. With one
// source id all succeed (the first adopts, the others update); with
// different ids one adopts and the others get the duplicate-key error.
// Either way one account has the key and Hydrate ran once.
func TestAdoptRace(t *testing.T) {
	type raceCase struct {
		sameID bool
		u      upsertBy
	}
	var cases []raceCase
	for _, sameID := range []bool{true, false} {
		for _, u := range upserts {
			cases = append(cases, raceCase{sameID, u})
		}
	}
	name := func(c raceCase) string {
		return map[bool]string{true: "SameID", false: "DifferentIDs"}[c.sameID] + "/" + c.u.name
	}
	forEachStoreCase(t, cases, name, func(t *testing.T, e *env, ctx context.Context, c raceCase) {
		sameID, u := c.sameID, c.u
		hydrated := e.countHydrate(t, "account")
		e.placeholder(t, e.account, eventual.Values{"name": "P", "accountnumber": "ACC-9"})
		const n = 8
		g := uuid.New()
		var wg sync.WaitGroup
		var ok atomic.Int64
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := g
				if !sameID {
					id = uuid.New()
				}
				err := u.run(eventual.WithAdoptPlaceholders(ctx), e, e.account, id, eventual.Values{"name": "Real", "accountnumber": "ACC-9", "description": string(rune('a' + i))})
				if err == nil {
					ok.Add(1)
				} else if eventual.ErrorCode(err) != eventual.CodeDuplicateRecordEntityKey {
					t.Errorf("adopter %d: %v", i, err)
				}
			}()
		}
		wg.Wait()
		want := int64(1)
		if sameID {
			want = n
		}
		if got := ok.Load(); got != want {
			t.Errorf("%d adopters succeeded, want %d", got, want)
		}
		if c := e.countWhere(t, e.account, "accountnumber", "ACC-9"); c != 1 {
			t.Errorf("%d accounts with ACC-9, want 1", c)
		}
		if h := hydrated.Load(); h != 1 {
			t.Errorf("Hydrate ran %d times, want 1", h)
		}
	})
}
