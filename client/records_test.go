package client

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/instance"
	"github.com/eventual-pp/eventual/internal/teststore"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/eventual-pp/eventual/webapi"
	"github.com/google/uuid"
)

// liveRecords serves the Web API over a real store on loopback and returns
// the client's record messages for it, and the instance behind it (the
// oracle).
func liveRecords(t *testing.T, kind teststore.Kind) (*Records, *instance.Instance, *eventual.Schema) {
	return liveRecordsVia(t, kind, nil)
}

// liveRecordsVia is liveRecords with the server's handler wrapped (nil
// for none), to count or alter what the client sends.
func liveRecordsVia(t *testing.T, kind teststore.Kind, wrap func(http.Handler) http.Handler) (*Records, *instance.Instance, *eventual.Schema) {
	t.Helper()
	url, in, schema := liveServer(t, kind, wrap)
	c, err := New(url, Options{MaxAttempts: 1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return NewRecords(c, schema), in, schema
}

// liveServer serves the Web API over a real store on loopback, its
// handler wrapped (nil for none), and returns its URL and the instance.
func liveServer(t *testing.T, kind teststore.Kind, wrap func(http.Handler) http.Handler) (string, *instance.Instance, *eventual.Schema) {
	t.Helper()
	schema := metadata.Builtin()
	db := kind.Open(t, schema)
	in := instance.New(db, schema)
	srv := webapi.NewServer(in, schema, db.Meta())
	srv.Logger = slog.New(slog.DiscardHandler)
	h := srv.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts.URL, in, schema
}

func TestRecordsRoundTrip(t *testing.T) {
	for _, kind := range teststore.All() {
		t.Run(kind.Name, func(t *testing.T) {
			testRecordsRoundTrip(t, kind)
		})
	}
}

func testRecordsRoundTrip(t *testing.T, kind teststore.Kind) {
	ctx := context.Background()
	r, in, schema := liveRecords(t, kind)
	acc, con := schema.Table("account"), schema.Table("contact")
	byNumber := func(n string) eventual.EntityReference {
		return eventual.EntityReference{Table: acc, Key: acc.Key("accountnumber_key"), KeyValues: []any{n}}
	}

	// Create with and without a client-chosen id; quotes and unicode in
	// values and keys.
	id, err := r.Create(ctx, &eventual.Entity{Table: acc, Values: eventual.Values{"name": "O'Hara & Zoë", "accountnumber": "A 1'x"}})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	own := uuid.New()
	if got, err := r.Create(ctx, &eventual.Entity{Table: acc, ID: own, Values: eventual.Values{"name": "Own"}}); err != nil || got != own {
		t.Fatalf("create with id: %v, %v; want %v", got, err, own)
	}
	if _, err := r.Create(ctx, &eventual.Entity{Table: acc, ID: own, Values: eventual.Values{"name": "Again"}}); !IsPreconditionFailed(err) {
		t.Errorf("second create with the same id: %v, want 412", err)
	}

	// Retrieve by alternate key; the instance agrees.
	rec, err := r.Retrieve(ctx, byNumber("A 1'x"), []*eventual.Column{acc.Column("name")}, nil, "")
	if err != nil {
		t.Fatalf("retrieve by key: %v", err)
	}
	if rec.ID != id || rec.Values["name"] != "O'Hara & Zoë" || rec.Version == 0 {
		t.Errorf("retrieve by key = %v %v v%d, want %v O'Hara & Zoë", rec.ID, rec.Values["name"], rec.Version, id)
	}
	if _, err := r.Retrieve(ctx, byNumber("A 1'x"), nil, nil, strconv.FormatInt(rec.Version, 10)); eventual.ErrorKind(err) != eventual.KindNotModified {
		t.Errorf("retrieve with the current version: %v, want NotModified", err)
	}

	// A lookup bound by key travels as @odata.bind and reads back.
	cid, err := r.Create(ctx, &eventual.Entity{Table: con, Values: eventual.Values{"lastname": "Smith", "parentcustomerid": byNumber("A 1'x")}})
	if err != nil {
		t.Fatalf("create contact: %v", err)
	}
	crec, err := in.Retrieve(ctx, eventual.Ref(con, cid), nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if ref, _ := crec.Values["parentcustomerid"].(eventual.EntityReference); ref.ID != id || ref.Table != acc {
		t.Errorf("contact's parentcustomerid = %v, want account %v", crec.Values["parentcustomerid"], id)
	}

	// A conditional retrieve of a changed record still names the table of
	// a customer lookup (read again with the annotation Dataverse never
	// answers 304 to); an unchanged one is NotModified.
	if got, err := r.Retrieve(ctx, eventual.Ref(con, cid), nil, nil, strconv.FormatInt(crec.Version-1, 10)); err != nil {
		t.Errorf("conditional retrieve of a changed contact: %v", err)
	} else if ref, _ := got.Values["parentcustomerid"].(eventual.EntityReference); ref.ID != id || ref.Table != acc {
		t.Errorf("conditional retrieve: parentcustomerid = %v, want account %v", got.Values["parentcustomerid"], id)
	}
	if _, err := r.Retrieve(ctx, eventual.Ref(con, cid), nil, nil, strconv.FormatInt(crec.Version, 10)); eventual.ErrorKind(err) != eventual.KindNotModified {
		t.Errorf("conditional retrieve of an unchanged contact: %v, want NotModified", err)
	}

	// Update: stale version 412, current version ok; missing record 404.
	if _, err := r.Update(ctx, eventual.Ref(acc, id), eventual.Values{"name": "x"}, eventual.Condition{IfMatch: strconv.FormatInt(rec.Version+100, 10)}); !IsPreconditionFailed(err) {
		t.Errorf("update with a stale version: %v, want 412", err)
	}
	if got, err := r.Update(ctx, eventual.Ref(acc, id), eventual.Values{"name": "Renamed"}, eventual.Condition{IfMatch: strconv.FormatInt(rec.Version, 10)}); err != nil || got != id {
		t.Errorf("update: %v, %v", got, err)
	}
	if _, err := r.Update(ctx, eventual.Ref(acc, uuid.New()), eventual.Values{"name": "x"}, eventual.Condition{}); !IsNotFound(err) {
		t.Errorf("update of a missing record: %v, want 404", err)
	}

	// Upsert reports whether it created.
	created, uid, err := r.Upsert(ctx, byNumber("U-1"), &eventual.Entity{Table: acc, Values: eventual.Values{"name": "Up"}}, eventual.Condition{})
	if err != nil || !created {
		t.Fatalf("upsert new: created=%v %v", created, err)
	}
	created, again, err := r.Upsert(ctx, byNumber("U-1"), &eventual.Entity{Table: acc, Values: eventual.Values{"name": "Up2"}}, eventual.Condition{})
	if err != nil || created || again != uid {
		t.Errorf("upsert existing: created=%v id=%v %v, want false %v", created, again, err, uid)
	}

	// RetrieveMultiple pages with AfterFilter and agrees with the instance.
	q := &eventual.Query{Table: acc, Columns: []*eventual.Column{acc.Column("name")},
		OrderBy: []eventual.Order{{Column: acc.Column("name")}}, Limit: 2}
	var seen []uuid.UUID
	for {
		page, err := r.RetrieveMultiple(ctx, q, nil, false)
		if err != nil {
			t.Fatalf("retrieve multiple: %v", err)
		}
		for _, rec := range page.Records {
			seen = append(seen, rec.ID)
		}
		if !page.More || len(page.Records) == 0 {
			break
		}
		last := page.Records[len(page.Records)-1]
		q.After = []any{last.Values["name"], last.ID}
	}
	want, err := in.RetrieveMultiple(ctx, &eventual.Query{Table: acc, OrderBy: []eventual.Order{{Column: acc.Column("name")}}}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(want.Records) {
		t.Fatalf("paged %d accounts, want %d", len(seen), len(want.Records))
	}
	for i, rec := range want.Records {
		if seen[i] != rec.ID {
			t.Errorf("record %d: %v, want %v", i, seen[i], rec.ID)
		}
	}
	if n, err := r.Count(ctx, acc, eventual.Compare{Op: eventual.OpEq, Left: eventual.Field{Column: acc.Column("name")}, Right: eventual.Literal{Value: "Own"}}); err != nil || n != 1 {
		t.Errorf("count = %d, %v; want 1", n, err)
	}

	// Delete, then it is gone.
	if err := r.Delete(ctx, byNumber("U-1"), eventual.Condition{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := r.Retrieve(ctx, eventual.Ref(acc, uid), nil, nil, ""); !IsNotFound(err) {
		t.Errorf("retrieve after delete: %v, want 404", err)
	}
}

func TestRecordsDeepInsertAndExpand(t *testing.T) {
	for _, kind := range teststore.All() {
		t.Run(kind.Name, func(t *testing.T) {
			ctx := context.Background()
			r, in, schema := liveRecords(t, kind)
			acc, con := schema.Table("account"), schema.Table("contact")
			rel := schema.Relationship("contact_customer_accounts")
			existing, err := in.Create(ctx, &eventual.Entity{Table: con, Values: eventual.Values{"lastname": "Existing"}})
			if err != nil {
				t.Fatal(err)
			}
			child := uuid.New()
			id, err := r.Create(ctx, &eventual.Entity{Table: acc, Values: eventual.Values{"name": "Parent"},
				Related: []eventual.RelatedEntities{{Relationship: rel,
					Entities:   []*eventual.Entity{{Table: con, ID: child, Values: eventual.Values{"lastname": "New"}}, {Table: con, Values: eventual.Values{"lastname": "Other"}}},
					References: []eventual.EntityReference{eventual.Ref(con, existing)}}}})
			if err != nil {
				t.Fatalf("deep insert: %v", err)
			}

			// The instance holds the three contacts bound to the account.
			n, err := in.Count(ctx, con, eventual.Compare{Op: eventual.OpEq, Left: eventual.Field{Column: con.Column("parentcustomerid")}, Right: eventual.Literal{Value: id}})
			if err != nil || n != 3 {
				t.Fatalf("contacts of the new account = %d, %v; want 3", n, err)
			}
			if _, err := in.Retrieve(ctx, eventual.Ref(con, child), nil, nil, ""); err != nil {
				t.Errorf("the nested contact with its own id: %v", err)
			}

			// Retrieve expands the collection (ordered, filtered) and the
			// single-valued navigation back.
			last := con.Column("lastname")
			rec, err := r.Retrieve(ctx, eventual.Ref(acc, id), []*eventual.Column{acc.Column("name")}, []eventual.Expand{{
				Navigation: rel.ReferencedNavigation, Relationship: rel, Collection: true,
				Columns: []*eventual.Column{last}, OrderBy: []eventual.Order{{Column: last}},
				Filter: eventual.Compare{Op: eventual.OpNe, Left: eventual.Field{Column: last}, Right: eventual.Literal{Value: "Other"}},
			}}, "")
			if err != nil {
				t.Fatalf("retrieve with expand: %v", err)
			}
			var names []string
			for _, c := range rec.Related[rel.ReferencedNavigation] {
				names = append(names, c.Values["lastname"].(string))
			}
			if strings.Join(names, ",") != "Existing,New" {
				t.Errorf("expanded contacts = %v, want [Existing New]", names)
			}
			crec, err := r.Retrieve(ctx, eventual.Ref(con, child), []*eventual.Column{last}, []eventual.Expand{{
				Navigation: rel.ReferencingNavigation, Relationship: rel, Columns: []*eventual.Column{acc.Column("name")}}}, "")
			if err != nil {
				t.Fatalf("retrieve contact with expand: %v", err)
			}
			if p := crec.Related[rel.ReferencingNavigation]; len(p) != 1 || p[0].ID != id || p[0].Values["name"] != "Parent" {
				t.Errorf("expanded parent = %v, want account %v Parent", p, id)
			}

			// A relationship of another table is refused before sending.
			if _, err := r.Create(ctx, &eventual.Entity{Table: con, Values: eventual.Values{"lastname": "x"},
				Related: []eventual.RelatedEntities{{Relationship: rel}}}); err == nil {
				t.Error("a deep insert through another table's relationship was sent")
			}
		})
	}
}

// applyThenDrop serves the first request of a method in full and then
// drops the connection instead of answering, as a server that dies after
// committing does.
func applyThenDrop(method string, dropped *atomic.Int32) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != method || dropped.Load() > 0 {
				h.ServeHTTP(w, r)
				return
			}
			dropped.Add(1)
			h.ServeHTTP(httptest.NewRecorder(), r)
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		})
	}
}

// TestRecordsReplayResolved: a create with its own id and a delete whose
// first attempt was applied but unanswered succeed on the replay, which
// the server answers 412 and 404.
func TestRecordsReplayResolved(t *testing.T) {
	for _, kind := range teststore.All() {
		t.Run(kind.Name, func(t *testing.T) {
			for _, method := range []string{http.MethodPost, http.MethodDelete} {
				ctx := context.Background()
				var dropped atomic.Int32
				url, in, schema := liveServer(t, kind, applyThenDrop(method, &dropped))
				c, err := New(url, Options{MaxAttempts: 3, RetryBase: time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Fatal(err)
				}
				r, acc := NewRecords(c, schema), schema.Table("account")
				id := uuid.New()
				if method == http.MethodDelete {
					if _, err := in.Create(ctx, &eventual.Entity{Table: acc, ID: id, Values: eventual.Values{"name": "x"}}); err != nil {
						t.Fatal(err)
					}
					if err := r.Delete(ctx, eventual.Ref(acc, id), eventual.Condition{}); err != nil {
						t.Errorf("delete replayed after an applied attempt: %v", err)
					}
					if _, err := in.Retrieve(ctx, eventual.Ref(acc, id), nil, nil, ""); eventual.ErrorKind(err) != eventual.KindNotFound {
						t.Errorf("the deleted record: %v", err)
					}
				} else {
					got, err := r.Create(ctx, &eventual.Entity{Table: acc, ID: id, Values: eventual.Values{"name": "x"}})
					if err != nil || got != id {
						t.Errorf("create replayed after an applied attempt: %v, %v", got, err)
					}
					if n, err := in.Count(ctx, acc, nil); err != nil || n != 1 {
						t.Errorf("%d accounts, %v; want 1", n, err)
					}
					// Without its own id a create is not re-sent at all.
					dropped.Store(0)
					if _, err := r.Create(ctx, &eventual.Entity{Table: acc, Values: eventual.Values{"name": "y"}}); err == nil || replayed(err) {
						t.Errorf("create without an id after a dropped answer: %v, want a MaybeApplied error without replay", err)
					}
				}
				if dropped.Load() != 1 {
					t.Errorf("%s: %d attempts dropped, want 1", method, dropped.Load())
				}
			}
		})
	}
}

// TestRecordsCompositeKey upserts, retrieves, updates and deletes a
// contact by its two-column alternate key, with values URL and OData
// literals must escape.
func TestRecordsCompositeKey(t *testing.T) {
	for _, kind := range teststore.All() {
		t.Run(kind.Name, func(t *testing.T) {
			ctx := context.Background()
			r, in, schema := liveRecords(t, kind)
			con := schema.Table("contact")
			key := eventual.EntityReference{Table: con, Key: con.Key("contact_name_email"), KeyValues: []any{"Zoë O'Neil", "a+b&c=d/e#f?@x.com"}}
			created, id, err := r.Upsert(ctx, key, &eventual.Entity{Table: con, Values: eventual.Values{"lastname": "O'Neil"}}, eventual.Condition{IfNoneMatch: "*"})
			if err != nil || !created {
				t.Fatalf("upsert by composite key: created=%v %v", created, err)
			}
			rec, err := in.Retrieve(ctx, eventual.Ref(con, id), nil, nil, "")
			if err != nil {
				t.Fatal(err)
			}
			if rec.Values["firstname"] != "Zoë O'Neil" || rec.Values["emailaddress1"] != "a+b&c=d/e#f?@x.com" {
				t.Errorf("the key columns read back as %q %q", rec.Values["firstname"], rec.Values["emailaddress1"])
			}
			if _, _, err := r.Upsert(ctx, key, &eventual.Entity{Table: con, Values: eventual.Values{"lastname": "x"}}, eventual.Condition{IfNoneMatch: "*"}); !IsPreconditionFailed(err) {
				t.Errorf("create-only upsert of an existing key: %v, want 412", err)
			}
			if got, err := r.Update(ctx, key, eventual.Values{"jobtitle": "Engineer"}, eventual.Condition{}); err != nil || got != id {
				t.Errorf("update by composite key: %v, %v", got, err)
			}
			got, err := r.Retrieve(ctx, key, []*eventual.Column{con.Column("jobtitle")}, nil, "")
			if err != nil || got.ID != id || got.Values["jobtitle"] != "Engineer" {
				t.Errorf("retrieve by composite key: %v %v, %v", got.ID, got.Values, err)
			}
			if err := r.Delete(ctx, key, eventual.Condition{}); err != nil {
				t.Fatalf("delete by composite key: %v", err)
			}
			if _, err := r.Retrieve(ctx, key, nil, nil, ""); !IsNotFound(err) {
				t.Errorf("retrieve after delete: %v, want 404", err)
			}
		})
	}
}
