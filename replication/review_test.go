package replication

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/teststore"
	"github.com/google/uuid"
)

// These tests are a hostile review of the sync: each asserts documented
// behaviour; a test that found a bug is kept and skipped with "BUG:".

// createID creates a record with a chosen primary key on an instance.
func (e *env) createID(in interface {
	Create(context.Context, *eventual.Entity) (uuid.UUID, error)
}, table string, id uuid.UUID, vals eventual.Values) uuid.UUID {
	e.t.Helper()
	got, err := in.Create(e.ctx, &eventual.Entity{Table: e.schema.Table(table), ID: id, Values: vals})
	if err != nil {
		e.t.Fatalf("create %s: %v", table, err)
	}
	return got
}

// firstFailsTarget fails the first bulk write (slowly, after the second
// one has succeeded) with a retryable error; the others go through.
type firstFailsTarget struct {
	eventual.RecordService
	mu       sync.Mutex
	calls    int
	secondOK chan struct{}
	// first, when set, names (by name) the records of the page that
	// fails, whichever call it comes in; else the first call fails.
	first map[string]bool
}

var errFlaky = errors.New("connection reset (review)")

func (f *firstFailsTarget) UpsertMultiple(ctx context.Context, targets []eventual.BulkTarget) error {
	f.mu.Lock()
	f.calls++
	n := f.calls
	fail := n == 1
	if f.first != nil {
		name, _ := targets[0].Entity.Values["name"].(string)
		if fail = f.first[name]; fail {
			f.first = map[string]bool{} // once
		}
	}
	byName := f.first != nil
	f.mu.Unlock()
	if fail {
		f.mu.Lock()
		ok := f.secondOK
		f.mu.Unlock()
		select { // fail only after the second page was acknowledged
		case <-ok:
		case <-time.After(2 * time.Second):
		}
		return errFlaky
	}
	err := f.RecordService.UpsertMultiple(ctx, targets)
	f.mu.Lock()
	if f.secondOK != nil && (n == 2 || byName) {
		close(f.secondOK)
		f.secondOK = nil
	}
	f.mu.Unlock()
	return err
}

// TestReviewPipelineFirstPageFails: with two pages in flight, the first
// fails (retryable) after the second succeeded: the cursor must not pass
// the first page, and the next cycle redoes both and converges.
func TestReviewPipelineFirstPageFails(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) {
		e := newEnv(t, kind, "account")
		for i := range 9 {
			e.create(e.a, "account", eventual.Values{"name": "acc", "accountnumber": string(rune('a' + i))})
		}
		f := &firstFailsTarget{RecordService: e.sync.opts.Target, secondOK: make(chan struct{})}
		e.sync.opts.Target = f
		err := e.sync.CatchUp(e.ctx)
		if !errors.Is(err, errFlaky) {
			t.Fatalf("catch up with the first page failing: %v, want the failure", err)
		}
		cur, _ := e.state.Cursor(e.ctx, "account")
		if cur.After != uuid.Nil || cur.Since != "" || cur.Until != "" {
			t.Errorf("after the first page failed the cursor is %+v: it went past the failed page", cur)
		}
		e.catchUp()
		e.converged("account")
	})
}

// failCommitState fails every Commit of one pair after a number of
// commits, as a sync killed after B acknowledged but before the state
// recorded it.
type failCommitState struct {
	State
	pair string
	left int
}

func (f *failCommitState) Commit(ctx context.Context, pair string, c Commit) error {
	if pair == f.pair && !c.KeepCursor { // the write-ahead of keys comes before the target write
		if f.left == 0 {
			return errCrash
		}
		f.left--
	}
	return f.State.Commit(ctx, pair, c)
}

