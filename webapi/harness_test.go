package webapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/instance"
	"github.com/eventual-pp/eventual/internal/testhttp"
	"github.com/eventual-pp/eventual/internal/teststore"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/eventual-pp/eventual/webapi"
)

// store opens empty stores of one kind.
type store = teststore.Kind

// stores lists the stores every Web API test runs against.
var stores = teststore.All()

// testServer is a Web API server on a loopback port.
type testServer struct {
	tb       testing.TB
	URL      string // service root, ending in "/"
	Server   *webapi.Server
	Instance *instance.Instance
	Store    eventual.Store
	client   *http.Client
	// kind is the store kind, to start more servers of the same kind.
	kind store
}

// forEachStore runs fn once per store, each with a fresh server.
func forEachStore(t *testing.T, fn func(t *testing.T, s *testServer)) {
	t.Helper()
	for _, st := range stores {
		t.Run(st.Name, func(t *testing.T) {
			fn(t, newServer(t, st, metadata.Builtin()))
		})
	}
}

func newServer(tb testing.TB, st store, schema *eventual.Schema) *testServer {
	tb.Helper()
	db := st.Open(tb, schema)
	in := instance.New(db, schema)
	srv := webapi.NewServer(in, in.Schema, db.Meta())
	srv.Now = in.Time
	srv.Logger = nil
	ts := httptest.NewServer(srv.Handler())
	tb.Cleanup(func() {
		ts.Close()
		if err := db.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	return &testServer{tb: tb, URL: ts.URL + "/api/data/v9.2/", Server: srv, Instance: in, Store: db, client: ts.Client(), kind: st}
}

// response is a received response.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as a JSON object.
func (r *response) JSON(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		tb.Fatalf("response body is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// Value returns the "value" array of a collection response.
func (r *response) Value(tb testing.TB) []map[string]any {
	tb.Helper()
	arr, ok := r.JSON(tb)["value"].([]any)
	if !ok {
		tb.Fatalf("response has no value array: %s", r.Body)
	}
	out := make([]map[string]any, len(arr))
	for i, v := range arr {
		out[i] = v.(map[string]any)
	}
	return out
}

// ErrorCode returns error.code of an error body.
func (r *response) ErrorCode(tb testing.TB) (code, message string) {
	tb.Helper()
	m := r.JSON(tb)
	e, ok := m["error"].(map[string]any)
	if !ok {
		tb.Fatalf("response is not a Dataverse error body: %s", r.Body)
	}
	code, _ = e["code"].(string)
	message, _ = e["message"].(string)
	return code, message
}

// do sends a request. path is relative to the service root unless it is
// absolute; body may be a string (sent as is) or a value (sent as JSON);
// headers are name, value pairs (a Content-Type of "" removes the header).
func (s *testServer) do(method, path string, body any, headers ...string) *response {
	s.tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			s.tb.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	url := path
	if !strings.HasPrefix(path, "http://") {
		url = s.URL + path
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		s.tb.Fatalf("new request %s %s: %v", method, url, err)
	}
	contentType := "application/json; charset=utf-8"
	if body == nil {
		contentType = ""
	}
	testhttp.SetODataHeaders(req, contentType)
	for i := 0; i+1 < len(headers); i += 2 {
		if http.CanonicalHeaderKey(headers[i]) == "Content-Type" {
			if headers[i+1] == "" { // "" sends the body without one
				req.Header.Del(headers[i])
				continue
			}
			req.Header.Set(headers[i], headers[i+1])
			continue
		}
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, data, err := testhttp.Do(s.client, req)
	if err != nil && resp == nil {
		s.tb.Fatalf("%s %s: %v", method, url, err)
	}
	if err != nil {
		s.tb.Fatalf("read body: %v", err)
	}
	r := &response{Status: resp.StatusCode, Header: resp.Header, Body: data}
	if r.Status >= 500 {
		s.tb.Errorf("%s %s: server error %d: %s", method, url, r.Status, data)
	}
	return r
}

// must sends a request and fails the test unless the status matches.
func (s *testServer) must(status int, method, path string, body any, headers ...string) *response {
	s.tb.Helper()
	r := s.do(method, path, body, headers...)
	if r.Status != status {
		s.tb.Fatalf("%s %s: status %d, want %d\n%s", method, path, r.Status, status, r.Body)
	}
	return r
}

// create creates a record and returns its id from OData-EntityId.
func (s *testServer) create(set string, body any) string {
	s.tb.Helper()
	r := s.must(http.StatusNoContent, "POST", set, body)
	loc := r.Header.Get("OData-EntityId")
	i := strings.LastIndexByte(loc, '(')
	if i < 0 || !strings.HasSuffix(loc, ")") {
		s.tb.Fatalf("OData-EntityId %q does not end in (<id>)", loc)
	}
	return loc[i+1 : len(loc)-1]
}

// count returns the number of records of a set matching a filter.
func (s *testServer) count(set, filter string) int {
	s.tb.Helper()
	path := set + "/$count"
	if filter != "" {
		path += "?$filter=" + urlEscape(filter)
	}
	r := s.must(http.StatusOK, "GET", path, nil)
	n := 0
	for _, c := range strings.TrimSpace(string(r.Body)) {
		n = n*10 + int(c-'0')
	}
	return n
}

// expectError checks a Dataverse error response.
func expectError(tb testing.TB, r *response, status int, code, messagePart string) {
	tb.Helper()
	if r.Status != status {
		tb.Errorf("status %d, want %d: %s", r.Status, status, r.Body)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		tb.Errorf("error Content-Type %q, want application/json", ct)
	}
	got, msg := r.ErrorCode(tb)
	if code != "" && got != code {
		tb.Errorf("error code %q, want %q (message %q)", got, code, msg)
	}
	if !strings.Contains(msg, messagePart) {
		tb.Errorf("error message %q does not contain %q", msg, messagePart)
	}
}

func urlEscape(s string) string {
	r := strings.NewReplacer("%", "%25", " ", "%20", "'", "%27", "&", "%26", "#", "%23", "+", "%2B", "?", "%3F", "\"", "%22")
	return r.Replace(s)
}

// str returns m[k] as a string.
func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}
