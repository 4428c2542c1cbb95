package replication

import (
	"fmt"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/teststore"
)

func forEachStore(t *testing.T, fn func(t *testing.T, kind teststore.Kind)) {
	for _, kind := range teststore.All() {
		t.Run(kind.Name, func(t *testing.T) { fn(t, kind) })
	}
}

// TestInitialLoadThenDeltas: the initial load copies every record (pages
// of 3, children referencing parents and each other), then deltas bring
// updates, creates and deletes, a delete of a record B never had
// included.
func TestInitialLoadThenDeltas(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) {
		e := newEnv(t, kind, "contact", "account")
		if got := e.sync.Tables(); fmt.Sprint(got) != "[account contact]" && fmt.Sprint(got) != "[contact account]" {
			t.Fatalf("tables %v", got)
		}
		acc := e.schema.Table("account")
		var ids []eventual.EntityReference
		for i := range 8 {
			vals := eventual.Values{"name": fmt.Sprintf("acc %d", i), "accountnumber": fmt.Sprintf("N%d", i), "revenue": eventual.Decimal{Units: int64(i) * 100, Scale: 2}}
			if i > 0 {
				vals["parentaccountid"] = ids[i-1] // a chain: parents in earlier pages and the same page
			}
			ids = append(ids, eventual.Ref(acc, e.create(e.a, "account", vals)))
		}
		for i := range 5 {
			e.create(e.a, "contact", eventual.Values{"lastname": fmt.Sprintf("c%d", i), "parentcustomerid": ids[i]})
		}
		e.catchUp()
		e.converged("account", "contact")

		if _, err := e.a.Update(e.ctx, ids[2], eventual.Values{"name": "renamed", "telephone1": "555"}, eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		if err := e.a.Delete(e.ctx, ids[7], eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		never := e.create(e.a, "account", eventual.Values{"name": "short-lived"})
		if err := e.a.Delete(e.ctx, eventual.Ref(acc, never), eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		e.create(e.a, "account", eventual.Values{"name": "new"})
		e.catchUp()
		e.converged("account", "contact")
		if n := len(e.rows(e.b, "account")); n != 8 {
			t.Errorf("%d accounts on B, want 8", n)
		}
	})
}

// TestKeyPlaceholderWrittenByTarget: B binds an order to a missing
// account by alternate key (a placeholder) and then writes to that
// placeholder itself, which hydrates it. It still stands for A's record:
// the sync adopts it (A's GUID, A's values), the order follows, and no
// dead letter is left.
func TestKeyPlaceholderWrittenByTarget(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) {
		e := newEnv(t, kind, "account")
		acc := e.schema.Table("account")
		x := e.create(e.a, "account", eventual.Values{"name": "From A", "accountnumber": "BW-1", "description": "A's"})
		keyRef := eventual.EntityReference{Table: acc, Key: acc.Key("accountnumber_key"), KeyValues: []any{"BW-1"}}
		e.create(e.b, "new_order", eventual.Values{"new_name": "by key", "new_customer": keyRef})
		if _, err := e.b.Update(e.ctx, keyRef, eventual.Values{"description": "B wrote this"}, eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		e.catchUp()
		e.converged("account")
		if dead, _ := e.state.DeadLetters(e.ctx, ""); len(dead) > 0 {
			t.Errorf("dead letters: %s %v %s", dead[0].Pair, dead[0].ID, dead[0].Message)
		}
		if n := len(e.rows(e.b, "account")); n != 1 {
			t.Errorf("B holds %d accounts, want 1", n)
		}
		for _, o := range e.rows(e.b, "new_order") {
			if ref, _ := o.Values["new_customer"].(eventual.EntityReference); ref.ID != x {
				t.Errorf("order %v is bound to %v, want %v", o.Values["new_name"], ref.ID, x)
			}
		}
	})
}

// TestBoundByGUIDAndByKey: before the sync delivers an account, B takes
// one order bound to it by A's GUID and one bound by its alternate key,
// so B holds two placeholders of it. The sync's write (adoption on)
// folds the one made by key into the one under the GUID: B ends with one
// account, both orders bound to it, no placeholder and no dead letter.
func TestBoundByGUIDAndByKey(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) {
		e := newEnv(t, kind, "account")
		acc := e.schema.Table("account")
		x := e.create(e.a, "account", eventual.Values{"name": "X", "accountnumber": "BOTH-1"})
		keyRef := eventual.EntityReference{Table: acc, Key: acc.Key("accountnumber_key"), KeyValues: []any{"BOTH-1"}}
		e.create(e.b, "new_order", eventual.Values{"new_name": "by guid", "new_customer": eventual.Ref(acc, x)})
		e.create(e.b, "new_order", eventual.Values{"new_name": "by key", "new_customer": keyRef})
		if n := len(e.rows(e.b, "account")); n != 2 {
			t.Fatalf("B holds %d placeholders, want 2", n)
		}
		e.catchUp()
		e.converged("account")
		if dead, _ := e.state.DeadLetters(e.ctx, ""); len(dead) > 0 {
			t.Errorf("dead letters: %s %v %s", dead[0].Pair, dead[0].ID, dead[0].Message)
		}
		for _, o := range e.rows(e.b, "new_order") {
			if ref, _ := o.Values["new_customer"].(eventual.EntityReference); ref.ID != x {
				t.Errorf("order %v is bound to %v, want %v", o.Values["new_name"], ref.ID, x)
			}
		}
	})
}