// TestReviewKeyCrashThenDelete: matched by key, a page B acknowledged but
// the state did not record (a crash between the two) is written again
// after the restart: "a page may be written again, never skipped". If the
// record is deleted on A meanwhile, the restarted sync must delete it on
// B too (B must converge to A), as it does when matched by GUID.
func TestReviewKeyCrashThenDelete(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) {
		e := newEnvWith(t, kind, Options{Tables: []Table{{Name: "account", Key: "accountnumber_key"}}})
		acc := e.schema.Table("account")
		doomed, mem := crashAfterAck(t, e, eventual.Values{"name": "doomed", "accountnumber": "K1"})
		if n := len(e.rows(e.b, "account")); n != 2 {
			t.Fatalf("%d accounts on B after the write, want 2 (the write reached B)", n)
		}
		if err := e.a.Delete(e.ctx, eventual.Ref(acc, doomed), eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		restarted, err := New(e.sync.opts)
		if err != nil {
			t.Fatal(err)
		}
		restarted.opts.State = mem
		e.sync = restarted
		e.catchUp()
		for _, r := range e.rows(e.b, "account") {
			if r.Values["accountnumber"] == "K1" {
				t.Errorf("B still holds K1 (%v), deleted on A: the restarted sync never deletes it", r.Values["name"])
			}
		}
	})
}

// TestReviewKeyPassesAcrossPages: A moves X's key K1 to K2 and then gives
// K1 to a new record Y. The feed is ordered by GUID, so Y (the smaller
// GUID) comes in a page before X. B must hold both: Y under K1, X under
// K2 ("a key that changes on A moves B's record rather than adding one").
func TestReviewKeyPassesAcrossPages(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) {
		e := newEnvWith(t, kind, Options{Tables: []Table{{Name: "account", Key: "accountnumber_key"}}, Batch: 1, Writers: 1})
		acc := e.schema.Table("account")
		x := e.createID(e.a, "account", uuid.MustParse("ffffffff-0000-0000-0000-000000000001"), eventual.Values{"name": "X", "accountnumber": "K1"})
		e.catchUp()
		if _, err := e.a.Update(e.ctx, eventual.Ref(acc, x), eventual.Values{"accountnumber": "K2"}, eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		e.createID(e.a, "account", uuid.MustParse("00000000-0000-0000-0000-000000000001"), eventual.Values{"name": "Y", "accountnumber": "K1"})
		e.catchUp()
		e.convergedByKeyTables("account")
	})
}

// convergedByKeyTables is convergedByKey's check of values by key, for
// the given tables only (no lookups).
func (e *env) convergedByKeyTables(tables ...string) {
	e.t.Helper()
	for _, name := range tables {
		t := e.schema.Table(name)
		key := func(r *eventual.Record) string {
			s := ""
			for _, c := range t.Keys[0].Columns {
				s += "|" + toString(r.Values[c.LogicalName])
			}
			return s
		}
		bs := map[string]*eventual.Record{}
		for _, r := range e.rows(e.b, name) {
			if bs[key(r)] != nil {
				e.t.Errorf("%s: two records on B with key %s", name, key(r))
			}
			bs[key(r)] = r
		}
		for _, ar := range e.rows(e.a, name) {
			br := bs[key(ar)]
			if br == nil {
				e.t.Errorf("%s %s (%v) is missing on B", name, key(ar), ar.Values[t.PrimaryNameAttribute])
				continue
			}
			delete(bs, key(ar))
			if !sameValue(ar.Values[t.PrimaryNameAttribute], br.Values[t.PrimaryNameAttribute]) {
				e.t.Errorf("%s %s: name %v on A, %v on B", name, key(ar), ar.Values[t.PrimaryNameAttribute], br.Values[t.PrimaryNameAttribute])
			}
		}
		for k, r := range bs {
			e.t.Errorf("%s %s (%v) is on B, not on A", name, k, r.Values[t.PrimaryNameAttribute])
		}
	}
}

func toString(v any) string {
	if v == nil {
		return "<nil>"
	}
	if s, ok := v.(string); ok {
		return s
	}
	return "?"
}

