package replication

import (
	"fmt"
	"strings"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/teststore"
	"github.com/google/uuid"
)

// TestMatchByAlternateKey: with accounts matched by accountnumber and
// contacts by (firstname, emailaddress1) on a target that does not adopt
// (as Dataverse cannot), B creates the records it lacks under A's GUIDs,
// keeps the GUIDs of those it had by key, holds exactly one record per
// key, binds lookups by key, hydrates placeholders made by key
// and by the source's GUID, follows a key's change and deletes by key,
// without deleting a record whose key passed to another source record.
func TestMatchByAlternateKey(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) {
		e := newEnvWith(t, kind, Options{Tables: []Table{
			{Name: "account", Key: "accountnumber_key"},
			{Name: "contact", Key: "firstname,emailaddress1"},
		}})
		acc, con := e.schema.Table("account"), e.schema.Table("contact")
		a := map[string]uuid.UUID{}
		for i, n := range []string{"K1", "K2", "K3"} {
			a[n] = e.create(e.a, "account", eventual.Values{"name": "acc " + n, "accountnumber": n, "telephone1": fmt.Sprint(i)})
		}
		a["K4"] = e.create(e.a, "account", eventual.Values{"name": "child", "accountnumber": "K4", "parentaccountid": eventual.Ref(acc, a["K1"])})
		c1 := e.create(e.a, "contact", eventual.Values{"firstname": "F1", "lastname": "one", "emailaddress1": "f1@x", "parentcustomerid": eventual.Ref(acc, a["K1"])})
		e.create(e.a, "contact", eventual.Values{"firstname": "F2", "lastname": "two", "emailaddress1": "f2@x", "parentcustomerid": eventual.Ref(acc, a["K2"])})
		// Before the sync: B's orders reference K3 by key (a placeholder
		// with B's GUID) and K2 by A's GUID (a placeholder with it).
		keyRef := eventual.EntityReference{Table: acc, Key: acc.Key("accountnumber_key"), KeyValues: []any{"K3"}}
		e.create(e.b, "new_order", eventual.Values{"new_name": "by key", "new_customer": keyRef})
		e.create(e.b, "new_order", eventual.Values{"new_name": "by guid", "new_customer": eventual.Ref(acc, a["K2"])})

		e.catchUp()
		e.convergedByKey()
		for id, r := range e.rows(e.b, "account") {
			switch r.Values["accountnumber"] {
			case "K1": // new to B: created under A's GUID, so references by it find it
				if id != a["K1"] {
					t.Errorf("B's K1 is %v, want A's GUID %v", id, a["K1"])
				}
			case "K3": // B's placeholder made by key: taken over, its GUID kept
				if id == a["K3"] {
					t.Errorf("B's K3 has A's GUID: the placeholder made by key was not matched by key")
				}
			}
		}

		// A key changes, a key passes from a deleted record to a new one,
		// a contact goes.
		if _, err := e.a.Update(e.ctx, eventual.Ref(acc, a["K3"]), eventual.Values{"accountnumber": "K3b"}, eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		if err := e.a.Delete(e.ctx, eventual.Ref(acc, a["K4"]), eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		e.create(e.a, "account", eventual.Values{"name": "heir", "accountnumber": "K4"})
		if err := e.a.Delete(e.ctx, eventual.Ref(con, c1), eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		e.catchUp()
		e.convergedByKey()
		if dead, _ := e.state.DeadLetters(e.ctx, ""); len(dead) > 0 {
			t.Errorf("dead letters: %+v", dead)
		}
	})
}

// convergedByKey checks that B holds, for each record of A, exactly one
// record with its key and A's values, lookups pointing at the record of
// the same key, no placeholder left, and nothing else but B's orders.
func (e *env) convergedByKey() {
	e.t.Helper()
	keyOf := func(rec *eventual.Record, t *eventual.Table) string {
		var parts []string
		for _, c := range t.Keys[0].Columns {
			parts = append(parts, fmt.Sprint(rec.Values[c.LogicalName]))
		}
		return strings.Join(parts, "|")
	}
	aKeys, bKeys := map[uuid.UUID]string{}, map[uuid.UUID]string{}
	for _, name := range []string{"account", "contact"} {
		t := e.schema.Table(name)
		p := e.sync.byName[name]
		as, bs := e.rows(e.a, name), e.rows(e.b, name)
		for id, r := range as {
			aKeys[id] = keyOf(r, t)
		}
		byKey := map[string]*eventual.Record{}
		for id, r := range bs {
			k := keyOf(r, t)
			bKeys[id] = k
			if byKey[k] != nil {
				e.t.Errorf("%s: two records on B with key %s", name, k)
			}
			byKey[k] = r
		}
		for id, ar := range as {
			k := aKeys[id]
			br := byKey[k]
			if br == nil {
				e.t.Errorf("%s %s is missing on B", name, k)
				continue
			}
			delete(byKey, k)
			if br.Values[eventual.ColumnHydrationState] == eventual.HydrationPlaceholder {
				e.t.Errorf("%s %s is still a placeholder on B", name, k)
			}
			for _, c := range p.copy {
				av, bv := ar.Values[c], br.Values[c]
				if ra, ok := av.(eventual.EntityReference); ok {
					rb, ok := bv.(eventual.EntityReference)
					if !ok || aKeys[ra.ID] == "" || aKeys[ra.ID] != bKeys[rb.ID] {
						e.t.Errorf("%s %s: %s references %s on A, %v on B", name, k, c, aKeys[ra.ID], bv)
					}
					continue
				}
				if !sameValue(av, bv) {
					e.t.Errorf("%s %s: %s is %v on A, %v on B", name, k, c, av, bv)
				}
			}
		}
		for k := range byKey {
			e.t.Errorf("%s %s is on B, not on A", name, k)
		}
	}
	for _, o := range e.rows(e.b, "new_order") {
		ref, _ := o.Values["new_customer"].(eventual.EntityReference)
		if bKeys[ref.ID] == "" {
			e.t.Errorf("order %v references %v, not a record of B's", o.Values["new_name"], ref.ID)
		}
	}
}

// TestMatchByKeyTwinPlaceholder: matched by key, B made a placeholder by
// key that the sync took over (B's GUID); later an order on B references
// the account by A's GUID, so B makes a second placeholder under it. The
// sync fills that twin (all but the key, which one record holds), leaves
// no dead letter and no placeholder pending, and B's keyed record keeps
// following A.
func TestMatchByKeyTwinPlaceholder(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) {
		e := newEnvWith(t, kind, Options{Tables: []Table{{Name: "account", Key: "accountnumber_key"}}})
		acc := e.schema.Table("account")
		keyRef := eventual.EntityReference{Table: acc, Key: acc.Key("accountnumber_key"), KeyValues: []any{"K1"}}
		e.create(e.b, "new_order", eventual.Values{"new_name": "by key", "new_customer": keyRef})
		x := e.create(e.a, "account", eventual.Values{"name": "X", "accountnumber": "K1"})
		e.catchUp()
		e.create(e.b, "new_order", eventual.Values{"new_name": "by guid", "new_customer": eventual.Ref(acc, x)})
		e.catchUp()
		if dead, _ := e.state.DeadLetters(e.ctx, ""); len(dead) > 0 {
			t.Errorf("dead letters: %s %v %s", dead[0].Pair, dead[0].ID, dead[0].Message)
		}
		bs := e.rows(e.b, "account")
		if len(bs) != 2 {
			t.Fatalf("B holds %d accounts, want the keyed record and the twin", len(bs))
		}
		for id, r := range bs {
			if r.Values[eventual.ColumnHydrationState] == eventual.HydrationPlaceholder {
				t.Errorf("B's account %v is still a placeholder", id)
			}
			if r.Values["name"] != "X" {
				t.Errorf("B's account %v is named %v, want X", id, r.Values["name"])
			}
		}
		if bs[x] == nil || bs[x].Values["accountnumber"] != nil {
			t.Errorf("the twin under A's GUID: %v, want it without the key", bs[x])
		}
		if _, err := e.a.Update(e.ctx, eventual.Ref(acc, x), eventual.Values{"name": "X2", "accountnumber": "K2"}, eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		e.catchUp()
		for id, r := range e.rows(e.b, "account") {
			if id != x && (r.Values["accountnumber"] != "K2" || r.Values["name"] != "X2") {
				t.Errorf("B's keyed record after A's change: %v %v, want K2 X2", r.Values["accountnumber"], r.Values["name"])
			}
		}
	})
}

