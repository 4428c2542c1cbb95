package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/instance"
	"github.com/eventual-pp/eventual/internal/teststore"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/google/uuid"
)

// retrieveName reads a record's name by the oracle; "" when it is gone.
func retrieveName(t *testing.T, in *instance.Instance, ref eventual.EntityReference) string {
	t.Helper()
	rec, err := in.Retrieve(context.Background(), ref, nil, nil, "")
	if eventual.ErrorKind(err) == eventual.KindNotFound {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	s, _ := rec.Values["name"].(string)
	return s
}

func TestCreateMultiple(t *testing.T) {
	forEachStore(t, func(t *testing.T, r *Records, in *instance.Instance, schema *eventual.Schema) {
		ctx := context.Background()
		acc, con := schema.Table("account"), schema.Table("contact")
		own := uuid.New()
		ids, err := r.CreateMultiple(ctx, []*eventual.Entity{
			{Table: acc, Values: eventual.Values{"name": "One", "accountnumber": "N-1"}},
			{Table: acc, ID: own, Values: eventual.Values{"name": "Two"}},
			{Table: acc, Values: eventual.Values{"name": "Three"}},
		})
		if err != nil || len(ids) != 3 {
			t.Fatalf("CreateMultiple: %v, %v", ids, err)
		}
		if ids[1] != own {
			t.Errorf("second id %v, want the given %v", ids[1], own)
		}
		for i, want := range []string{"One", "Two", "Three"} {
			if got := retrieveName(t, in, eventual.Ref(acc, ids[i])); got != want {
				t.Errorf("record %d is %q, want %q", i, got, want)
			}
		}
		// A duplicate id fails the whole request.
		_, err = r.CreateMultiple(ctx, []*eventual.Entity{
			{Table: acc, Values: eventual.Values{"name": "Not kept"}},
			{Table: acc, ID: own, Values: eventual.Values{"name": "Duplicate"}},
		})
		if !IsPreconditionFailed(err) {
			t.Errorf("CreateMultiple with a duplicate: %v, want 412", err)
		}
		if n := countByName(t, in, acc, "name", "Not kept"); n != 0 {
			t.Errorf("%d records of the failed CreateMultiple exist", n)
		}
		// Mixed tables are refused before sending.
		_, err = r.CreateMultiple(ctx, []*eventual.Entity{{Table: acc, Values: eventual.Values{"name": "Mixed"}}, {Table: con, Values: eventual.Values{"lastname": "x"}}})
		if eventual.ErrorKind(err) != eventual.KindInvalid || countByName(t, in, acc, "name", "Mixed") != 0 {
			t.Errorf("mixed tables: %v, want KindInvalid and nothing created", err)
		}
	})
}

func TestUpdateMultiple(t *testing.T) {
	forEachStore(t, func(t *testing.T, r *Records, in *instance.Instance, schema *eventual.Schema) {
		ctx := context.Background()
		acc := schema.Table("account")
		ids, err := r.CreateMultiple(ctx, []*eventual.Entity{
			{Table: acc, Values: eventual.Values{"name": "A"}},
			{Table: acc, Values: eventual.Values{"name": "B", "accountnumber": "K-B"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		byKey := eventual.EntityReference{Table: acc, Key: acc.Key("accountnumber_key"), KeyValues: []any{"K-B"}}
		err = r.UpdateMultiple(ctx, []eventual.BulkTarget{
			{Target: eventual.Ref(acc, ids[0]), HasTarget: true, Entity: &eventual.Entity{Table: acc, Values: eventual.Values{"name": "A2"}}},
			{Target: byKey, HasTarget: true, Entity: &eventual.Entity{Table: acc, Values: eventual.Values{"name": "B2"}}},
		})
		if err != nil {
			t.Fatalf("UpdateMultiple: %v", err)
		}
		if a, b := retrieveName(t, in, eventual.Ref(acc, ids[0])), retrieveName(t, in, eventual.Ref(acc, ids[1])); a != "A2" || b != "B2" {
			t.Errorf("after UpdateMultiple: %q %q, want A2 B2", a, b)
		}
		// A missing record fails the whole request.
		err = r.UpdateMultiple(ctx, []eventual.BulkTarget{
			{Target: eventual.Ref(acc, ids[0]), HasTarget: true, Entity: &eventual.Entity{Table: acc, Values: eventual.Values{"name": "A3"}}},
			{Target: eventual.Ref(acc, uuid.New()), HasTarget: true, Entity: &eventual.Entity{Table: acc, Values: eventual.Values{"name": "x"}}},
		})
		if !IsNotFound(err) {
			t.Errorf("UpdateMultiple of a missing record: %v, want 404", err)
		}
		if a := retrieveName(t, in, eventual.Ref(acc, ids[0])); a != "A2" {
			t.Errorf("after the failed UpdateMultiple: %q, want A2", a)
		}
		if err := r.UpdateMultiple(ctx, []eventual.BulkTarget{{Entity: &eventual.Entity{Table: acc}}}); eventual.ErrorKind(err) != eventual.KindInvalid {
			t.Errorf("UpdateMultiple without a target: %v, want KindInvalid", err)
		}
	})
}

func TestUpsertMultiple(t *testing.T) {
	forEachStore(t, func(t *testing.T, r *Records, in *instance.Instance, schema *eventual.Schema) {
		ctx := context.Background()
		acc := schema.Table("account")
		key := acc.Key("accountnumber_key")
		byNumber := func(n string) eventual.EntityReference {
			return eventual.EntityReference{Table: acc, Key: key, KeyValues: []any{n}}
		}
		existing, err := r.Create(ctx, &eventual.Entity{Table: acc, Values: eventual.Values{"name": "Old", "accountnumber": "U'1"}})
		if err != nil {
			t.Fatal(err)
		}
		err = r.UpsertMultiple(ctx, []eventual.BulkTarget{
			{Target: byNumber("U'1"), HasTarget: true, Entity: &eventual.Entity{Table: acc, Values: eventual.Values{"name": "Updated", "accountnumber": "U'1"}}},
			{Target: byNumber("U 2"), HasTarget: true, Entity: &eventual.Entity{Table: acc, Values: eventual.Values{"name": "Created"}}},
			{Entity: &eventual.Entity{Table: acc, Values: eventual.Values{"name": "Unkeyed"}}},
		})
		if err != nil {
			t.Fatalf("UpsertMultiple: %v", err)
		}
		if got := retrieveName(t, in, eventual.Ref(acc, existing)); got != "Updated" {
			t.Errorf("existing record is %q, want Updated", got)
		}
		rec, err := in.Retrieve(ctx, byNumber("U 2"), nil, nil, "")
		if err != nil || rec.Values["name"] != "Created" || rec.Values["accountnumber"] != "U 2" {
			t.Errorf("created by key: %v, %v", rec, err)
		}
		if n := countByName(t, in, acc, "name", "Unkeyed"); n != 1 {
			t.Errorf("%d unkeyed records, want 1", n)
		}
		// A failing target (a lookup to a missing record) rolls all back.
		err = r.UpsertMultiple(ctx, []eventual.BulkTarget{
			{Target: byNumber("U 3"), HasTarget: true, Entity: &eventual.Entity{Table: acc, Values: eventual.Values{"name": "Rolled back"}}},
			{Target: byNumber("U'1"), HasTarget: true, Entity: &eventual.Entity{Table: acc, Values: eventual.Values{"name": "Not applied"}}},
			{Target: byNumber("U 4"), HasTarget: true, Entity: &eventual.Entity{Table: acc, Values: eventual.Values{"name": "x", "parentaccountid": eventual.Ref(acc, uuid.New())}}},
		})
		var ce *Error
		if !errors.As(err, &ce) || ce.StatusCode < 400 {
			t.Errorf("UpsertMultiple with a dangling lookup: %v, want an error response", err)
		}
		if _, err := in.Retrieve(ctx, byNumber("U 3"), nil, nil, ""); eventual.ErrorKind(err) != eventual.KindNotFound {
			t.Errorf("record of the failed UpsertMultiple: %v, want not found", err)
		}
		if got := retrieveName(t, in, eventual.Ref(acc, existing)); got != "Updated" {
			t.Errorf("existing record after the failed UpsertMultiple is %q, want Updated", got)
		}
		// A key value in the body that contradicts the target is refused.
		err = r.UpsertMultiple(ctx, []eventual.BulkTarget{{Target: byNumber("U 5"), HasTarget: true, Entity: &eventual.Entity{Table: acc, Values: eventual.Values{"accountnumber": "other"}}}})
		if eventual.ErrorKind(err) != eventual.KindInvalid {
			t.Errorf("contradicting key: %v, want KindInvalid", err)
		}
	})
}

func TestDeleteMultiple(t *testing.T) {
	forEachStore(t, func(t *testing.T, r *Records, in *instance.Instance, schema *eventual.Schema) {
		ctx := context.Background()
		acc := schema.Table("account")
		ids, err := r.CreateMultiple(ctx, []*eventual.Entity{
			{Table: acc, Values: eventual.Values{"name": "D1"}},
			{Table: acc, Values: eventual.Values{"name": "D2", "accountnumber": "D-2"}},
			{Table: acc, Values: eventual.Values{"name": "D3"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		byKey := eventual.EntityReference{Table: acc, Key: acc.Key("accountnumber_key"), KeyValues: []any{"D-2"}}
		if err := r.DeleteMultiple(ctx, []eventual.EntityReference{eventual.Ref(acc, ids[0]), byKey}); err != nil {
			t.Fatalf("DeleteMultiple: %v", err)
		}
		if a, b := retrieveName(t, in, eventual.Ref(acc, ids[0])), retrieveName(t, in, eventual.Ref(acc, ids[1])); a != "" || b != "" {
			t.Errorf("deleted records remain: %q %q", a, b)
		}
		err = r.DeleteMultiple(ctx, []eventual.EntityReference{eventual.Ref(acc, ids[2]), eventual.Ref(acc, uuid.New())})
		if !IsNotFound(err) {
			t.Errorf("DeleteMultiple with a missing record: %v, want 404", err)
		}
		if got := retrieveName(t, in, eventual.Ref(acc, ids[2])); got != "D3" {
			t.Errorf("after the failed DeleteMultiple: %q, want D3 kept", got)
		}
	})
}

// notImplementedDeleteMultiple answers DeleteMultiple as Dataverse does
// for standard tables and counts the requests it sees.
type notImplementedDeleteMultiple struct {
	next                          http.Handler
	deleteMultiple, batch, others atomic.Int32
}

func (h *notImplementedDeleteMultiple) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasSuffix(r.URL.Path, "/Microsoft.Dynamics.CRM.DeleteMultiple"):
		h.deleteMultiple.Add(1)
		w.Header().Set("Content-Type", "application/json; odata.metadata=minimal")
		w.Header().Set("OData-Version", "4.0")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"code":"","message":"DeleteMultiple has not yet been implemented."}}`)
		return
	case strings.HasSuffix(r.URL.Path, "/$batch"):
		h.batch.Add(1)
	default:
		h.others.Add(1)
	}
	h.next.ServeHTTP(w, r)
}

func TestDeleteMultipleFallsBackToBatch(t *testing.T) {
	for _, kind := range teststore.All() {
		t.Run(kind.Name, func(t *testing.T) {
			ctx := context.Background()
			var h *notImplementedDeleteMultiple
			r, in, schema := liveRecordsVia(t, kind, func(next http.Handler) http.Handler {
				h = &notImplementedDeleteMultiple{next: next}
				return h
			})
			acc := schema.Table("account")
			var ids []uuid.UUID
			for _, n := range []string{"F1", "F2", "F3", "F4", "F5"} {
				id, err := r.Create(ctx, &eventual.Entity{Table: acc, Values: eventual.Values{"name": n, "accountnumber": "K" + n}})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			byKey := eventual.EntityReference{Table: acc, Key: acc.Key("accountnumber_key"), KeyValues: []any{"KF2"}}
			if err := r.DeleteMultiple(ctx, []eventual.EntityReference{eventual.Ref(acc, ids[0]), byKey}); err != nil {
				t.Fatalf("first DeleteMultiple: %v", err)
			}
			if dm, b := h.deleteMultiple.Load(), h.batch.Load(); dm != 1 || b != 1 {
				t.Errorf("first call: %d DeleteMultiple, %d $batch; want 1, 1", dm, b)
			}
			if err := r.DeleteMultiple(ctx, []eventual.EntityReference{eventual.Ref(acc, ids[2])}); err != nil {
				t.Fatalf("second DeleteMultiple: %v", err)
			}
			if dm, b := h.deleteMultiple.Load(), h.batch.Load(); dm != 1 || b != 2 {
				t.Errorf("second call: %d DeleteMultiple, %d $batch; want 1 (not tried again), 2", dm, b)
			}
			for i := range 3 {
				if got := retrieveName(t, in, eventual.Ref(acc, ids[i])); got != "" {
					t.Errorf("record %d remains: %q", i, got)
				}
			}
			// The fallback is one change set: a missing record keeps the rest.
			err := r.DeleteMultiple(ctx, []eventual.EntityReference{eventual.Ref(acc, ids[3]), eventual.Ref(acc, uuid.New()), eventual.Ref(acc, ids[4])})
			if !IsNotFound(err) {
				t.Errorf("fallback with a missing record: %v, want 404", err)
			}
			if a, b := retrieveName(t, in, eventual.Ref(acc, ids[3])), retrieveName(t, in, eventual.Ref(acc, ids[4])); a != "F4" || b != "F5" {
				t.Errorf("after the failed fallback: %q %q, want F4 F5 kept", a, b)
			}
			if dm := h.deleteMultiple.Load(); dm != 1 {
				t.Errorf("%d DeleteMultiple requests, want 1", dm)
			}
		})
	}
}

func TestDeleteMultipleUnavailable(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{(&Error{StatusCode: 400, Message: "DeleteMultiple has not yet been implemented."}).finish(), true},
		{(&Error{StatusCode: 501}).finish(), true},
		{(&Error{StatusCode: 405}).finish(), true},
		{(&Error{StatusCode: 404, Message: "Resource not found for the segment 'Microsoft.Dynamics.CRM.DeleteMultiple'."}).finish(), true},
		{(&Error{StatusCode: 404, Message: "account With Id = 1 Does Not Exist"}).finish(), false},
		{(&Error{StatusCode: 400, Message: "bad"}).finish(), false},
		{io.EOF, false},
	} {
		if got := deleteMultipleUnavailable(tt.err); got != tt.want {
			t.Errorf("deleteMultipleUnavailable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestBulkWireForm(t *testing.T) {
	schema := metadata.Builtin()
	acc := schema.Table("account")
	ref := eventual.EntityReference{Table: acc, Key: acc.Key("accountnumber_key"), KeyValues: []any{"A'1"}}
	b, err := keyedTarget(acc, ref, eventual.Values{"name": "N", "accountnumber": "A'1"})
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.HasPrefix(s, `{"@odata.type":"Microsoft.Dynamics.CRM.account","@odata.id":"accounts(`) || !strings.Contains(s, `"name":"N"`) {
		t.Errorf("keyed target = %s", s)
	}
	if strings.Contains(s, `"accountnumber"`) || strings.Contains(s, `"accountid"`) {
		t.Errorf("keyed target carries its key in the body: %s", s)
	}
	if got := string(bulkTarget(acc, "", []byte("{}"))); got != `{"@odata.type":"Microsoft.Dynamics.CRM.account"}` {
		t.Errorf("empty target = %s", got)
	}
}