// TestReviewKeyAwkwardValues: matched by key, key values that need
// escaping in a key segment (quotes, slashes, percent, hash, question
// mark, plus, spaces, non-ASCII) are created, changed and deleted on B
// like any other, contacts referencing them bound by key, no dead letter.
func TestReviewKeyAwkwardValues(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) {
		e := newEnvWith(t, kind, Options{Tables: []Table{
			{Name: "contact", Key: "firstname,emailaddress1"}, // contacts first: their accounts arrive after, by key
			{Name: "account", Key: "accountnumber_key"},
		}})
		acc, con := e.schema.Table("account"), e.schema.Table("contact")
		vals := []string{"O'Brien", "a/b", "50%", "x#y", "a?b", "a+b", " sp ", "é ü 日本", "a''b", "a&b=c", `back\slash`, "colon:semi;", "(paren)", "comma,x"}
		ids := map[string]uuid.UUID{}
		for _, v := range vals {
			ids[v] = e.create(e.a, "account", eventual.Values{"name": "acc " + v, "accountnumber": v})
			e.create(e.a, "contact", eventual.Values{"firstname": v, "lastname": "l", "emailaddress1": v + "@x", "parentcustomerid": eventual.Ref(acc, ids[v])})
		}
		e.catchUp()
		e.convergedByKey()
		for _, v := range vals[:5] {
			if _, err := e.a.Update(e.ctx, eventual.Ref(acc, ids[v]), eventual.Values{"accountnumber": v + "'2"}, eventual.Condition{}); err != nil {
				t.Fatal(err)
			}
		}
		for _, v := range vals[5:8] {
			if err := e.a.Delete(e.ctx, eventual.Ref(acc, ids[v]), eventual.Condition{}); err != nil {
				t.Fatal(err)
			}
		}
		_ = con
		e.catchUp()
		e.convergedByKeyTables("account")
		if dead, _ := e.state.DeadLetters(e.ctx, ""); len(dead) > 0 {
			for _, d := range dead {
				t.Errorf("dead letter %s %v: %s", d.Pair, d.ID, d.Message)
			}
		}
	})
}

// TestReviewKeyMissingValues: matched by key, a record with no value for
// its key (or for one column of a composite key) becomes a dead letter,
// the rest goes on; once A gives it a key it arrives and its letter goes.
func TestReviewKeyMissingValues(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) {
		e := newEnvWith(t, kind, Options{Tables: []Table{
			{Name: "account", Key: "accountnumber_key"},
			{Name: "contact", Key: "firstname,emailaddress1"},
		}})
		acc, con := e.schema.Table("account"), e.schema.Table("contact")
		e.create(e.a, "account", eventual.Values{"name": "ok", "accountnumber": "K1"})
		noKey := e.create(e.a, "account", eventual.Values{"name": "no key"})
		e.create(e.a, "contact", eventual.Values{"firstname": "F", "lastname": "ok", "emailaddress1": "f@x"})
		half := e.create(e.a, "contact", eventual.Values{"firstname": "G", "lastname": "half"})
		e.catchUp()
		dead, _ := e.state.DeadLetters(e.ctx, "")
		got := map[uuid.UUID]bool{}
		for _, d := range dead {
			got[d.ID] = true
		}
		if len(dead) != 2 || !got[noKey] || !got[half] {
			t.Fatalf("dead letters %+v, want the account without key and the contact with half a key", dead)
		}
		if n := len(e.rows(e.b, "account")); n != 1 {
			t.Errorf("%d accounts on B, want 1", n)
		}
		if _, err := e.a.Update(e.ctx, eventual.Ref(acc, noKey), eventual.Values{"accountnumber": "K2"}, eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.a.Update(e.ctx, eventual.Ref(con, half), eventual.Values{"emailaddress1": "g@x"}, eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		e.catchUp()
		e.convergedByKey()
		if dead, _ := e.state.DeadLetters(e.ctx, ""); len(dead) != 0 {
			t.Errorf("dead letters after the keys were given: %+v", dead)
		}
	})
}