// TestMatchByKeyStateWithoutTargets: a state from before the target's
// record ids were kept (keys only) goes on: a change of key moves B's
// record, a deletion deletes it, and the ids are learnt on the way.
func TestMatchByKeyStateWithoutTargets(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) {
		e := newEnvWith(t, kind, Options{Tables: []Table{{Name: "account", Key: "accountnumber_key"}}})
		acc := e.schema.Table("account")
		x := e.create(e.a, "account", eventual.Values{"name": "X", "accountnumber": "K1"})
		y := e.create(e.a, "account", eventual.Values{"name": "Y", "accountnumber": "K2"})
		e.catchUp()
		mem := e.state.(*memState)
		mem.mu.Lock()
		for id, a := range mem.applied["account"] {
			if a.Target == uuid.Nil {
				t.Errorf("the state knows no target of %v", id)
			}
			a.Target = uuid.Nil
			mem.applied["account"][id] = a
		}
		mem.mu.Unlock()
		if _, err := e.a.Update(e.ctx, eventual.Ref(acc, x), eventual.Values{"accountnumber": "K1b"}, eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		if err := e.a.Delete(e.ctx, eventual.Ref(acc, y), eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		e.catchUp()
		e.convergedByKeyTables("account")
		if n := len(e.rows(e.b, "account")); n != 1 {
			t.Errorf("B holds %d accounts, want 1", n)
		}
		if a, _ := e.state.Versions(e.ctx, "account", []uuid.UUID{x}); a[x].Target != x {
			t.Errorf("the state's target of X is %v, want %v", a[x].Target, x)
		}
	})
}

