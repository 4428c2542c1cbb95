package servicetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/google/uuid"
)

// testQuery: a filtered, ordered query paged by keyset returns exactly
// the matching records in order, with the count asked for.
func testQuery(t *testing.T, s *suite) {
	acc := s.table("account")
	name, emp := s.col(acc, "name"), s.col(acc, "numberofemployees")
	var want []string
	for i := range 9 {
		n := fmt.Sprintf("acc %d '%c'", 8-i, 'a'+i)
		s.create(acc, eventual.Values{"name": n, "numberofemployees": int64(i % 3)})
		if i%3 != 0 {
			want = append(want, n)
		}
	}
	slices.Sort(want)
	filter := eventual.Compare{Op: eventual.OpGt, Left: eventual.Field{Column: emp}, Right: eventual.Literal{Value: int64(0)}}
	q := &eventual.Query{Table: acc, Columns: []*eventual.Column{name}, Filter: filter,
		OrderBy: []eventual.Order{{Column: name}}, Limit: 4}
	var got []string
	for pages := 0; ; pages++ {
		page, err := s.svc.RetrieveMultiple(s.ctx, q, nil, pages == 0)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		if pages == 0 && page.Count != int64(len(want)) {
			t.Errorf("count = %d, want %d", page.Count, len(want))
		}
		for _, rec := range page.Records {
			got = append(got, rec.Values["name"].(string))
		}
		if !page.More {
			break
		}
		if pages > len(want) {
			t.Fatal("paging does not end")
		}
		last := page.Records[len(page.Records)-1]
		q.After = []any{last.Values["name"], last.ID}
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged %q, want %q", got, want)
	}
	if n := s.count(acc, filter); n != int64(len(want)) {
		t.Errorf("Count = %d, want %d", n, len(want))
	}
	in := eventual.In{Field: eventual.Field{Column: name}, Values: []any{want[0], "none"}}
	page, err := s.svc.RetrieveMultiple(s.ctx, &eventual.Query{Table: acc, Filter: in}, nil, false)
	if err != nil || len(page.Records) != 1 || page.Records[0].Values["name"] != want[0] || page.More {
		t.Errorf("In filter: %v, %v; want the one record %q", page, err, want[0])
	}
}

// testExpand: a deep insert creates related records and binds existing
// ones; expansions read both navigations back.
func testExpand(t *testing.T, s *suite) {
	acc, con := s.table("account"), s.table("contact")
	rel := s.s.Relationship("contact_customer_accounts")
	last := s.col(con, "lastname")
	existing := s.create(con, eventual.Values{"lastname": "Existing"})
	child := uuid.New()
	id, err := s.svc.Create(s.ctx, &eventual.Entity{Table: acc, Values: eventual.Values{"name": "Parent"},
		Related: []eventual.RelatedEntities{{Relationship: rel,
			Entities:   []*eventual.Entity{{Table: con, ID: child, Values: eventual.Values{"lastname": "New"}}},
			References: []eventual.EntityReference{existing}}}})
	if err != nil {
		t.Fatalf("deep insert: %v", err)
	}
	rec, err := s.svc.Retrieve(s.ctx, eventual.Ref(acc, id), []*eventual.Column{s.col(acc, "name")}, []eventual.Expand{{
		Navigation: rel.ReferencedNavigation, Relationship: rel, Collection: true,
		Columns: []*eventual.Column{last}, OrderBy: []eventual.Order{{Column: last}}}}, "")
	if err != nil {
		t.Fatalf("retrieve with a collection expansion: %v", err)
	}
	var names []string
	for _, c := range rec.Related[rel.ReferencedNavigation] {
		names = append(names, c.Values["lastname"].(string))
	}
	if !slices.Equal(names, []string{"Existing", "New"}) {
		t.Errorf("expanded contacts %q, want [Existing New]", names)
	}
	page, err := s.svc.RetrieveMultiple(s.ctx, &eventual.Query{Table: con, Columns: []*eventual.Column{last}, Filter: eq(last, "New")},
		[]eventual.Expand{{Navigation: rel.ReferencingNavigation, Relationship: rel, Columns: []*eventual.Column{s.col(acc, "name")}}}, false)
	if err != nil || len(page.Records) != 1 {
		t.Fatalf("query with a single-valued expansion: %v, %v", page, err)
	}
	p := page.Records[0].Related[rel.ReferencingNavigation]
	if page.Records[0].ID != child || len(p) != 1 || p[0].ID != id || p[0].Values["name"] != "Parent" {
		t.Errorf("expanded parent of %v: %v, want account %v Parent", page.Records[0].ID, p, id)
	}
}
