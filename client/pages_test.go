package client

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/teststore"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/google/uuid"
)

// countGets counts the GET requests a server sees for an entity set.
func countGets(set string, n *atomic.Int32) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/"+set) {
				n.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	}
}

func TestRecordsPages(t *testing.T) {
	for _, kind := range teststore.All() {
		t.Run(kind.Name, func(t *testing.T) {
			ctx := context.Background()
			var gets atomic.Int32
			r, in, schema := liveRecordsVia(t, kind, countGets("accounts", &gets))
			acc := schema.Table("account")
			for i := range 7 {
				if _, err := in.Create(ctx, &eventual.Entity{Table: acc, Values: eventual.Values{"name": fmt.Sprintf("n%d", 6-i)}}); err != nil {
					t.Fatal(err)
				}
			}
			q := &eventual.Query{Table: acc, Columns: []*eventual.Column{acc.Column("name")},
				OrderBy: []eventual.Order{{Column: acc.Column("name")}}, Limit: 3}

			var sizes []int
			for page, err := range r.Pages(ctx, q, nil) {
				if err != nil {
					t.Fatal(err)
				}
				sizes = append(sizes, len(page.Records))
			}
			if !slices.Equal(sizes, []int{3, 3, 1}) || gets.Load() != 3 {
				t.Errorf("pages of %v in %d requests, want [3 3 1] in 3", sizes, gets.Load())
			}

			var names []string
			for rec, err := range r.All(ctx, q, nil) {
				if err != nil {
					t.Fatal(err)
				}
				names = append(names, rec.Values["name"].(string))
			}
			if want := []string{"n0", "n1", "n2", "n3", "n4", "n5", "n6"}; !slices.Equal(names, want) {
				t.Errorf("All = %v, want %v", names, want)
			}

			// Breaking out after the first record sends no second request.
			gets.Store(0)
			for range r.All(ctx, q, nil) {
				break
			}
			if gets.Load() != 1 {
				t.Errorf("an early break sent %d requests, want 1", gets.Load())
			}

			// An error ends the sequence with the error.
			bad := &eventual.Query{Table: acc, After: []any{"x"}, OrderBy: []eventual.Order{{Column: acc.Column("name")}}}
			var errs int
			for _, err := range r.All(ctx, bad, nil) {
				if err == nil {
					t.Fatal("a record from a bad query")
				}
				errs++
			}
			if errs != 1 {
				t.Errorf("a bad query yielded %d errors, want 1", errs)
			}
		})
	}
}

func TestRecordsPrimaryNames(t *testing.T) {
	for _, kind := range teststore.All() {
		t.Run(kind.Name, func(t *testing.T) {
			ctx := context.Background()
			var gets atomic.Int32
			r, in, schema := liveRecordsVia(t, kind, countGets("accounts", &gets))
			acc, con := schema.Table("account"), schema.Table("contact")
			var refs []eventual.EntityReference
			want := map[uuid.UUID]string{}
			for i := range namesPerRequest + 5 {
				e := &eventual.Entity{Table: acc, Values: eventual.Values{"name": fmt.Sprintf("Acc '%d'", i)}}
				id, err := in.Create(ctx, e)
				if err != nil {
					t.Fatal(err)
				}
				refs = append(refs, eventual.Ref(acc, id))
				want[id] = e.Values["name"].(string)
			}
			cid, err := in.Create(ctx, &eventual.Entity{Table: con, Values: eventual.Values{"lastname": "Smith"}})
			if err != nil {
				t.Fatal(err)
			}
			refs = append(refs, eventual.Ref(acc, uuid.New()), eventual.Ref(con, cid))
			got, err := r.PrimaryNames(ctx, refs)
			if err != nil {
				t.Fatal(err)
			}
			want[cid] = "Smith"
			if len(got) != len(want) {
				t.Errorf("%d names, want %d", len(got), len(want))
			}
			for id, name := range want {
				if got[id] != name {
					t.Errorf("name of %v = %q, want %q", id, got[id], name)
				}
			}
			if gets.Load() != 2 {
				t.Errorf("%d account requests, want 2 (of at most %d ids)", gets.Load(), namesPerRequest)
			}
		})
	}
}

// TestPagesNextLinkLoop: a server whose next link points at the page
// itself ends the sequence with an error instead of looping.
func TestPagesNextLinkLoop(t *testing.T) {
	var calls atomic.Int32
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"value":[],"@odata.nextLink":%q}`, srv.URL+r.URL.RequestURI())
	}))
	defer srv.Close()
	c, err := New(srv.URL, Options{MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	schema := metadata.Builtin()
	r := NewRecords(c, schema)
	var errs int
	for _, err := range r.Pages(context.Background(), &eventual.Query{Table: schema.Table("account")}, nil) {
		if err != nil {
			errs++
		}
	}
	if errs != 1 || calls.Load() > 3 {
		t.Errorf("%d errors after %d requests, want 1 error after at most 3", errs, calls.Load())
	}
}