// TestReviewKeyResyncReuse: matched by key, while the delta token is
// expired A deletes X (K1), gives K1 to a new Y, changes Z's key K3 to
// K4 and deletes W (K5). The resync's sweep must delete W on B, keep
// Y's record (K1), and B must equal A by key.
func TestReviewKeyResyncReuse(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) {
		e := newEnvWith(t, kind, Options{Tables: []Table{{Name: "account", Key: "accountnumber_key"}}})
		acc := e.schema.Table("account")
		x := e.create(e.a, "account", eventual.Values{"name": "X", "accountnumber": "K1"})
		e.create(e.a, "account", eventual.Values{"name": "V", "accountnumber": "K2"})
		z := e.create(e.a, "account", eventual.Values{"name": "Z", "accountnumber": "K3"})
		w := e.create(e.a, "account", eventual.Values{"name": "W", "accountnumber": "K5"})
		e.catchUp()
		own := e.create(e.b, "account", eventual.Values{"name": "B's own", "accountnumber": "B1"})
		for _, id := range []uuid.UUID{x, w} {
			if err := e.a.Delete(e.ctx, eventual.Ref(acc, id), eventual.Condition{}); err != nil {
				t.Fatal(err)
			}
		}
		e.create(e.a, "account", eventual.Values{"name": "Y", "accountnumber": "K1"})
		if _, err := e.a.Update(e.ctx, eventual.Ref(acc, z), eventual.Values{"accountnumber": "K4"}, eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		cur, _ := e.state.Cursor(e.ctx, "account")
		cur.Since = "9!expired"
		if err := e.state.Commit(e.ctx, "account", Commit{Cursor: cur}); err != nil {
			t.Fatal(err)
		}
		e.catchUp()
		bs := e.rows(e.b, "account")
		if _, ok := bs[own]; !ok {
			t.Error("the resync deleted B's own record")
		}
		delete(bs, own)
		if err := e.b.Delete(e.ctx, eventual.Ref(acc, own), eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		e.convergedByKeyTables("account")
		if cur, _ := e.state.Cursor(e.ctx, "account"); cur.Phase != PhaseDelta {
			t.Errorf("cursor after the resync: %+v", cur)
		}
	})
}

// refusingSource refuses, once, the page token of its nth read.
type refusingSource struct {
	eventual.RecordService
	mu      sync.Mutex
	reads   int
	refuse  int
	refused bool
}

func (r *refusingSource) Changes(ctx context.Context, t *eventual.Table, columns []*eventual.Column, since, until string, cur eventual.ChangeCursor, limit int) (*eventual.ChangePage, error) {
	r.mu.Lock()
	r.reads++
	refuse := !r.refused && r.reads >= r.refuse && until != ""
	if refuse {
		r.refused = true
	}
	r.mu.Unlock()
	if refuse {
		return nil, eventual.ErrTokenNotValid
	}
	return r.RecordService.Changes(ctx, t, columns, since, until, cur, limit)
}

// slowTarget makes every bulk write slow, so pages are in flight while
// the next is read, and calls hook (if set) at the start of each.
type slowTarget struct {
	eventual.RecordService
	mu    sync.Mutex
	calls int
	hook  func(n int)
}

func (s *slowTarget) UpsertMultiple(ctx context.Context, targets []eventual.BulkTarget) error {
	s.mu.Lock()
	s.calls++
	n := s.calls
	s.mu.Unlock()
	if s.hook != nil {
		s.hook(n)
	}
	time.Sleep(20 * time.Millisecond)
	return s.RecordService.UpsertMultiple(ctx, targets)
}

// TestReviewPageTokenRefusedInFlight: the source refuses a page token of
// the initial read while pages are being written; the read starts again
// and B converges, without error, within the same catch-up; likewise for
// a delta read of several pages.
func TestReviewPageTokenRefusedInFlight(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) {
		e := newEnv(t, kind, "account")
		acc := e.schema.Table("account")
		var ids []uuid.UUID
		var parent uuid.UUID
		for i := range 14 {
			vals := eventual.Values{"name": "acc"}
			if parent != uuid.Nil && i%3 == 0 {
				vals["parentaccountid"] = eventual.Ref(acc, parent)
			}
			id := e.create(e.a, "account", vals)
			if i%5 == 0 {
				parent = id
			}
			ids = append(ids, id)
		}
		src := &refusingSource{RecordService: e.sync.opts.Source, refuse: 3}
		e.sync.opts.Source = src
		e.sync.opts.Target = &slowTarget{RecordService: e.sync.opts.Target}
		e.catchUp()
		e.converged("account")
		if !src.refused {
			t.Fatal("the source never refused a page token")
		}
		for _, id := range ids {
			if _, err := e.a.Update(e.ctx, eventual.Ref(acc, id), eventual.Values{"name": "changed"}, eventual.Condition{}); err != nil {
				t.Fatal(err)
			}
		}
		src.mu.Lock()
		src.refused, src.refuse = false, src.reads+3
		src.mu.Unlock()
		e.catchUp()
		e.converged("account")
		if !src.refused {
			t.Fatal("the source never refused a delta's page token")
		}
	})
}

