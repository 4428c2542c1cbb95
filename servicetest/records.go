package servicetest

import (
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// testValues writes a value of every column type and reads it back as it
// was written, by id and by alternate key.
func testValues(t *testing.T, s *suite) {
	acc, ord := s.table("account"), s.table("new_order")
	parent := s.create(acc, eventual.Values{"name": "Parent"})
	values := eventual.Values{
		"new_name":        "Zoë's \"order\" <1> & \u2028",
		"new_ordernumber": "ORD/1?#&'",
		"new_customer":    parent,
		"new_amount":      eventual.Decimal{Units: 12345600, Scale: 4}, // money: precision 4 by default
		"new_quantity":    int64(-42),
		"new_unitprice":   eventual.Decimal{Units: 15, Scale: 4},
		"new_weight":      2.5e-3,
		"new_sequence":    int64(1) << 53,
		"new_orderdate":   time.Date(2026, 11, 30, 23, 59, 58, 0, time.UTC),
		"new_shipped":     true,
		"new_externalid":  uuid.MustParse("6f1c1d7e-1111-4b2a-9c3d-0123456789ab"),
		"new_notes":       "line 1\nline 2\ttab",
		"new_stage":       int64(100000001),
	}
	ref := s.create(ord, values)
	for _, got := range []*eventual.Record{s.get(ref), s.get(byKey(ord, "new_ordernumber_key", "ORD/1?#&'"))} {
		if got.ID != ref.ID || got.Version == 0 {
			t.Errorf("record %v v%d, want %v with a version", got.ID, got.Version, ref.ID)
		}
		for name, want := range values {
			if !sameValue(got.Values[name], want) {
				t.Errorf("%s = %#v, want %#v", name, got.Values[name], want)
			}
		}
	}
	// A customer lookup (several target tables) clears too.
	con := s.table("contact")
	cref := s.create(con, eventual.Values{"lastname": "c", "parentcustomerid": parent})
	if _, err := s.svc.Update(s.ctx, cref, eventual.Values{"parentcustomerid": nil}, eventual.Condition{}); err != nil {
		t.Fatalf("clearing a customer lookup: %v", err)
	}
	if v := s.get(cref).Values["parentcustomerid"]; v != nil {
		t.Errorf("the cleared customer lookup reads %v", v)
	}
	// A column set to null reads back as null.
	if _, err := s.svc.Update(s.ctx, ref, eventual.Values{"new_notes": nil, "new_customer": nil}, eventual.Condition{}); err != nil {
		t.Fatal(err)
	}
	got := s.get(ref)
	if got.Values["new_notes"] != nil || got.Values["new_customer"] != nil {
		t.Errorf("after clearing: notes %#v customer %#v, want nulls", got.Values["new_notes"], got.Values["new_customer"])
	}
}

// sameValue compares values as records carry them; references by table
// and id.
func sameValue(got, want any) bool {
	if w, ok := want.(eventual.EntityReference); ok {
		g, ok := got.(eventual.EntityReference)
		return ok && g.Table == w.Table && g.ID == w.ID
	}
	if w, ok := want.(time.Time); ok {
		g, ok := got.(time.Time)
		return ok && g.Equal(w)
	}
	return reflect.DeepEqual(got, want)
}

// testCreateConflicts: a duplicate primary or alternate key is a
// precondition failure and writes nothing; a missing record is not found.
func testCreateConflicts(t *testing.T, s *suite) {
	acc := s.table("account")
	id := uuid.New()
	if got, err := s.svc.Create(s.ctx, &eventual.Entity{Table: acc, ID: id, Values: eventual.Values{"name": "A", "accountnumber": "N1"}}); err != nil || got != id {
		t.Fatalf("create with an id: %v, %v", got, err)
	}
	_, err := s.svc.Create(s.ctx, &eventual.Entity{Table: acc, ID: id, Values: eventual.Values{"name": "B"}})
	s.wantKind("duplicate primary key", err, eventual.KindPrecondition)
	_, err = s.svc.Create(s.ctx, &eventual.Entity{Table: acc, Values: eventual.Values{"name": "C", "accountnumber": "N1"}})
	s.wantKind("duplicate alternate key", err, eventual.KindPrecondition)
	if n := s.count(acc, nil); n != 1 {
		t.Errorf("%d accounts after the conflicts, want 1", n)
	}
	_, err = s.svc.Retrieve(s.ctx, eventual.Ref(acc, uuid.New()), nil, nil, "")
	s.wantKind("retrieve a missing record", err, eventual.KindNotFound)
	_, err = s.svc.Retrieve(s.ctx, byKey(acc, "accountnumber_key", "missing"), nil, nil, "")
	s.wantKind("retrieve a missing key", err, eventual.KindNotFound)
}

// testConditions: If-None-Match on a retrieve, If-Match versions and "*"
// on updates, upserts and deletes.
func testConditions(t *testing.T, s *suite) {
	acc := s.table("account")
	ref := s.create(acc, eventual.Values{"name": "v1"})
	v := strconv.FormatInt(s.get(ref).Version, 10)
	_, err := s.svc.Retrieve(s.ctx, ref, nil, nil, v)
	s.wantKind("retrieve with the current version", err, eventual.KindNotModified)
	stale := strconv.FormatInt(s.get(ref).Version+1000, 10)
	_, err = s.svc.Update(s.ctx, ref, eventual.Values{"name": "x"}, eventual.Condition{IfMatch: stale})
	s.wantKind("update with a stale version", err, eventual.KindPrecondition)
	if _, err := s.svc.Update(s.ctx, ref, eventual.Values{"name": "v2"}, eventual.Condition{IfMatch: v}); err != nil {
		t.Fatalf("update with the current version: %v", err)
	}
	if got := s.get(ref); got.Values["name"] != "v2" || strconv.FormatInt(got.Version, 10) == v {
		t.Errorf("after the update: %v v%d, want v2 with a new version", got.Values["name"], got.Version)
	}
	_, err = s.svc.Update(s.ctx, eventual.Ref(acc, uuid.New()), eventual.Values{"name": "x"}, eventual.Condition{})
	s.wantKind("update of a missing record", err, eventual.KindNotFound)
	_, _, err = s.svc.Upsert(s.ctx, ref, &eventual.Entity{Table: acc, Values: eventual.Values{"name": "x"}}, eventual.Condition{IfNoneMatch: "*"})
	s.wantKind("create-only upsert of an existing record", err, eventual.KindPrecondition)
	_, _, err = s.svc.Upsert(s.ctx, eventual.Ref(acc, uuid.New()), &eventual.Entity{Table: acc, Values: eventual.Values{"name": "x"}}, eventual.Condition{IfMatch: "*"})
	s.wantKind("update-only upsert of a missing record", err, eventual.KindNotFound)
	err = s.svc.Delete(s.ctx, ref, eventual.Condition{IfMatch: stale})
	s.wantKind("delete with a stale version", err, eventual.KindPrecondition)
	if s.gone(ref) {
		t.Error("a refused delete deleted")
	}
	if n := s.count(acc, nil); n != 1 {
		t.Errorf("%d accounts, want 1 (no upsert created one)", n)
	}
}

// testUpsertByKey: an upsert by alternate key (one column and composite)
// creates, then updates the same record.
func testUpsertByKey(t *testing.T, s *suite) {
	acc, con := s.table("account"), s.table("contact")
	for _, key := range []eventual.EntityReference{byKey(acc, "accountnumber_key", "K'1"), byKey(con, "contact_name_email", "Zoë", "z@example.com")} {
		name := key.Table.PrimaryNameAttribute
		if key.Table == con {
			name = "lastname"
		}
		created, id, err := s.svc.Upsert(s.ctx, key, &eventual.Entity{Table: key.Table, Values: eventual.Values{name: "first"}}, eventual.Condition{})
		if err != nil || !created || id == uuid.Nil {
			t.Fatalf("upsert %v: created=%v %v %v", key, created, id, err)
		}
		created, again, err := s.svc.Upsert(s.ctx, key, &eventual.Entity{Table: key.Table, Values: eventual.Values{name: "second"}}, eventual.Condition{})
		if err != nil || created || again != id {
			t.Errorf("second upsert %v: created=%v %v %v, want an update of %v", key, created, again, err, id)
		}
		got := s.get(eventual.Ref(key.Table, id))
		if got.Values[name] != "second" {
			t.Errorf("%v: %s = %v, want second", key, name, got.Values[name])
		}
		for i, c := range key.Key.Columns {
			if got.Values[c.LogicalName] != key.KeyValues[i] {
				t.Errorf("%v: key column %s = %v, want %v", key, c.LogicalName, got.Values[c.LogicalName], key.KeyValues[i])
			}
		}
	}
}

// testDelete: by id and by key; a missing record is not found.
func testDelete(t *testing.T, s *suite) {
	acc := s.table("account")
	a := s.create(acc, eventual.Values{"name": "a"})
	s.create(acc, eventual.Values{"name": "b", "accountnumber": "B"})
	if err := s.svc.Delete(s.ctx, a, eventual.Condition{}); err != nil {
		t.Fatal(err)
	}
	if err := s.svc.Delete(s.ctx, byKey(acc, "accountnumber_key", "B"), eventual.Condition{}); err != nil {
		t.Fatal(err)
	}
	if n := s.count(acc, nil); n != 0 {
		t.Errorf("%d accounts after the deletes, want 0", n)
	}
	s.wantKind("delete of a missing record", s.svc.Delete(s.ctx, a, eventual.Condition{}), eventual.KindNotFound)
}
