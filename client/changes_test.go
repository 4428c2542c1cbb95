package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/instance"
	"github.com/google/uuid"
)

// forEachStoreAccounts runs a test against the Web API over each store
// kind, with the account table.
func forEachStoreAccounts(t *testing.T, fn func(t *testing.T, r *Records, in *instance.Instance, acc *eventual.Table)) {
	forEachStore(t, func(t *testing.T, r *Records, in *instance.Instance, schema *eventual.Schema) {
		fn(t, r, in, schema.Table("account"))
	})
}

// mirror is what a sync keeps of a table: the name of each record.
type mirror map[uuid.UUID]string

// apply applies one read's changes, checking their order (changed records
// first, then deletions) and that no record comes twice.
func (m mirror) apply(t *testing.T, chs []eventual.Change) {
	t.Helper()
	seen := map[uuid.UUID]bool{}
	deleting := false
	for _, ch := range chs {
		if seen[ch.ID] {
			t.Errorf("record %v comes twice in one read", ch.ID)
		}
		seen[ch.ID] = true
		if ch.Deleted {
			deleting = true
			delete(m, ch.ID)
			continue
		}
		if deleting {
			t.Errorf("changed record %v after a deletion", ch.ID)
		}
		if ch.Record == nil || ch.Record.ID != ch.ID {
			t.Fatalf("change %v has record %v", ch.ID, ch.Record)
		}
		m[ch.ID], _ = ch.Record.Values["name"].(string)
	}
}

