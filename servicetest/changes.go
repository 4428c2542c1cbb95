package servicetest

import (
	"errors"
	"maps"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// readChanges reads every change since a token, pages of limit, the way
// every caller pages (see RecordService.Changes), and returns them with
// the token of the next read.
func (s *suite) readChanges(t *eventual.Table, since string, limit int) ([]eventual.Change, string) {
	s.t.Helper()
	var all []eventual.Change
	until, cur := "", eventual.ChangeCursor{}
	for range 1000 {
		page, err := s.svc.Changes(s.ctx, t, []*eventual.Column{t.PrimaryName()}, since, until, cur, limit)
		if err != nil {
			s.t.Fatalf("changes since %q: %v", since, err)
		}
		if len(page.Changes) > limit {
			s.t.Fatalf("a page of %d changes, limit %d", len(page.Changes), limit)
		}
		all = append(all, page.Changes...)
		if !page.More {
			return all, page.Token
		}
		last := page.Changes[len(page.Changes)-1]
		until, cur = page.Token, eventual.ChangeCursor{Deleted: last.Deleted, After: last.ID}
	}
	s.t.Fatal("changes do not end")
	return nil, ""
}

// testChanges: the initial read returns every record once; a delta
// returns what changed since (latest state, once each), then deletions.
func testChanges(t *testing.T, s *suite) {
	acc := s.table("account")
	mirror := map[uuid.UUID]string{}
	var refs []eventual.EntityReference
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		refs = append(refs, s.create(acc, eventual.Values{"name": n}))
	}
	apply := func(chs []eventual.Change) {
		deleting := false
		for _, ch := range chs {
			if ch.Deleted {
				deleting = true
				delete(mirror, ch.ID)
				continue
			}
			if deleting {
				t.Errorf("a changed record %v after a deletion", ch.ID)
			}
			mirror[ch.ID] = ch.Record.Values["name"].(string)
		}
	}
	chs, token := s.readChanges(acc, "", 2)
	if len(chs) != 5 {
		t.Errorf("initial read: %d changes, want 5", len(chs))
	}
	apply(chs)
	for range 2 {
		if _, err := s.svc.Update(s.ctx, refs[0], eventual.Values{"name": "a2"}, eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.svc.Delete(s.ctx, refs[1], eventual.Condition{}); err != nil {
		t.Fatal(err)
	}
	s.create(acc, eventual.Values{"name": "f"})
	chs, token = s.readChanges(acc, token, 2)
	if len(chs) != 3 {
		t.Errorf("delta: %d changes, want 3 (a updated twice, b deleted, f created)", len(chs))
	}
	apply(chs)
	want := map[uuid.UUID]string{}
	page, err := s.svc.RetrieveMultiple(s.ctx, &eventual.Query{Table: acc}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range page.Records {
		want[rec.ID] = rec.Values["name"].(string)
	}
	if !maps.Equal(mirror, want) {
		t.Errorf("the mirror of the changes %v, the table %v", mirror, want)
	}
	if chs, _ := s.readChanges(acc, token, 2); len(chs) != 0 {
		t.Errorf("a delta without writes: %d changes", len(chs))
	}
}

// testChangesBadToken: a token the service cannot read is ErrBadToken.
func testChangesBadToken(t *testing.T, s *suite) {
	acc := s.table("account")
	for _, tok := range []string{"not a token", "99999999999!garbage"} {
		_, err := s.svc.Changes(s.ctx, acc, nil, tok, "", eventual.ChangeCursor{}, 10)
		if !errors.Is(err, eventual.ErrBadToken) {
			t.Errorf("changes since %q: %v, want ErrBadToken", tok, err)
		}
	}
}

// testPrimaryNames: the names of existing records, by id.
func testPrimaryNames(t *testing.T, s *suite) {
	acc, con := s.table("account"), s.table("contact")
	a := s.create(acc, eventual.Values{"name": "Acc 'one'"})
	c := s.create(con, eventual.Values{"firstname": "Ana", "lastname": "Lima"})
	got, err := s.svc.PrimaryNames(s.ctx, []eventual.EntityReference{a, c, eventual.Ref(acc, uuid.New())})
	if err != nil {
		t.Fatal(err)
	}
	want := map[uuid.UUID]string{a.ID: "Acc 'one'", c.ID: "Ana Lima"}
	if !maps.Equal(got, want) {
		t.Errorf("PrimaryNames = %v, want %v", got, want)
	}
}
