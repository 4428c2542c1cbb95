package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/instance"
	"github.com/eventual-pp/eventual/internal/teststore"
	"github.com/google/uuid"
)

// forEachStore runs a test against the live server over each store kind.
func forEachStore(t *testing.T, f func(t *testing.T, r *Records, in *instance.Instance, schema *eventual.Schema)) {
	for _, kind := range teststore.All() {
		t.Run(kind.Name, func(t *testing.T) {
			r, in, schema := liveRecords(t, kind)
			f(t, r, in, schema)
		})
	}
}

// countByName counts the records of t named name, by the oracle.
func countByName(t *testing.T, in *instance.Instance, tb *eventual.Table, col, name string) int64 {
	t.Helper()
	n, err := in.Count(context.Background(), tb, eventual.Compare{Op: eventual.OpEq, Left: eventual.Field{Column: tb.Column(col)}, Right: eventual.Literal{Value: name}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestBatchChangeSetContentRef(t *testing.T) {
	forEachStore(t, func(t *testing.T, r *Records, in *instance.Instance, schema *eventual.Schema) {
		ctx := context.Background()
		acc, con := schema.Table("account"), schema.Table("contact")
		b := r.Batch()
		cs := b.ChangeSet()
		aid, err := cs.Create(&eventual.Entity{Table: acc, Values: eventual.Values{"name": "Batch & Co"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cs.Create(&eventual.Entity{Table: con, Values: eventual.Values{"lastname": "Bound", "parentcustomerid": ContentRef{Table: acc, ContentID: aid}}}); err != nil {
			t.Fatal(err)
		}
		res, err := b.Send(ctx)
		if err != nil {
			t.Fatalf("send: %v", err)
		}
		if res.StatusCode != http.StatusOK || len(res.Responses) != 2 {
			t.Fatalf("status %d, %d responses; want 200, 2", res.StatusCode, len(res.Responses))
		}
		for i, resp := range res.Responses {
			if resp.StatusCode != http.StatusNoContent || resp.ID == uuid.Nil || resp.ChangeSet != 1 || resp.RolledBack || resp.Err != nil {
				t.Errorf("response %d = %d id %v cs %d rolledBack %v err %v", i, resp.StatusCode, resp.ID, resp.ChangeSet, resp.RolledBack, resp.Err)
			}
		}
		if res.Responses[0].ContentID != aid {
			t.Errorf("Content-ID %q, want %q", res.Responses[0].ContentID, aid)
		}
		accID, conID := res.Responses[0].ID, res.Responses[1].ID
		arec, err := in.Retrieve(ctx, eventual.Ref(acc, accID), nil, nil, "")
		if err != nil || arec.Values["name"] != "Batch & Co" {
			t.Fatalf("account in the oracle: %v, %v", arec, err)
		}
		crec, err := in.Retrieve(ctx, eventual.Ref(con, conID), nil, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		if ref, _ := crec.Values["parentcustomerid"].(eventual.EntityReference); ref.ID != accID || ref.Table != acc {
			t.Errorf("contact's parentcustomerid = %v, want account %v", crec.Values["parentcustomerid"], accID)
		}
	})
}

func TestBatchFailedChangeSetRollsBack(t *testing.T) {
	forEachStore(t, func(t *testing.T, r *Records, in *instance.Instance, schema *eventual.Schema) {
		ctx := context.Background()
		acc := schema.Table("account")
		own, err := r.Create(ctx, &eventual.Entity{Table: acc, ID: uuid.New(), Values: eventual.Values{"name": "Existing"}})
		if err != nil {
			t.Fatal(err)
		}
		b := r.Batch()
		cs := b.ChangeSet()
		first, _ := cs.Create(&eventual.Entity{Table: acc, Values: eventual.Values{"name": "Rolled back"}})
		dup, _ := cs.Create(&eventual.Entity{Table: acc, ID: own, Values: eventual.Values{"name": "Duplicate"}})
		b.Get("accounts?$select=name", nil) // not run: the batch stops at the failure
		res, err := b.Send(ctx)
		if !IsPreconditionFailed(err) {
			t.Fatalf("send: %v, want the duplicate's 412", err)
		}
		if res == nil || res.StatusCode != http.StatusBadRequest || len(res.Responses) != 3 {
			t.Fatalf("result %+v, want 400 with 3 responses", res)
		}
		ok, bad, get := res.Responses[0], res.Responses[1], res.Responses[2]
		if ok.ContentID != first || !ok.RolledBack || ok.StatusCode != 0 || !errors.Is(ok.Err, ErrRolledBack) || !IsPreconditionFailed(ok.Err) {
			t.Errorf("first create: cid %q rolledBack %v status %d err %v; want rolled back, wrapping the 412", ok.ContentID, ok.RolledBack, ok.StatusCode, ok.Err)
		}
		var ce *Error
		if bad.ContentID != dup || !bad.RolledBack || bad.StatusCode != http.StatusPreconditionFailed || !errors.As(bad.Err, &ce) || ce.Code == "" || errors.Is(bad.Err, ErrRolledBack) {
			t.Errorf("duplicate: cid %q rolledBack %v status %d err %v; want its own 412 *Error", bad.ContentID, bad.RolledBack, bad.StatusCode, bad.Err)
		}
		if !errors.Is(get.Err, ErrNotRun) || get.StatusCode != 0 {
			t.Errorf("GET after the failure: %d %v, want ErrNotRun", get.StatusCode, get.Err)
		}
		if n := countByName(t, in, acc, "name", "Rolled back"); n != 0 {
			t.Errorf("%d accounts of the failed change set exist, want 0", n)
		}
		if rec, err := in.Retrieve(ctx, eventual.Ref(acc, own), nil, nil, ""); err != nil || rec.Values["name"] != "Existing" {
			t.Errorf("the existing account: %v, %v", rec, err)
		}
	})
}

func TestBatchContinueOnErrorAndGets(t *testing.T) {
	forEachStore(t, func(t *testing.T, r *Records, in *instance.Instance, schema *eventual.Schema) {
		ctx := context.Background()
		acc := schema.Table("account")
		id, err := r.Create(ctx, &eventual.Entity{Table: acc, Values: eventual.Values{"name": "Before"}})
		if err != nil {
			t.Fatal(err)
		}
		b := r.Batch()
		b.ContinueOnError = true
		if err := b.Retrieve(eventual.Ref(acc, uuid.New()), nil); err != nil { // 404
			t.Fatal(err)
		}
		cs := b.ChangeSet()
		cs.Create(&eventual.Entity{Table: acc, Values: eventual.Values{"name": "After"}})
		cs.Update(eventual.Ref(acc, id), eventual.Values{"name": "Before, renamed"}, eventual.Condition{})
		b.Retrieve(eventual.Ref(acc, id), []*eventual.Column{acc.Column("name")})
		b.Get("accounts?$select=name&$orderby=name", nil)
		if b.replay() != ReplayNever {
			t.Errorf("a batch with a change set is %v, want ReplayNever", b.replay())
		}
		res, err := b.Send(ctx)
		if !IsNotFound(err) || res == nil || res.StatusCode != http.StatusOK || len(res.Responses) != 5 {
			t.Fatalf("send: %+v, %v; want 200 with 5 responses and the 404", res, err)
		}
		if !IsNotFound(res.Responses[0].Err) || res.Responses[0].RolledBack {
			t.Errorf("missing record: %v", res.Responses[0].Err)
		}
		for i := 1; i <= 2; i++ {
			if resp := res.Responses[i]; resp.Err != nil || resp.ChangeSet != 1 || resp.ID == uuid.Nil {
				t.Errorf("change set response %d: %d %v id %v", i, resp.StatusCode, resp.Err, resp.ID)
			}
		}
		if res.Responses[2].ID != id {
			t.Errorf("update names %v, want %v", res.Responses[2].ID, id)
		}
		rec, err := res.Responses[3].Record(acc)
		if err != nil || rec.ID != id || rec.Values["name"] != "Before, renamed" {
			t.Errorf("retrieve in the batch: %v, %v", rec, err)
		}
		page, err := res.Responses[4].Page(acc)
		if err != nil || len(page.Records) != 2 || page.Records[0].Values["name"] != "After" || page.Records[1].Values["name"] != "Before, renamed" {
			t.Errorf("list in the batch: %+v, %v", page, err)
		}
		if n := countByName(t, in, acc, "name", "After"); n != 1 {
			t.Errorf("%d accounts created after the failure, want 1", n)
		}
	})
}

func TestBatchReplayAndEncoding(t *testing.T) {
	c, err := New("https://org.example.com/prefix", Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := NewBatch(c)
	b.Get("accounts?$select=name", nil)
	b.Get("https://org.example.com/prefix/api/data/v9.2/contacts", nil)
	if b.replay() != ReplaySafe {
		t.Errorf("a batch of GETs is %v, want ReplaySafe", b.replay())
	}
	cs := b.ChangeSet()
	cs.Add(&Request{Method: http.MethodPost, Path: "accounts", Body: []byte(`{"name":"a"}`)})
	cs.Add(&Request{Method: http.MethodPatch, Path: "$1", Body: []byte(`{"name":"b"}`)})
	if b.replay() != ReplayNever {
		t.Errorf("a batch with writes is %v, want ReplayNever", b.replay())
	}
	body, err := b.encode("batch_x")
	if err != nil {
		t.Fatal(err)
	}
	s := string(body)
	for _, want := range []string{
		"--batch_x\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET /prefix/api/data/v9.2/accounts?$select=name HTTP/1.1\r\n",
		"GET /prefix/api/data/v9.2/contacts HTTP/1.1\r\n",
		"Content-ID: 1\r\n\r\nPOST /prefix/api/data/v9.2/accounts HTTP/1.1\r\n",
		"Content-ID: 2\r\n\r\nPATCH $1 HTTP/1.1\r\n",
		"Content-Type: application/json; type=entry\r\n",
		"\r\n{\"name\":\"a\"}\r\n--changeset_",
		"--batch_x--\r\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("body lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(strings.ReplaceAll(s, "\r\n", ""), "\n") {
		t.Errorf("body has a bare LF:\n%s", s)
	}
	cs.Add(&Request{Method: http.MethodGet, Path: "accounts"})
	if _, err := b.encode("batch_x"); err == nil {
		t.Error("a GET in a change set encoded")
	}
	if _, err := NewBatch(c).Send(context.Background()); eventual.ErrorKind(err) != eventual.KindInvalid {
		t.Errorf("empty batch: %v, want KindInvalid", err)
	}
}

func TestBatchDecodesDataverseFailure(t *testing.T) {
	// Microsoft's example of a batch stopped by its first request, which
	// names no Content-Type on the batch response.
	body := "--batchresponse_156da4b8\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n" +
		"HTTP/1.1 400 Bad Request\r\nREQ_ID: 5ecd1cb3\r\nContent-Type: application/json; odata.metadata=minimal\r\nOData-Version: 4.0\r\n\r\n" +
		`{"error":{"code":"0x80044331","message":"A validation error occurred."}}` + "\r\n--batchresponse_156da4b8--\r\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("OData-Version", "4.0")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, body)
	}))
	defer srv.Close()
	c, err := New(srv.URL, Options{MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	b := NewBatch(c)
	b.Add(&Request{Method: http.MethodPost, Path: "tasks", Body: []byte(`{"subject":"x"}`)})
	b.Add(&Request{Method: http.MethodPost, Path: "tasks", Body: []byte(`{"subject":"y"}`)})
	res, err := b.Send(context.Background())
	var ce *Error
	if !errors.As(err, &ce) || ce.Code != "0x80044331" || ce.StatusCode != 400 || eventual.ErrorKind(err) != eventual.KindInvalid {
		t.Fatalf("send: %v, want the first request's 400", err)
	}
	if res.StatusCode != 400 || len(res.Responses) != 2 || res.Responses[0].Err != err || !errors.Is(res.Responses[1].Err, ErrNotRun) {
		t.Errorf("result %+v", res)
	}
}