// TestReviewCancelInFlight: the context ends (SIGTERM) while pages are
// in flight. Whatever the state says was applied must be on B with that
// version (never committed past an acknowledgement), and a restart on the
// same state converges.
func TestReviewCancelInFlight(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) {
		for at := 2; at <= 4; at++ {
			e := newEnv(t, kind, "account")
			for range 15 {
				e.create(e.a, "account", eventual.Values{"name": "acc"})
			}
			ctx, cancel := context.WithCancel(e.ctx)
			tg := &slowTarget{RecordService: e.sync.opts.Target, hook: func(n int) {
				if n == at {
					cancel()
				}
			}}
			e.sync.opts.Target = tg
			err := e.sync.CatchUp(ctx)
			cancel()
			if err == nil {
				t.Fatalf("cancel at write %d: catch up ended without error", at)
			}
			mem := e.state.(*memState)
			bs := e.rows(e.b, "account")
			mem.mu.Lock()
			for id, a := range mem.applied["account"] {
				// Version 0 is a write-ahead (the record may have been
				// written); only an acknowledged write has its version.
				if _, ok := bs[id]; !ok && !a.Deleted && a.Version != 0 {
					t.Errorf("cancel at write %d: the state says %v was applied (version %d); B does not have it", at, id, a.Version)
				}
			}
			mem.mu.Unlock()
			restarted, err := New(e.sync.opts)
			if err != nil {
				t.Fatal(err)
			}
			e.sync = restarted
			e.catchUp()
			e.converged("account")
		}
	})
}

// TestReviewKeyMovesToDeletedRecordsKey: matched by key, in one delta A
// deletes X (K1) and changes Y's key from K2 to K1. B must end with one
// record, Y's, under K1, and nothing under K2 ("a key that changes on A
// moves B's record rather than adding one").
func TestReviewKeyMovesToDeletedRecordsKey(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) {
		e := newEnvWith(t, kind, Options{Tables: []Table{{Name: "account", Key: "accountnumber_key"}}})
		acc := e.schema.Table("account")
		x := e.create(e.a, "account", eventual.Values{"name": "X", "accountnumber": "K1"})
		y := e.create(e.a, "account", eventual.Values{"name": "Y", "accountnumber": "K2"})
		e.catchUp()
		if err := e.a.Delete(e.ctx, eventual.Ref(acc, x), eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.a.Update(e.ctx, eventual.Ref(acc, y), eventual.Values{"accountnumber": "K1"}, eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		e.catchUp()
		e.convergedByKeyTables("account")
	})
}

// TestReviewKeySwap: matched by key, A swaps the keys of X and Y (through
// a third value), each with a contact. B must hold X under K2 and Y under
// K1, and each contact must still reference its own account's record.
func TestReviewKeySwap(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) {
		e := newEnvWith(t, kind, Options{Tables: []Table{
			{Name: "account", Key: "accountnumber_key"},
			{Name: "contact", Key: "firstname,emailaddress1"},
		}})
		acc := e.schema.Table("account")
		x := e.create(e.a, "account", eventual.Values{"name": "X", "accountnumber": "K1"})
		y := e.create(e.a, "account", eventual.Values{"name": "Y", "accountnumber": "K2"})
		e.create(e.a, "contact", eventual.Values{"firstname": "CX", "lastname": "x", "emailaddress1": "x@x", "parentcustomerid": eventual.Ref(acc, x)})
		e.create(e.a, "contact", eventual.Values{"firstname": "CY", "lastname": "y", "emailaddress1": "y@x", "parentcustomerid": eventual.Ref(acc, y)})
		e.catchUp()
		e.convergedByKey()
		for _, step := range []struct {
			id  uuid.UUID
			key string
		}{{x, "TMP"}, {y, "K1"}, {x, "K2"}} {
			if _, err := e.a.Update(e.ctx, eventual.Ref(acc, step.id), eventual.Values{"accountnumber": step.key}, eventual.Condition{}); err != nil {
				t.Fatal(err)
			}
		}
		e.catchUp()
		e.convergedByKey()
	})
}

