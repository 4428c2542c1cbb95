package webapi_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/webapi"
	"github.com/google/uuid"
)

// This file tests the x-eventual-adopt-placeholders header: the sync's
// upsert of an account by its source GUID adopts the placeholder a bind by
// account number made, on PATCH, UpsertMultiple and in a $batch change
// set; without the header it is the duplicate-key error.

// adoptWay upserts account id with the key by one of the Web API's
// routes, with the extra headers, and returns the status of the upsert.
type adoptWay struct {
	name   string
	upsert func(t *testing.T, s *testServer, id, key string, headers ...string) int
}

var adoptWays = []adoptWay{
	{"PATCH", func(t *testing.T, s *testServer, id, key string, headers ...string) int {
		return s.do("PATCH", "accounts("+id+")", map[string]any{"name": "Real " + key, "accountnumber": key}, headers...).Status
	}},
	{"UpsertMultiple", func(t *testing.T, s *testServer, id, key string, headers ...string) int {
		return s.do("POST", "accounts/Microsoft.Dynamics.CRM.UpsertMultiple", targets(
			target("Microsoft.Dynamics.CRM.account", "@odata.id", "accounts("+id+")", "name", "Real "+key, "accountnumber", key),
		), headers...).Status
	}},
	{"BatchChangeSet", func(t *testing.T, s *testServer, id, key string, headers ...string) int {
		return batchUpsert(t, s, nil, headers, id, key)
	}},
	{"BatchHeader", func(t *testing.T, s *testServer, id, key string, headers ...string) int {
		return batchUpsert(t, s, headers, nil, id, key)
	}},
}

// batchUpsert upserts the account in a $batch change set, with headers on
// the $batch request and on the part, and returns the part's status.
func batchUpsert(t *testing.T, s *testServer, batchHeaders, partHeaders []string, id, key string) int {
	res := s.batch(batchHeaders, changeSet{
		{Method: "PATCH", URL: "accounts(" + id + ")", ContentID: "1", Headers: partHeaders, Body: map[string]any{"name": "Real " + key, "accountnumber": key}},
	})
	// A failed change set makes the $batch a 400 with the failing part.
	if (res.Status != http.StatusOK && res.Status != http.StatusBadRequest) || len(res.Parts()) != 1 {
		t.Fatalf("batch status %d\n%s", res.Status, res.Body)
	}
	return res.Parts()[0].Status
}

// TestAdoptPlaceholderHeader: each route refuses the upsert without the
// header, and with it adopts the placeholder: one account with the key,
// under the source GUID, hydrated, the contact's lookup following it, the
// placeholder's GUID gone.
func TestAdoptPlaceholderHeader(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		withPlaceholders(t, s, eventual.PreValidation)
		for _, w := range adoptWays {
			subtest(t, s, w.name, func(t *testing.T, s *testServer) {
				b := missingAccount(true)
				contact := s.create("contacts", map[string]any{"lastname": "binds", "parentcustomerid_account@odata.bind": b.url})
				p := wantAccountPlaceholder(t, s, b, "")
				g := uuid.NewString()
				if st := w.upsert(t, s, g, b.key); st != http.StatusPreconditionFailed {
					t.Errorf("upsert without the header: status %d, want 412", st)
				}
				if st := w.upsert(t, s, g, b.key, webapi.HeaderAdoptPlaceholders, "true"); st != http.StatusNoContent {
					t.Fatalf("upsert with the header: status %d, want 204", st)
				}
				recs := s.query("accounts", b.filter, "accountid,name,eventual_hydrationstate")
				if len(recs) != 1 || str(recs[0], "accountid") != g || str(recs[0], "name") != "Real "+b.key || fmt.Sprint(recs[0]["eventual_hydrationstate"]) != "2" {
					t.Errorf("accounts with %s: %v, want one, %s, hydrated", b.key, recs, g)
				}
				if got := s.lookupValue("contacts", contact, "parentcustomerid"); got != g {
					t.Errorf("the contact binds %s, want the adopted %s (placeholder was %s)", got, g, p)
				}
				s.must(http.StatusNotFound, "GET", "accounts("+p+")", nil)
			})
		}
	})
}
