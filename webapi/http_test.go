package webapi_test

import (
	"net/http"
	"testing"
)

// TestContentType checks the media types of request bodies: every form of
// application/json that clients send works (dynamics-web-api sends
// "application/json; charset=utf-8" when, and only when, it has a body),
// requests without a body need no Content-Type, and $batch keeps
// multipart/mixed with its parts checked like requests. The refusals are
// in TestBadInput/ContentType.
func TestContentType(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		for i, ct := range []string{
			"application/json",
			"application/json; charset=utf-8",
			"application/json;charset=UTF-8",
			"application/json; charset=utf8",
			"application/json;odata.metadata=minimal",
			"application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false",
			"Application/JSON; type=entry",
		} {
			id := s.create("accounts", map[string]any{"name": "ct"})
			s.must(http.StatusNoContent, "PATCH", "accounts("+id+")", map[string]any{"name": "patched"}, "Content-Type", ct)
			s.must(http.StatusNoContent, "POST", "accounts", map[string]any{"name": "posted"}, "Content-Type", ct)
			s.must(http.StatusNoContent, "PUT", "accounts("+id+")/name", map[string]any{"value": "put"}, "Content-Type", ct)
			if n := s.count("accounts", "name eq 'posted'"); n != i+1 {
				t.Errorf("Content-Type %q: %d posted accounts, want %d", ct, n, i+1)
			}
		}
		// No body, no Content-Type: DELETE, GET, and a $ref removal.
		id := s.create("accounts", map[string]any{"name": "no body"})
		con := s.create("contacts", map[string]any{"lastname": "L"})
		s.must(http.StatusNoContent, "PUT", "accounts("+id+")/primarycontactid/$ref", map[string]any{"@odata.id": "contacts(" + con + ")"})
		s.must(http.StatusNoContent, "DELETE", "accounts("+id+")/primarycontactid/$ref", nil)
		s.must(http.StatusOK, "GET", "accounts("+id+")", nil)
		s.must(http.StatusNoContent, "DELETE", "accounts("+id+")", nil)
		// A Content-Type on a request without a body is not read.
		s.must(http.StatusOK, "GET", "accounts?$top=1", nil, "Content-Type", "text/plain")
		s.must(http.StatusNoContent, "DELETE", "contacts("+con+")", nil, "Content-Type", "text/plain")

		t.Run("Batch", func(t *testing.T) {
			s := s.withTB(t)
			before := s.count("accounts", "")
			res := s.batch(nil,
				batchOp{Method: "POST", URL: "accounts", Body: map[string]any{"name": "batch json"}},
				batchOp{Method: "POST", URL: "accounts", Headers: []string{"Content-Type", "text/plain"}, Body: `{"name":"batch text"}`},
			)
			if got := res.Statuses(); len(got) != 2 || got[0] != http.StatusNoContent || got[1] != http.StatusUnsupportedMediaType {
				t.Fatalf("batch statuses %v, want [204 415]\n%s", got, res.Body)
			}
			expectError(t, &res.Parts()[1].response, http.StatusUnsupportedMediaType, "0x80048d19", "'text/plain'")
			if after := s.count("accounts", ""); after != before+1 {
				t.Errorf("accounts went from %d to %d, want one created", before, after)
			}
			// The $batch itself must be multipart/mixed.
			r := s.postBatch("application/json", `{"requests":[]}`)
			expectError(t, r, http.StatusBadRequest, "0x80048d19", "multipart/mixed")
		})
	})
}