// TestMatchByKeyTargetNeverMade: the state names a record's target
// before the target sees the write, so a sync killed in between leaves a
// target that was never made. When another record, which no source record
// owns, then holds the key values (a placeholder made by key while the
// sync was down), the record takes it over rather than meeting it as a
// conflict (a dead letter).
func TestMatchByKeyTargetNeverMade(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) {
		e := newEnvWith(t, kind, Options{Tables: []Table{{Name: "account", Key: "accountnumber_key"}}})
		acc := e.schema.Table("account")
		x := e.create(e.a, "account", eventual.Values{"name": "X", "accountnumber": "K1"})
		e.catchUp()
		// The target record is gone (never made), and a record of B's own
		// holds the key.
		if err := e.b.Delete(e.ctx, eventual.Ref(acc, x), eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		holder := e.create(e.b, "account", eventual.Values{"name": "B's own", "accountnumber": "K1"})
		if _, err := e.a.Update(e.ctx, eventual.Ref(acc, x), eventual.Values{"name": "X2"}, eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		e.catchUp()
		e.convergedByKeyTables("account")
		rows := e.rows(e.b, "account")
		if len(rows) != 1 || rows[holder] == nil || rows[holder].Values["name"] != "X2" {
			t.Errorf("B holds %v, want the holder %s with X's data", rows, holder)
		}
		if a, _ := e.state.Versions(e.ctx, "account", []uuid.UUID{x}); a[x].Target != holder {
			t.Errorf("the state's target of X is %v, want the holder %v", a[x].Target, holder)
		}
	})
}