// TestReviewKeyPlaceholderByGUIDAfterSync: matched by key, the sync wrote
// K1 (B's GUID); then an order on B references the account by A's GUID,
// so B makes a placeholder under it. The next cycles must not leave a
// dead letter for a record B already has, nor a placeholder pending.
func TestReviewKeyPlaceholderByGUIDAfterSync(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) {
		e := newEnvWith(t, kind, Options{Tables: []Table{{Name: "account", Key: "accountnumber_key"}}})
		acc := e.schema.Table("account")
		x := e.create(e.a, "account", eventual.Values{"name": "X", "accountnumber": "K1"})
		e.catchUp()
		e.create(e.b, "new_order", eventual.Values{"new_name": "late", "new_customer": eventual.Ref(acc, x)})
		e.catchUp()
		e.catchUp()
		if dead, _ := e.state.DeadLetters(e.ctx, ""); len(dead) > 0 {
			t.Errorf("dead letters: %s %v %s", dead[0].Pair, dead[0].ID, dead[0].Message)
		}
		for id, r := range e.rows(e.b, "account") {
			if r.Values[eventual.ColumnHydrationState] == eventual.HydrationPlaceholder {
				t.Errorf("B's account %v is still a placeholder", id)
			}
		}
	})
}

// TestReviewResyncPipelined: an expired token's full re-read spans many
// pages written two at a time (slowly, so they are in flight together);
// the sweep still runs at its end and deletes on B what A no longer has.
func TestReviewResyncPipelined(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) {
		e := newEnv(t, kind, "account")
		acc := e.schema.Table("account")
		var ids []uuid.UUID
		for range 16 {
			ids = append(ids, e.create(e.a, "account", eventual.Values{"name": "acc"}))
		}
		e.catchUp()
		for _, id := range ids[:5] {
			if err := e.a.Delete(e.ctx, eventual.Ref(acc, id), eventual.Condition{}); err != nil {
				t.Fatal(err)
			}
		}
		for _, id := range ids[5:] {
			if _, err := e.a.Update(e.ctx, eventual.Ref(acc, id), eventual.Values{"name": "changed"}, eventual.Condition{}); err != nil {
				t.Fatal(err)
			}
		}
		cur, _ := e.state.Cursor(e.ctx, "account")
		cur.Since = "9!expired"
		if err := e.state.Commit(e.ctx, "account", Commit{Cursor: cur}); err != nil {
			t.Fatal(err)
		}
		tg := &slowTarget{RecordService: e.sync.opts.Target}
		e.sync.opts.Target = tg
		e.catchUp()
		e.converged("account")
		if tg.calls < 3 {
			t.Errorf("the re-read wrote %d pages, want several", tg.calls)
		}
	})
}

// TestReviewKeylessDeadLetterThenDeleted: matched by key, a record with
// no key is a dead letter; when A deletes it, the letter goes (nothing is
// left undone), and B is untouched.
func TestReviewKeylessDeadLetterThenDeleted(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) {
		e := newEnvWith(t, kind, Options{Tables: []Table{{Name: "account", Key: "accountnumber_key"}}})
		acc := e.schema.Table("account")
		e.create(e.a, "account", eventual.Values{"name": "ok", "accountnumber": "K1"})
		bad := e.create(e.a, "account", eventual.Values{"name": "no key"})
		e.catchUp()
		if dead, _ := e.state.DeadLetters(e.ctx, "account"); len(dead) != 1 || dead[0].ID != bad {
			t.Fatalf("dead letters %+v, want the keyless record", dead)
		}
		if err := e.a.Delete(e.ctx, eventual.Ref(acc, bad), eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		e.catchUp()
		if dead, _ := e.state.DeadLetters(e.ctx, "account"); len(dead) != 0 {
			t.Errorf("dead letters after the record was deleted on A: %+v", dead)
		}
		e.convergedByKeyTables("account")
	})
}

// TestReviewKeyCrashThenKeyChange: matched by key, a page B acknowledged
// but the state did not record (crash); A then changes the record's key.
// After the restart B must hold the record once, under its new key.
func TestReviewKeyCrashThenKeyChange(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) {
		e := newEnvWith(t, kind, Options{Tables: []Table{{Name: "account", Key: "accountnumber_key"}}})
		acc := e.schema.Table("account")
		x, mem := crashAfterAck(t, e, eventual.Values{"name": "X", "accountnumber": "K1"})
		if _, err := e.a.Update(e.ctx, eventual.Ref(acc, x), eventual.Values{"accountnumber": "K2"}, eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		restarted, err := New(e.sync.opts)
		if err != nil {
			t.Fatal(err)
		}
		restarted.opts.State = mem
		e.sync = restarted
		e.catchUp()
		e.convergedByKeyTables("account")
	})
}

