package servicetest

import (
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// testBulk: the four bulk messages, each read back record by record.
func testBulk(t *testing.T, s *suite) {
	acc := s.table("account")
	own := uuid.New()
	ids, err := s.svc.CreateMultiple(s.ctx, []*eventual.Entity{
		{Table: acc, Values: eventual.Values{"name": "c0"}},
		{Table: acc, ID: own, Values: eventual.Values{"name": "c1", "accountnumber": "C1"}},
		{Table: acc, Values: eventual.Values{"name": "c2"}},
	})
	if err != nil || len(ids) != 3 || ids[1] != own {
		t.Fatalf("CreateMultiple = %v, %v; want 3 ids, the second %v", ids, err, own)
	}
	for i, id := range ids {
		if got := s.get(eventual.Ref(acc, id)).Values["name"]; got != []string{"c0", "c1", "c2"}[i] {
			t.Errorf("created record %d named %v", i, got)
		}
	}
	err = s.svc.UpdateMultiple(s.ctx, []eventual.BulkTarget{
		{Target: eventual.Ref(acc, ids[0]), HasTarget: true, Entity: &eventual.Entity{Table: acc, Values: eventual.Values{"name": "u0"}}},
		{Target: byKey(acc, "accountnumber_key", "C1"), HasTarget: true, Entity: &eventual.Entity{Table: acc, Values: eventual.Values{"name": "u1"}}},
	})
	if err != nil {
		t.Fatalf("UpdateMultiple: %v", err)
	}
	err = s.svc.UpsertMultiple(s.ctx, []eventual.BulkTarget{
		{Target: eventual.Ref(acc, ids[2]), HasTarget: true, Entity: &eventual.Entity{Table: acc, Values: eventual.Values{"name": "p2"}}},
		{Target: byKey(acc, "accountnumber_key", "NEW'1"), HasTarget: true, Entity: &eventual.Entity{Table: acc, Values: eventual.Values{"name": "p3"}}},
	})
	if err != nil {
		t.Fatalf("UpsertMultiple: %v", err)
	}
	want := map[string]string{ids[0].String(): "u0", ids[1].String(): "u1", ids[2].String(): "p2"}
	for id, name := range want {
		if got := s.get(eventual.Ref(acc, uuid.MustParse(id))).Values["name"]; got != name {
			t.Errorf("%s named %v, want %s", id, got, name)
		}
	}
	if got := s.get(byKey(acc, "accountnumber_key", "NEW'1")).Values["name"]; got != "p3" {
		t.Errorf("the upserted new record named %v, want p3", got)
	}
	if err := s.svc.DeleteMultiple(s.ctx, []eventual.EntityReference{eventual.Ref(acc, ids[0]), byKey(acc, "accountnumber_key", "NEW'1")}); err != nil {
		t.Fatalf("DeleteMultiple: %v", err)
	}
	if n := s.count(acc, nil); n != 2 || !s.gone(eventual.Ref(acc, ids[0])) {
		t.Errorf("%d accounts after DeleteMultiple, want 2 without %v", n, ids[0])
	}
}

// testBulkAtomicity: a bulk message with one failing record writes none.
func testBulkAtomicity(t *testing.T, s *suite) {
	acc := s.table("account")
	keep := s.create(acc, eventual.Values{"name": "keep", "accountnumber": "K"})
	_, err := s.svc.CreateMultiple(s.ctx, []*eventual.Entity{
		{Table: acc, Values: eventual.Values{"name": "new"}},
		{Table: acc, Values: eventual.Values{"name": "dup", "accountnumber": "K"}},
	})
	s.wantKind("CreateMultiple with a duplicate key", err, eventual.KindPrecondition)
	err = s.svc.UpdateMultiple(s.ctx, []eventual.BulkTarget{
		{Target: keep, HasTarget: true, Entity: &eventual.Entity{Table: acc, Values: eventual.Values{"name": "changed"}}},
		{Target: eventual.Ref(acc, uuid.New()), HasTarget: true, Entity: &eventual.Entity{Table: acc, Values: eventual.Values{"name": "x"}}},
	})
	s.wantKind("UpdateMultiple of a missing record", err, eventual.KindNotFound)
	err = s.svc.DeleteMultiple(s.ctx, []eventual.EntityReference{keep, eventual.Ref(acc, uuid.New())})
	if err == nil {
		t.Error("DeleteMultiple with a missing record succeeded")
	}
	if n := s.count(acc, nil); n != 1 {
		t.Errorf("%d accounts after the failed bulk messages, want 1", n)
	}
	if got := s.get(keep).Values["name"]; got != "keep" {
		t.Errorf("the kept record is named %v after a failed UpdateMultiple", got)
	}
}