// check compares the mirror with the instance's accounts.
func (m mirror) check(t *testing.T, in *instance.Instance, acc *eventual.Table) {
	t.Helper()
	page, err := in.RetrieveMultiple(context.Background(), &eventual.Query{Table: acc, Columns: []*eventual.Column{acc.Column("name")}}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != len(m) {
		t.Errorf("mirror has %d records, the instance %d", len(m), len(page.Records))
	}
	for _, rec := range page.Records {
		if got, ok := m[rec.ID]; !ok || got != rec.Values["name"] {
			t.Errorf("mirror's %v = %q (%v), instance's %q", rec.ID, got, ok, rec.Values["name"])
		}
	}
}

// readAll reads every page of a read from since with page size limit and
// returns its changes and the token of the next read.
func readAll(t *testing.T, r *Records, acc *eventual.Table, since string, limit int) ([]eventual.Change, string) {
	t.Helper()
	return readAllWith(t, r, acc, since, limit, nil)
}

// readAllWith is readAll calling between (when not nil) after each page
// but the last.
func readAllWith(t *testing.T, r *Records, acc *eventual.Table, since string, limit int, between func()) ([]eventual.Change, string) {
	t.Helper()
	ctx := context.Background()
	cols := []*eventual.Column{acc.Column("name")}
	var all []eventual.Change
	until, cur := "", eventual.ChangeCursor{}
	for range 1000 {
		page, err := r.Changes(ctx, acc, cols, since, until, cur, limit)
		if err != nil {
			t.Fatalf("changes since %q: %v", since, err)
		}
		if len(page.Changes) > limit {
			t.Fatalf("page of %d changes, limit %d", len(page.Changes), limit)
		}
		all = append(all, page.Changes...)
		if !page.More {
			if page.Token == "" || strings.HasPrefix(page.Token, contPrefix) {
				t.Fatalf("last page's token %q is not a delta token", page.Token)
			}
			return all, page.Token
		}
		last := page.Changes[len(page.Changes)-1]
		until, cur = page.Token, eventual.ChangeCursor{Deleted: last.Deleted, After: last.ID}
		if between != nil {
			between()
		}
	}
	t.Fatal("the read does not end")
	return nil, ""
}

// createAccounts creates n accounts named prefix0, prefix1, ...
func createAccounts(t *testing.T, in *instance.Instance, acc *eventual.Table, prefix string, n int) []uuid.UUID {
	t.Helper()
	ids := make([]uuid.UUID, n)
	for i := range ids {
		id, err := in.Create(context.Background(), &eventual.Entity{Table: acc, Values: eventual.Values{"name": fmt.Sprintf("%s%d", prefix, i)}})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	return ids
}

func rename(t *testing.T, in *instance.Instance, acc *eventual.Table, id uuid.UUID, name string) {
	t.Helper()
	if _, err := in.Update(context.Background(), eventual.Ref(acc, id), eventual.Values{"name": name}, eventual.Condition{}); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, in *instance.Instance, acc *eventual.Table, id uuid.UUID) {
	t.Helper()
	if err := in.Delete(context.Background(), eventual.Ref(acc, id), eventual.Condition{}); err != nil {
		t.Fatal(err)
	}
}

func TestChangesInitialAndDelta(t *testing.T) {
	forEachStoreAccounts(t, func(t *testing.T, r *Records, in *instance.Instance, acc *eventual.Table) {
		ctx := context.Background()
		ids := createAccounts(t, in, acc, "a", 7)
		m := mirror{}
		initial, token := readAll(t, r, acc, "", 2)
		if len(initial) != 7 {
			t.Fatalf("initial read: %d changes, want 7", len(initial))
		}
		m.apply(t, initial)
		m.check(t, in, acc)

		rename(t, in, acc, ids[0], "first")
		rename(t, in, acc, ids[0], "second")
		rename(t, in, acc, ids[1], "one")
		added := createAccounts(t, in, acc, "new", 2)
		remove(t, in, acc, ids[5])
		remove(t, in, acc, ids[6])

		if n, err := r.CountChanges(ctx, acc, token); err != nil || n != 6 {
			t.Errorf("CountChanges = %d, %v; want 6", n, err)
		}
		delta, next := readAll(t, r, acc, token, 2)
		want := map[uuid.UUID]bool{ids[0]: false, ids[1]: false, added[0]: false, added[1]: false, ids[5]: true, ids[6]: true}
		if len(delta) != len(want) {
			t.Errorf("delta: %d changes, want %d: %v", len(delta), len(want), delta)
		}
		for _, ch := range delta {
			if del, ok := want[ch.ID]; !ok || del != ch.Deleted {
				t.Errorf("delta change %v deleted=%v is not expected", ch.ID, ch.Deleted)
			}
		}
		m.apply(t, delta)
		m.check(t, in, acc)
		if m[ids[0]] != "second" {
			t.Errorf("record updated twice reads %q, want second", m[ids[0]])
		}

		again, _ := readAll(t, r, acc, next, 2)
		if len(again) != 0 {
			t.Errorf("delta without writes: %v", again)
		}
		if n, err := r.CountChanges(ctx, acc, next); err != nil || n != 0 {
			t.Errorf("CountChanges without writes = %d, %v", n, err)
		}
	})
}

func TestChangesResumeFromPersistedToken(t *testing.T) {
	forEachStoreAccounts(t, func(t *testing.T, r *Records, in *instance.Instance, acc *eventual.Table) {
		ctx := context.Background()
		ids := createAccounts(t, in, acc, "a", 5)
		_, token := readAll(t, r, acc, "", 10)
		rename(t, in, acc, ids[0], "x")
		rename(t, in, acc, ids[1], "y")
		remove(t, in, acc, ids[2])
		remove(t, in, acc, ids[3])

		page, err := r.Changes(ctx, acc, nil, token, "", eventual.ChangeCursor{}, 3)
		if err != nil || !page.More || len(page.Changes) != 3 {
			t.Fatalf("first page: %v, %v", page, err)
		}
		saved := page.Token // a string a sync persists
		last := page.Changes[2]

		// A new process: a new client and Records for the same endpoint.
		c, err := New(r.c.root.String(), Options{MaxAttempts: 1, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		fresh := NewRecords(c, r.schema)
		rest, err := fresh.Changes(ctx, acc, nil, token, saved, eventual.ChangeCursor{Deleted: last.Deleted, After: last.ID}, 3)
		if err != nil {
			t.Fatalf("resumed page: %v", err)
		}
		if rest.More || len(rest.Changes) != 1 {
			t.Fatalf("resumed page: %d changes, more=%v; want 1, false", len(rest.Changes), rest.More)
		}
		m := mirror{ids[0]: "a0", ids[1]: "a1", ids[2]: "a2", ids[3]: "a3", ids[4]: "a4"}
		m.apply(t, append(page.Changes, rest.Changes...))
		m.check(t, in, acc)
	})
}

func TestChangesBadTokens(t *testing.T) {
	forEachStoreAccounts(t, func(t *testing.T, r *Records, in *instance.Instance, acc *eventual.Table) {
		ctx := context.Background()
		createAccounts(t, in, acc, "a", 3)
		page, err := r.Changes(ctx, acc, nil, "", "", eventual.ChangeCursor{}, 2)
		if err != nil || !page.More {
			t.Fatalf("first page: %v, %v", page, err)
		}
		last := page.Changes[1]
		cont, err := decodeContToken(page.Token)
		if err != nil {
			t.Fatal(err)
		}
		tampered := cont
		tampered.Next = strings.Replace(cont.Next, "pagenumber", "pagenumbr", 1)
		if tampered.Next == cont.Next {
			t.Fatalf("next link %q has no pagenumber", cont.Next)
		}
		_, delta := readAll(t, r, acc, "", 10)
		shape := delta[strings.LastIndexByte(delta, '!'):]
		cases := []struct {
			name         string
			since, until string
			cur          eventual.ChangeCursor
			server       bool // the server refuses it, with a 400
		}{
			{"other cursor", "", page.Token, eventual.ChangeCursor{After: page.Changes[0].ID}, false},
			{"cursor among deletions", "", page.Token, eventual.ChangeCursor{Deleted: true, After: last.ID}, false},
			{"other since", delta, page.Token, eventual.ChangeCursor{After: last.ID}, false},
			{"cursor without until", "", "", eventual.ChangeCursor{After: last.ID}, false},
			{"garbage until", "", "garbage", eventual.ChangeCursor{After: last.ID}, false},
			{"damaged until", "", contPrefix + "!!", eventual.ChangeCursor{After: last.ID}, false},
			{"tampered next link", "", tampered.encode(), eventual.ChangeCursor{After: last.ID}, true},
			{"garbage since", "garbage", "", eventual.ChangeCursor{}, true},
			{"unknown position", "zz" + shape, "", eventual.ChangeCursor{}, true},
			{"expired since", strings.Split(delta, "!")[0] + "!01/01/2020 00:00:00", "", eventual.ChangeCursor{}, true},
		}
		for _, tc := range cases {
			_, err := r.Changes(ctx, acc, nil, tc.since, tc.until, tc.cur, 2)
			if !errors.Is(err, eventual.ErrBadToken) || !errors.Is(err, eventual.ErrTokenNotValid) {
				t.Errorf("%s: %v, want ErrBadToken", tc.name, err)
				continue
			}
			if eventual.ErrorKind(err) != eventual.KindInvalid {
				t.Errorf("%s: kind %v, want invalid", tc.name, eventual.ErrorKind(err))
			}
			if e, ok := errors.AsType[*Error](err); ok != tc.server || ok && e.StatusCode != 400 {
				t.Errorf("%s: server error %v, want one: %v", tc.name, e, tc.server)
			}
		}
		if _, err := r.CountChanges(ctx, acc, "garbage"); !errors.Is(err, eventual.ErrBadToken) {
			t.Errorf("CountChanges of garbage: %v, want ErrBadToken", err)
		}
		// The right cursor still works after all that.
		if _, err := r.Changes(ctx, acc, nil, "", page.Token, eventual.ChangeCursor{After: last.ID}, 2); err != nil {
			t.Errorf("continuing: %v", err)
		}
	})
}

// TestChangesRacingWrites writes while deltas are paged, from a goroutine
// and between the pages of each read: a mirror fed the deltas, and then one
// more after the writes stop, ends equal to the instance, so no change was
// lost (each is in the delta that read it or the next).
func TestChangesRacingWrites(t *testing.T) {
	forEachStoreAccounts(t, func(t *testing.T, r *Records, in *instance.Instance, acc *eventual.Table) {
		ids := createAccounts(t, in, acc, "a", 12)
		m := mirror{}
		initial, token := readAll(t, r, acc, "", 3)
		m.apply(t, initial)

		var wg sync.WaitGroup
		stop, warm, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done)
			for i := 0; i < 200; i++ {
				select {
				case <-stop:
					return
				default:
				}
				write(t, in, acc, ids, i)
				if i == 10 {
					close(warm) // the first delta has pages
				}
			}
		}()
		<-warm
		n, reads := 1000, 0
		between := func() { n++; write(t, in, acc, ids, n) }
		for running := true; running && reads < 20; reads++ { // deltas while the writers go on
			select {
			case <-done:
				running = false
			default:
			}
			var delta []eventual.Change
			delta, token = readAllWith(t, r, acc, token, 2, between)
			m.apply(t, delta)
		}
		t.Logf("%d deltas, %d writes between pages", reads, n-1000)
		close(stop)
		wg.Wait()
		delta, _ := readAll(t, r, acc, token, 2) // the next delta sees the rest
		m.apply(t, delta)
		m.check(t, in, acc)
	})
}

// write is the i-th write of a racing writer: an update, a create or a
// delete of one of the ids (a missing one is skipped). It reports with
// t.Error, so a goroutine may call it.
func write(t *testing.T, in *instance.Instance, acc *eventual.Table, ids []uuid.UUID, i int) {
	ctx := context.Background()
	var err error
	switch id := ids[i%len(ids)]; i % 4 {
	case 0, 1:
		_, err = in.Update(ctx, eventual.Ref(acc, id), eventual.Values{"name": fmt.Sprint("w", i)}, eventual.Condition{})
	case 2:
		_, err = in.Create(ctx, &eventual.Entity{Table: acc, Values: eventual.Values{"name": fmt.Sprint("c", i)}})
	case 3:
		if i%8 == 3 {
			err = in.Delete(ctx, eventual.Ref(acc, id), eventual.Condition{})
		}
	}
	if err != nil && !IsNotFound(err) {
		t.Errorf("write %d: %v", i, err)
	}
}

func TestTracker(t *testing.T) {
	forEachStoreAccounts(t, func(t *testing.T, r *Records, in *instance.Instance, acc *eventual.Table) {
		ctx := context.Background()
		ids := createAccounts(t, in, acc, "a", 7)
		tr := r.Track(acc, []*eventual.Column{acc.Column("name")}, "")
		tr.PageSize = 2
		var got []eventual.Change
		for ch, err := range tr.Changes(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ch)
			if len(got) == 3 {
				break
			}
		}
		if tr.Token() != "" || tr.DeltaLink() != "" {
			t.Errorf("after a break: token %q, link %q; want none yet", tr.Token(), tr.DeltaLink())
		}
		for ch, err := range tr.Changes(ctx) { // continues after the third
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ch)
		}
		m := mirror{}
		m.apply(t, got)
		m.check(t, in, acc)
		link, err := url.Parse(tr.DeltaLink())
		if err != nil || tr.Token() == "" || link.Query().Get("$deltatoken") != tr.Token() {
			t.Fatalf("delta link %q (%v), token %q", tr.DeltaLink(), err, tr.Token())
		}

		rename(t, in, acc, ids[3], "renamed")
		remove(t, in, acc, ids[4])
		got = got[:0]
		for ch, err := range tr.Changes(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ch)
		}
		if len(got) != 2 || got[0].ID != ids[3] || !got[1].Deleted || got[1].ID != ids[4] {
			t.Errorf("delta = %v, want update of %v then deletion of %v", got, ids[3], ids[4])
		}
		m.apply(t, got)
		m.check(t, in, acc)

		bad := r.Track(acc, nil, "garbage")
		n := 0
		for _, err := range bad.Changes(ctx) {
			n++
			if !errors.Is(err, eventual.ErrBadToken) {
				t.Errorf("garbage token: %v, want ErrBadToken", err)
			}
		}
		if n != 1 || bad.Token() != "garbage" {
			t.Errorf("garbage token: %d yields, token %q", n, bad.Token())
		}
	})
}