// TestReviewKeyPipelineFailureThenDelete: matched by key, with no crash
// at all: the first of two pages in flight fails (retryable, B briefly
// down) while the second succeeds, so B holds the second page's records
// and the state does not. A then deletes one of them and changes the key
// of another. The next cycle must leave B equal to A by key.
func TestReviewKeyPipelineFailureThenDelete(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) {
		e := newEnvWith(t, kind, Options{Tables: []Table{{Name: "account", Key: "accountnumber_key"}}})
		ids := secondPageLands(t, e, func(i int) eventual.Values {
			return eventual.Values{"name": "acc", "accountnumber": string(rune('a' + i))}
		})
		acc := e.schema.Table("account")
		if err := e.a.Delete(e.ctx, eventual.Ref(acc, ids[3]), eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.a.Update(e.ctx, eventual.Ref(acc, ids[4]), eventual.Values{"accountnumber": "moved"}, eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		e.catchUp()
		e.convergedByKeyTables("account")
	})
}

// TestPipelineFailureThenDeleteByGUID: matched by GUID, the first of two
// pages in flight fails while the second lands on B; A then deletes one
// of the second page's records. The initial read starts again from
// scratch (nothing of it was committed), so no delta will report that
// deletion: the sweep at its end must remove the record, which the state
// knows from the write-ahead of the full read's records.
func TestPipelineFailureThenDeleteByGUID(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind teststore.Kind) {
		e := newEnv(t, kind, "account")
		ids := secondPageLands(t, e, func(i int) eventual.Values { return eventual.Values{"name": "acc " + strconv.Itoa(i)} })
		if err := e.a.Delete(e.ctx, eventual.Ref(e.schema.Table("account"), ids[3]), eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		e.catchUp()
		e.converged("account")
	})
}

// secondPageLands creates 9 accounts on A (named "acc i") and runs an
// initial load, in pages of 3, whose first page fails while the second
// lands on B. It
// returns the accounts' ids in the feed's (GUID) order: ids[3:6] are the
// page on B that the state did not commit.
func secondPageLands(t *testing.T, e *env, vals func(i int) eventual.Values) []uuid.UUID {
	t.Helper()
	var ids []uuid.UUID
	names := map[uuid.UUID]string{}
	for i := range 9 {
		v := vals(i)
		v["name"] = "acc " + strconv.Itoa(i)
		id := e.create(e.a, "account", v)
		ids, names[id] = append(ids, id), v["name"].(string)
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	first := map[string]bool{names[ids[0]]: true, names[ids[1]]: true, names[ids[2]]: true}
	e.sync.opts.Target = &firstFailsTarget{RecordService: e.sync.opts.Target, secondOK: make(chan struct{}), first: first}
	if err := e.sync.CatchUp(e.ctx); !errors.Is(err, errFlaky) {
		t.Fatalf("catch up with the first page failing: %v", err)
	}
	if n := len(e.rows(e.b, "account")); n != 3 {
		t.Fatalf("%d accounts on B, want the second page's 3", n)
	}
	return ids
}

// crashAfterAck loads one account, then creates another with vals on A
// and runs a sync whose state fails every commit of a cursor, as a sync
// killed after B acknowledged the page. It returns the record's id and
// the state underneath, for a restart.
func crashAfterAck(t *testing.T, e *env, vals eventual.Values) (uuid.UUID, State) {
	t.Helper()
	e.create(e.a, "account", eventual.Values{"name": "first", "accountnumber": "K0"})
	e.catchUp()
	id := e.create(e.a, "account", vals)
	mem := e.state
	e.sync.opts.State = &failCommitState{State: mem, pair: "account"}
	if err := e.sync.CatchUp(e.ctx); !errors.Is(err, errCrash) {
		t.Fatalf("crash at the commit: %v", err)
	}
	return id, mem
}
