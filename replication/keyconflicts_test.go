package replication

import (
	"fmt"
	"strings"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/teststore"
	"github.com/google/uuid"
)

// The tests of keyconflicts.go: tables matched by primary key (the
// default) whose alternate keys pass from record to record on A.

// deadLetters returns the ids of a table's dead letters.
func (e *env) deadLetters(table string) []uuid.UUID {
	e.t.Helper()
	dead, err := e.state.DeadLetters(e.ctx, table)
	if err != nil {
		e.t.Fatal(err)
	}
	var ids []uuid.UUID
	for _, d := range dead {
		ids = append(ids, d.ID)
	}
	return ids
}

// setKey writes an account's accountnumber on A.
func (e *env) setKey(id uuid.UUID, key string) {
	e.t.Helper()
	if _, err := e.a.Update(e.ctx, eventual.Ref(e.schema.Table("account"), id), eventual.Values{"accountnumber": key}, eventual.Condition{}); err != nil {
		e.t.Fatal(err)
	}
}

// TestKeyFreedByDeletion: A deletes a record and creates another under its
// key. With a batch of one, the new record's write comes a page before
// the deletion (changes come first in the feed); with the default batch,
// both are in one page. Either way B ends with the new record and no dead
// letter.
func TestKeyFreedByDeletion(t *testing.T) {
	for _, batch := range []int{1, 3} {
		forEachStore(t, func(t *testing.T, kind teststore.Kind) {
			e := newEnvWith(t, kind, Options{Tables: []Table{{Name: "account"}}, Adopt: true, Batch: batch})
			acc := e.schema.Table("account")
			old := e.create(e.a, "account", eventual.Values{"name": "old", "accountnumber": "RE-1"})
			e.create(e.a, "account", eventual.Values{"name": "bystander", "accountnumber": "RE-2"})
			e.catchUp()
			if err := e.a.Delete(e.ctx, eventual.Ref(acc, old), eventual.Condition{}); err != nil {
				t.Fatal(err)
			}
			e.create(e.a, "account", eventual.Values{"name": "new", "accountnumber": "RE-1"})
			e.catchUp()
			e.converged("account")
			if dead := e.deadLetters("account"); len(dead) != 0 {
				t.Errorf("batch %d: dead letters %v, want none", batch, dead)
			}
		})
	}
}

// TestKeysSwapped: while the sync is away, two records on A trade keys
// through a third value, and a third record takes a key a fourth gave up;
// B ends equal to A, with no dead letter.
func TestKeysSwapped(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) {
		e := newEnv(t, kind, "account")
		x := e.create(e.a, "account", eventual.Values{"name": "x", "accountnumber": "SW-1"})
		y := e.create(e.a, "account", eventual.Values{"name": "y", "accountnumber": "SW-2"})
		z := e.create(e.a, "account", eventual.Values{"name": "z", "accountnumber": "SW-3"})
		w := e.create(e.a, "account", eventual.Values{"name": "w"})
		e.catchUp()
		e.setKey(x, "SW-TMP")
		e.setKey(y, "SW-1")
		e.setKey(x, "SW-2")
		e.setKey(z, "SW-4")
		e.setKey(w, "SW-3")
		e.catchUp()
		e.converged("account")
		if dead := e.deadLetters("account"); len(dead) != 0 {
			t.Errorf("dead letters %v, want none", dead)
		}
	})
}

// TestKeyHeldByTargetsOwnRecord: a key B's own record holds (not written
// by the sync) is a true conflict: A's record stays a dead letter, and B's
// record keeps its key and data.
func TestKeyHeldByTargetsOwnRecord(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) {
		e := newEnv(t, kind, "account")
		mine := e.create(e.b, "account", eventual.Values{"name": "B's own", "accountnumber": "OWN-1"})
		theirs := e.create(e.a, "account", eventual.Values{"name": "A's", "accountnumber": "OWN-1"})
		e.catchUp()
		if dead := e.deadLetters("account"); len(dead) != 1 || dead[0] != theirs {
			t.Errorf("dead letters %v, want A's record %v", dead, theirs)
		}
		b := e.rows(e.b, "account")
		if r := b[mine]; r == nil || r.Values["name"] != "B's own" || r.Values["accountnumber"] != "OWN-1" {
			t.Errorf("B's own record: %v", r)
		}
		if b[theirs] != nil {
			t.Errorf("A's record landed on B beside B's own under one key")
		}
	})
}

// TestKeysRotatedWithSequentialIDs: a ring of twelve records passing keys
// round, with ids a client chose in sequence (they share all but their
// last bytes, so a temporary value made of an id's first hex digits, cut
// to the key's 20 characters, would be one value for all): B ends equal to
// A, with no dead letter and no temporary value left.
func TestKeysRotatedWithSequentialIDs(t *testing.T) {
	for _, batch := range []int{1, 3, 500} {
		forEachStore(t, func(t *testing.T, kind teststore.Kind) {
			e := newEnvWith(t, kind, Options{Tables: []Table{{Name: "account"}}, Adopt: true, Batch: batch})
			const n = 12
			ids := make([]uuid.UUID, n)
			for i := range ids {
				ids[i] = uuid.MustParse(fmt.Sprintf("00000000-0000-0000-0000-%012d", i+1))
				e.createID(e.a, "account", ids[i], eventual.Values{"name": fmt.Sprint("r", i), "accountnumber": fmt.Sprint("K", i)})
			}
			e.catchUp()
			for i, id := range ids {
				e.setKey(id, fmt.Sprint("T", i))
			}
			for i, id := range ids {
				e.setKey(id, fmt.Sprint("K", (i+1)%n))
			}
			e.catchUp()
			e.converged("account")
			if dead := e.deadLetters("account"); len(dead) != 0 {
				t.Errorf("batch %d: dead letters %v, want none", batch, dead)
			}
			for _, r := range e.rows(e.b, "account") {
				if k, _ := r.Values["accountnumber"].(string); strings.HasPrefix(k, "~") {
					t.Errorf("batch %d: %v keeps the temporary key %q", batch, r.ID, k)
				}
			}
		})
	}
}
