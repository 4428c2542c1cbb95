package webapi_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
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

// These tests serve record services that are not an *instance.Instance:
// the Web API sees only eventual.RecordService.

// plainService hides everything of a record service but the contract, so
// it has no Atomic and no instance methods.
type plainService struct {
	eventual.RecordService
	creates atomic.Int64
}

func (p *plainService) Create(ctx context.Context, e *eventual.Entity) (uuid.UUID, error) {
	p.creates.Add(1)
	return p.RecordService.Create(ctx, e)
}

// throttledService refuses every message as Dataverse's service
// protection does.
type throttledService struct {
	eventual.RecordService
	retryAfter time.Duration
}

func (s throttledService) err() error {
	return &eventual.Error{Kind: eventual.KindThrottled, Code: eventual.CodeRequestsLimitExceeded, RetryAfter: s.retryAfter,
		Message: "Number of requests exceeded the limit of 6000 over time window of 300 seconds."}
}

func (s throttledService) Create(context.Context, *eventual.Entity) (uuid.UUID, error) {
	return uuid.Nil, s.err()
}

func (s throttledService) RetrieveMultiple(context.Context, *eventual.Query, []eventual.Expand, bool) (*eventual.Page, error) {
	return nil, s.err()
}

// serveService starts a Web API over svc and returns a test server for it.
func serveService(t *testing.T, svc eventual.RecordService, schema *eventual.Schema) *testServer {
	t.Helper()
	srv := webapi.NewServer(svc, schema, eventual.Meta{})
	srv.Logger = slog.New(slog.DiscardHandler)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &testServer{tb: t, URL: ts.URL + "/api/data/v9.2/", Server: srv, client: ts.Client()}
}

func TestServesAnyRecordService(t *testing.T) {
	schema := metadata.Builtin()
	db := teststore.SQLite.Open(t, schema)
	svc := &plainService{RecordService: instance.New(db, schema)}
	s := serveService(t, svc, schema)

	id := s.create("accounts", map[string]any{"name": "Contoso", "accountnumber": "A-1"})
	if svc.creates.Load() != 1 {
		t.Fatalf("creates through the service = %d, want 1", svc.creates.Load())
	}
	got := s.must(http.StatusOK, "GET", "accounts(accountnumber='A-1')?$select=name", nil).JSON(t)
	if got["accountid"] != id || got["name"] != "Contoso" {
		t.Errorf("retrieve by key = %v, want id %s and name Contoso", got, id)
	}
	s.must(http.StatusNoContent, "PATCH", "accounts("+id+")", map[string]any{"name": "Fabrikam"})
	s.must(http.StatusNoContent, "POST", "accounts/Microsoft.Dynamics.CRM.UpsertMultiple", map[string]any{"Targets": []any{
		map[string]any{"@odata.type": "Microsoft.Dynamics.CRM.account", "@odata.id": "accounts(accountnumber='A-2')", "name": "Two"},
	}})
	if n := s.count("accounts", ""); n != 2 {
		t.Errorf("accounts = %d, want 2", n)
	}

	// A change set needs transactions, which this service does not offer:
	// it fails as a whole and writes nothing.
	res := s.batch(nil, changeSet{
		{Method: "POST", URL: "accounts", Body: map[string]any{"name": "In a change set"}},
	})
	if st := res.Statuses(); len(st) != 1 || st[0] != http.StatusNotImplemented {
		t.Errorf("change set statuses = %v, want [501]", st)
	}
	if n := s.count("accounts", ""); n != 2 {
		t.Errorf("accounts after the refused change set = %d, want 2", n)
	}
	// Requests outside change sets still run.
	res = s.batch(nil, batchOp{Method: "GET", URL: "accounts?$select=name"})
	if st := res.Statuses(); len(st) != 1 || st[0] != http.StatusOK {
		t.Errorf("batch GET statuses = %v, want [200]", st)
	}
}

func TestThrottledAnswers429WithRetryAfter(t *testing.T) {
	schema := metadata.Builtin()
	db := teststore.SQLite.Open(t, schema)
	for _, tc := range []struct {
		retryAfter time.Duration
		header     string
	}{
		{1500 * time.Millisecond, "2"}, // rounded up: never early
		{30 * time.Second, "30"},
		{0, ""}, // unknown: no header
	} {
		s := serveService(t, throttledService{RecordService: instance.New(db, schema), retryAfter: tc.retryAfter}, schema)
		for _, r := range []*response{
			s.do("POST", "accounts", map[string]any{"name": "x"}),
			s.do("GET", "accounts", nil),
		} {
			expectError(t, r, http.StatusTooManyRequests, eventual.CodeRequestsLimitExceeded, "exceeded the limit of 6000")
			if got := r.Header.Get("Retry-After"); got != tc.header {
				t.Errorf("RetryAfter %v: Retry-After = %q, want %q", tc.retryAfter, got, tc.header)
			}
		}
	}
}
