package webapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eventual-pp/eventual/instance"
	"github.com/eventual-pp/eventual/internal/testhttp"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/eventual-pp/eventual/webapi"
	"github.com/google/uuid"
)

// batchOp is one request of a $batch body.
type batchOp struct {
	Method    string
	URL       string   // as written on the request line
	ContentID string   // Content-ID of the MIME part, if any
	Headers   []string // request headers, name, value pairs
	Body      any      // nil, a string sent as is, or a value sent as JSON
}

// changeSet is a change set of a $batch body.
type changeSet []batchOp

// rawPart is a batch part written as is, after the boundary line.
type rawPart string

// batchBody composes a multipart/mixed $batch body with CRLF line endings.
// items are batchOp, changeSet or rawPart values.
func batchBody(tb testing.TB, boundary string, items ...any) string {
	tb.Helper()
	var b strings.Builder
	for _, it := range items {
		b.WriteString("--" + boundary + "\r\n")
		switch it := it.(type) {
		case batchOp:
			writeBatchOp(tb, &b, it)
		case changeSet:
			cs := "changeset_" + uuid.NewString()
			b.WriteString("Content-Type: multipart/mixed; boundary=" + cs + "\r\n\r\n")
			for _, op := range it {
				b.WriteString("--" + cs + "\r\n")
				writeBatchOp(tb, &b, op)
			}
			b.WriteString("--" + cs + "--\r\n")
		case rawPart:
			b.WriteString(string(it))
		default:
			tb.Fatalf("batchBody: unexpected item %T", it)
		}
	}
	b.WriteString("--" + boundary + "--\r\n")
	return b.String()
}

// writeBatchOp writes an application/http part: its MIME headers, a blank
// line, the request line, the request headers, a blank line and the body.
func writeBatchOp(tb testing.TB, b *strings.Builder, op batchOp) {
	tb.Helper()
	b.WriteString("Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n")
	if op.ContentID != "" {
		b.WriteString("Content-ID: " + op.ContentID + "\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(op.Method + " " + op.URL + " HTTP/1.1\r\n")
	var body string
	switch v := op.Body.(type) {
	case nil:
	case string:
		body = v
	default:
		data, err := json.Marshal(v)
		if err != nil {
			tb.Fatal(err)
		}
		body = string(data)
	}
	hasType := false
	for i := 0; i+1 < len(op.Headers); i += 2 {
		if strings.EqualFold(op.Headers[i], "Content-Type") {
			hasType = true
		}
		b.WriteString(op.Headers[i] + ": " + op.Headers[i+1] + "\r\n")
	}
	if body != "" && !hasType {
		b.WriteString("Content-Type: application/json; type=entry\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(body + "\r\n")
}

// postBatch sends POST $batch with the given Content-Type ("" for none)
// and body; headers are name, value pairs.
func (s *testServer) postBatch(contentType, body string, headers ...string) *response {
	s.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := s.tryPostBatch(ctx, contentType, body, headers...)
	if err != nil {
		s.tb.Fatalf("POST $batch: %v", err)
	}
	return r
}

// tryPostBatch is postBatch returning the transport error.
func (s *testServer) tryPostBatch(ctx context.Context, contentType, body string, headers ...string) (*response, error) {
	s.tb.Helper()
	req, err := http.NewRequestWithContext(ctx, "POST", s.URL+"$batch", strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	testhttp.SetODataHeaders(req, contentType)
	testhttp.SetPairs(req.Header, headers...)
	resp, data, err := testhttp.Do(s.client, req)
	if err != nil {
		return nil, err
	}
	r := &response{Status: resp.StatusCode, Header: resp.Header, Body: data}
	if r.Status >= 500 {
		s.tb.Errorf("POST $batch: server error %d: %s", r.Status, data)
	}
	return r, nil
}

// batch composes a batch of items, sends it and parses the multipart
// response, failing the test if its framing is not what strict clients
// (dynamics-web-api) accept.
func (s *testServer) batch(headers []string, items ...any) *batchResult {
	s.tb.Helper()
	boundary := "batch_" + uuid.NewString()
	r := s.postBatch(`multipart/mixed; boundary="`+boundary+`"`, batchBody(s.tb, boundary, items...), headers...)
	return parseBatchResponse(s.tb, r)
}

// batchResult is a parsed $batch response.
type batchResult struct {
	*response
	Items []batchItemResult
}

// batchItemResult is a top-level part of a batch response: one response,
// or the responses of a change set.
type batchItemResult struct {
	ChangeSet bool
	Parts     []*batchPart
}

// batchPart is the response to one request of a batch.
type batchPart struct {
	response
	ContentID string
}

// Parts returns the responses of all items, change sets flattened.
func (b *batchResult) Parts() []*batchPart {
	var out []*batchPart
	for _, it := range b.Items {
		out = append(out, it.Parts...)
	}
	return out
}

// Statuses returns the statuses of Parts.
func (b *batchResult) Statuses() []int {
	var out []int
	for _, p := range b.Parts() {
		out = append(out, p.Status)
	}
	return out
}

var statusLineRE = regexp.MustCompile(`^HTTP/1\.1 (\d{3}) (\S.*)$`)

// parseBatchResponse parses a multipart $batch response, checking the
// framing: Content-Type multipart/mixed; boundary=batchresponse_…, the
// body starting with the boundary, changesetresponse_ boundaries, a change
// set part with exactly one header line, CRLF line endings and an
// "HTTP/1.1 <code> <reason>" line in every operation part.
func parseBatchResponse(tb testing.TB, r *response) *batchResult {
	tb.Helper()
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "multipart/mixed" {
		tb.Fatalf("batch response Content-Type %q is not multipart/mixed (status %d)\n%s", ct, r.Status, r.Body)
	}
	boundary := params["boundary"]
	if !strings.HasPrefix(ct, "multipart/mixed; boundary=batchresponse_") {
		tb.Errorf("batch response Content-Type = %q, want multipart/mixed; boundary=batchresponse_…", ct)
	}
	if !strings.HasPrefix(string(r.Body), "--"+boundary+"\r\n") {
		tb.Fatalf("batch response body does not start with --%s CRLF:\n%s", boundary, r.Body)
	}
	if !strings.HasSuffix(strings.TrimRight(string(r.Body), "\r\n"), "--"+boundary+"--") {
		tb.Errorf("batch response body does not end with the close delimiter:\n%s", r.Body)
	}
	if v := r.Header.Get("OData-Version"); v != "4.0" {
		tb.Errorf("batch response OData-Version = %q", v)
	}
	res := &batchResult{response: r}
	mr := multipart.NewReader(bytes.NewReader(r.Body), boundary)
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatalf("batch response is not valid multipart: %v\n%s", err, r.Body)
		}
		pmt, pparams, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if pmt != "multipart/mixed" {
			res.Items = append(res.Items, batchItemResult{Parts: []*batchPart{parseBatchPart(tb, p)}})
			continue
		}
		if len(p.Header) != 1 || len(p.Header["Content-Type"]) != 1 {
			tb.Errorf("change set response part has headers %v, want exactly one Content-Type line", p.Header)
		}
		cs := pparams["boundary"]
		if !strings.HasPrefix(cs, "changesetresponse_") {
			tb.Errorf("change set response boundary %q, want changesetresponse_…", cs)
		}
		data, err := io.ReadAll(p)
		if err != nil {
			tb.Fatalf("read change set response: %v", err)
		}
		if !bytes.HasPrefix(data, []byte("--"+cs+"\r\n")) {
			tb.Errorf("change set response does not start with its boundary:\n%s", data)
		}
		item := batchItemResult{ChangeSet: true}
		cr := multipart.NewReader(bytes.NewReader(data), cs)
		for {
			cp, err := cr.NextRawPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				tb.Fatalf("change set response is not valid multipart: %v\n%s", err, data)
			}
			item.Parts = append(item.Parts, parseBatchPart(tb, cp))
		}
		if len(item.Parts) == 0 {
			tb.Errorf("change set response has no parts:\n%s", data)
		}
		res.Items = append(res.Items, item)
	}
	return res
}

// parseBatchPart parses an application/http response part.
func parseBatchPart(tb testing.TB, p *multipart.Part) *batchPart {
	tb.Helper()
	if ct := p.Header.Get("Content-Type"); ct != "application/http" {
		tb.Errorf("operation part Content-Type = %q, want application/http", ct)
	}
	if cte := p.Header.Get("Content-Transfer-Encoding"); cte != "binary" {
		tb.Errorf("operation part Content-Transfer-Encoding = %q, want binary", cte)
	}
	data, err := io.ReadAll(p)
	if err != nil {
		tb.Fatalf("read operation part: %v", err)
	}
	line, _, ok := bytes.Cut(data, []byte("\r\n"))
	m := statusLineRE.FindSubmatch(line)
	if !ok || m == nil {
		tb.Fatalf("operation part does not start with an HTTP/1.1 status line:\n%s", data)
	}
	code, _ := strconv.Atoi(string(m[1]))
	if string(m[2]) != http.StatusText(code) {
		tb.Errorf("status line %q: reason %q, want %q", line, m[2], http.StatusText(code))
	}
	head, _, found := bytes.Cut(data, []byte("\r\n\r\n"))
	if !found {
		tb.Fatalf("operation part has no blank line after its headers:\n%s", data)
	}
	if bytes.Contains(bytes.ReplaceAll(head, []byte("\r\n"), nil), []byte("\n")) {
		tb.Errorf("operation part headers have bare LF line endings:\n%q", head)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(data)), nil)
	if err != nil {
		tb.Fatalf("operation part is not an HTTP response: %v\n%s", err, data)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("read operation part body: %v", err)
	}
	bp := &batchPart{response: response{Status: resp.StatusCode, Header: resp.Header, Body: body}, ContentID: p.Header.Get("Content-ID")}
	if bp.Status >= 500 && bp.Status != http.StatusNotImplemented { // 501: a feature not offered, on purpose
		tb.Errorf("operation part has server error %d: %s", bp.Status, body)
	}
	return bp
}

// wantStatuses checks the statuses of all parts.
func wantStatuses(tb testing.TB, b *batchResult, want ...int) {
	tb.Helper()
	if got := b.Statuses(); fmt.Sprint(got) != fmt.Sprint(want) {
		tb.Fatalf("part statuses %v, want %v\n%s", got, want, b.Body)
	}
}

// wantPartError checks a failed part: its status, a REQ_ID header and a
// Dataverse JSON error body.
func wantPartError(tb testing.TB, p *batchPart, status int, code, messagePart string) {
	tb.Helper()
	expectError(tb, &p.response, status, code, messagePart)
	if p.Header.Get("REQ_ID") == "" {
		tb.Errorf("failed part has no REQ_ID header: %v", p.Header)
	}
}

// entityID returns the id at the end of a record URL.
func entityID(tb testing.TB, loc string) string {
	tb.Helper()
	i := strings.LastIndexByte(loc, '(')
	if i < 0 || !strings.HasSuffix(loc, ")") {
		tb.Fatalf("%q does not end in (<id>)", loc)
	}
	return loc[i+1 : len(loc)-1]
}

func TestBatch(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *testServer) {
		recordURL := func(set string) *regexp.Regexp {
			return regexp.MustCompile(`^` + regexp.QuoteMeta(s.URL+set) + `\([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\)$`)
		}

		// (a) A GET and a change set using Content-ID references.
		t.Run("ChangeSetWithContentIDs", func(t *testing.T) {
			s.create("accounts", map[string]any{"name": "Before batch"})
			b := s.batch(nil,
				batchOp{Method: "GET", URL: "accounts?$select=name&$top=1", Headers: []string{"Accept", "application/json"}},
				changeSet{
					{Method: "POST", URL: "accounts", ContentID: "1", Body: map[string]any{"name": "Batch Account", "accountnumber": "BA-1"}},
					{Method: "POST", URL: "contacts", ContentID: "2", Body: map[string]any{"lastname": "Batch Contact", "parentcustomerid_account@odata.bind": "$1"}},
					{Method: "PATCH", URL: "$1", ContentID: "3", Headers: []string{"If-Match", "*"}, Body: map[string]any{"telephone1": "555-0100"}},
				})
			if b.Status != http.StatusOK {
				t.Fatalf("outer status %d, want 200\n%s", b.Status, b.Body)
			}
			if len(b.Items) != 2 || b.Items[0].ChangeSet || !b.Items[1].ChangeSet {
				t.Fatalf("items %+v, want a response then a change set", b.Items)
			}
			wantStatuses(t, b, 200, 204, 204, 204)

			get := b.Items[0].Parts[0]
			if ct := get.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("GET part Content-Type = %q", ct)
			}
			if v := get.Value(t); len(v) != 1 || v[0]["name"] == nil {
				t.Errorf("GET part body = %s", get.Body)
			}

			cs := b.Items[1].Parts
			for i, p := range cs {
				if want := strconv.Itoa(i + 1); p.ContentID != want {
					t.Errorf("part %d Content-ID = %q, want %q", i, p.ContentID, want)
				}
				if len(p.Body) != 0 {
					t.Errorf("part %d: 204 with a body: %s", i, p.Body)
				}
				if v := p.Header.Get("OData-Version"); v != "4.0" {
					t.Errorf("part %d OData-Version = %q", i, v)
				}
			}
			for i, set := range []string{"accounts", "contacts"} {
				loc, eid := cs[i].Header.Get("Location"), cs[i].Header.Get("OData-EntityId")
				if !recordURL(set).MatchString(eid) {
					t.Errorf("create %d OData-EntityId = %q", i, eid)
				}
				if loc != eid {
					t.Errorf("create %d Location = %q, OData-EntityId = %q", i, loc, eid)
				}
			}
			aid := entityID(t, cs[0].Header.Get("OData-EntityId"))
			cid := entityID(t, cs[1].Header.Get("OData-EntityId"))

			c := s.must(http.StatusOK, "GET", "contacts("+cid+")?$select=lastname,_parentcustomerid_value", nil).JSON(t)
			if c["lastname"] != "Batch Contact" || c["_parentcustomerid_value"] != aid {
				t.Errorf("contact = %s, want bound to account %s", s.must(http.StatusOK, "GET", "contacts("+cid+")", nil).Body, aid)
			}
			a := s.must(http.StatusOK, "GET", "accounts("+aid+")?$select=name,accountnumber,telephone1", nil).JSON(t)
			if a["name"] != "Batch Account" || a["accountnumber"] != "BA-1" || a["telephone1"] != "555-0100" {
				t.Errorf("account = %v, want the PATCH $1 applied", a)
			}
		})

		// Content-ID references in property, $ref and @odata.id URLs.
		t.Run("ContentIDReferencesInPaths", func(t *testing.T) {
			b := s.batch(nil, changeSet{
				{Method: "POST", URL: "/api/data/v9.2/accounts", ContentID: "1", Body: map[string]any{"name": "Ref Account"}},
				{Method: "POST", URL: "/api/data/v9.2/contacts", ContentID: "2", Body: map[string]any{"lastname": "Ref Contact"}},
				{Method: "PUT", URL: "$2/jobtitle", ContentID: "3", Body: map[string]any{"value": "CEO"}},
				{Method: "PUT", URL: "$1/primarycontactid/$ref", ContentID: "4", Body: map[string]any{"@odata.id": "$2"}},
			})
			if b.Status != http.StatusOK {
				t.Fatalf("outer status %d\n%s", b.Status, b.Body)
			}
			wantStatuses(t, b, 204, 204, 204, 204)
			cs := b.Items[0].Parts
			aid := entityID(t, cs[0].Header.Get("OData-EntityId"))
			cid := entityID(t, cs[1].Header.Get("OData-EntityId"))
			if c := s.must(http.StatusOK, "GET", "contacts("+cid+")?$select=jobtitle", nil).JSON(t); c["jobtitle"] != "CEO" {
				t.Errorf("jobtitle = %v", c["jobtitle"])
			}
			if a := s.must(http.StatusOK, "GET", "accounts("+aid+")?$select=_primarycontactid_value", nil).JSON(t); a["_primarycontactid_value"] != cid {
				t.Errorf("_primarycontactid_value = %v, want %s", a["_primarycontactid_value"], cid)
			}
		})

		// (b) A failure inside a change set rolls the whole change set back.
		t.Run("ChangeSetRollsBack", func(t *testing.T) {
			b := s.batch(nil,
				changeSet{
					{Method: "POST", URL: "accounts", ContentID: "1", Body: map[string]any{"name": "Rolled back", "accountnumber": "RB-1"}},
					{Method: "POST", URL: "accounts", ContentID: "2", Body: map[string]any{"name": strings.Repeat("x", 161), "accountnumber": "RB-2"}},
					{Method: "POST", URL: "accounts", ContentID: "3", Body: map[string]any{"name": "Never run", "accountnumber": "RB-3"}},
				},
				batchOp{Method: "POST", URL: "accounts", Body: map[string]any{"name": "After the failure", "accountnumber": "RB-4"}},
			)
			if b.Status != http.StatusBadRequest {
				t.Errorf("outer status %d, want 400", b.Status)
			}
			if len(b.Items) != 1 || !b.Items[0].ChangeSet || len(b.Items[0].Parts) != 1 {
				t.Fatalf("want one change set with one part, got %d items, statuses %v\n%s", len(b.Items), b.Statuses(), b.Body)
			}
			p := b.Items[0].Parts[0]
			wantPartError(t, p, http.StatusBadRequest, "0x80044331", "exceeded the maximum allowed length of '160'")
			if p.ContentID != "" && p.ContentID != "2" {
				t.Errorf("failed part Content-ID = %q, want 2", p.ContentID)
			}
			if n := s.count("accounts", "startswith(accountnumber,'RB-')"); n != 0 {
				t.Errorf("%d accounts persisted, want none (change set rolled back, later requests not run)", n)
			}
		})
		t.Run("ChangeSetRollsBackOnMissingRecord", func(t *testing.T) {
			missing := uuid.NewString()
			b := s.batch(nil, changeSet{
				{Method: "POST", URL: "accounts", ContentID: "1", Body: map[string]any{"name": "Rolled back", "accountnumber": "RM-1"}},
				{Method: "PATCH", URL: "accounts(" + missing + ")", ContentID: "2", Headers: []string{"If-Match", "*"}, Body: map[string]any{"name": "x"}},
			})
			if b.Status != http.StatusBadRequest {
				t.Errorf("outer status %d, want 400", b.Status)
			}
			if len(b.Items) != 1 || len(b.Items[0].Parts) != 1 {
				t.Fatalf("statuses %v, want the single failure\n%s", b.Statuses(), b.Body)
			}
			wantPartError(t, b.Items[0].Parts[0], http.StatusNotFound, "0x80040217", "Does Not Exist")
			if n := s.count("accounts", "accountnumber eq 'RM-1'"); n != 0 {
				t.Errorf("the first create of the change set persisted")
			}
			s.must(http.StatusNotFound, "GET", "accounts("+missing+")", nil)
		})

		// (c) Independent requests: stop at the first failure unless
		// odata.continue-on-error.
		t.Run("StopsAtFirstFailure", func(t *testing.T) {
			b := s.batch(nil,
				batchOp{Method: "POST", URL: "accounts", Body: map[string]any{"name": strings.Repeat("y", 200), "accountnumber": "CE-0"}},
				batchOp{Method: "POST", URL: "accounts", Body: map[string]any{"name": "second", "accountnumber": "CE-1"}},
				batchOp{Method: "POST", URL: "accounts", Body: map[string]any{"name": "third", "accountnumber": "CE-2"}},
			)
			if b.Status != http.StatusBadRequest {
				t.Errorf("outer status %d, want 400", b.Status)
			}
			wantStatuses(t, b, 400)
			wantPartError(t, b.Parts()[0], http.StatusBadRequest, "0x80044331", "")
			if b.Header.Get("Preference-Applied") != "" {
				t.Errorf("Preference-Applied = %q without Prefer", b.Header.Get("Preference-Applied"))
			}
			if n := s.count("accounts", "startswith(accountnumber,'CE-')"); n != 0 {
				t.Errorf("%d accounts created after the failure, want 0", n)
			}
		})
		t.Run("ContinueOnError", func(t *testing.T) {
			b := s.batch([]string{"Prefer", "odata.continue-on-error"},
				batchOp{Method: "POST", URL: "accounts", Body: map[string]any{"name": strings.Repeat("y", 200), "accountnumber": "CO-0"}},
				batchOp{Method: "POST", URL: "accounts", Body: map[string]any{"name": "second", "accountnumber": "CO-1"}},
				batchOp{Method: "POST", URL: "accounts", Body: map[string]any{"name": "third", "accountnumber": "CO-2"}},
			)
			if b.Status != http.StatusOK {
				t.Errorf("outer status %d, want 200", b.Status)
			}
			if got := b.Header.Get("Preference-Applied"); got != "odata.continue-on-error" {
				t.Errorf("Preference-Applied = %q", got)
			}
			wantStatuses(t, b, 400, 204, 204)
			wantPartError(t, b.Parts()[0], http.StatusBadRequest, "0x80044331", "")
			for _, p := range b.Parts()[1:] {
				if !recordURL("accounts").MatchString(p.Header.Get("OData-EntityId")) {
					t.Errorf("OData-EntityId = %q", p.Header.Get("OData-EntityId"))
				}
			}
			if n := s.count("accounts", "startswith(accountnumber,'CO-')"); n != 2 {
				t.Errorf("%d accounts created, want 2", n)
			}
		})
		t.Run("ContinueOnErrorWithChangeSets", func(t *testing.T) {
			b := s.batch([]string{"Prefer", "odata.continue-on-error"},
				changeSet{
					{Method: "POST", URL: "accounts", ContentID: "1", Body: map[string]any{"name": "cs1", "accountnumber": "CC-1"}},
					{Method: "POST", URL: "accounts", ContentID: "2", Body: map[string]any{"accountnumber": strings.Repeat("9", 21)}},
				},
				changeSet{
					{Method: "POST", URL: "accounts", ContentID: "3", Body: map[string]any{"name": "cs2", "accountnumber": "CC-3"}},
				},
			)
			if b.Status != http.StatusOK {
				t.Errorf("outer status %d, want 200", b.Status)
			}
			wantStatuses(t, b, 400, 204)
			if n := s.count("accounts", "startswith(accountnumber,'CC-')"); n != 1 {
				t.Errorf("%d accounts, want only the second change set's", n)
			}
		})

		// (d) Referencing a Content-ID before it is declared.
		t.Run("ContentIDReferencedBeforeDeclared", func(t *testing.T) {
			b := s.batch(nil, changeSet{
				{Method: "POST", URL: "accounts", ContentID: "1", Body: map[string]any{"name": "early", "accountnumber": "CR-1", "parentaccountid@odata.bind": "$2"}},
				{Method: "POST", URL: "accounts", ContentID: "2", Body: map[string]any{"name": "late", "accountnumber": "CR-2"}},
			})
			if b.Status != http.StatusBadRequest {
				t.Errorf("outer status %d, want 400", b.Status)
			}
			wantStatuses(t, b, 400)
			wantPartError(t, b.Parts()[0], http.StatusBadRequest, "", "Content-ID Reference: '$2' does not exist in the batch context.")

			b = s.batch(nil, changeSet{
				{Method: "POST", URL: "accounts", ContentID: "1", Body: map[string]any{"name": "first", "accountnumber": "CR-3"}},
				{Method: "PATCH", URL: "$2", ContentID: "3", Body: map[string]any{"name": "x"}},
				{Method: "POST", URL: "accounts", ContentID: "2", Body: map[string]any{"name": "late", "accountnumber": "CR-4"}},
			})
			wantStatuses(t, b, 400)
			wantPartError(t, b.Parts()[0], http.StatusBadRequest, "", "Content-ID Reference: '$2' does not exist in the batch context.")
			if n := s.count("accounts", "startswith(accountnumber,'CR-')"); n != 0 {
				t.Errorf("%d accounts persisted, want 0", n)
			}
		})

		// (e) GET is not allowed in a change set.
		t.Run("GetInChangeSet", func(t *testing.T) {
			b := s.batch(nil, changeSet{
				{Method: "POST", URL: "accounts", ContentID: "1", Body: map[string]any{"name": "with get", "accountnumber": "GC-1"}},
				{Method: "GET", URL: "accounts?$top=1", ContentID: "2"},
			})
			if b.Status != http.StatusBadRequest {
				t.Errorf("outer status %d, want 400", b.Status)
			}
			wantStatuses(t, b, 400)
			wantPartError(t, b.Parts()[0], http.StatusBadRequest, "", "")
			if n := s.count("accounts", "accountnumber eq 'GC-1'"); n != 0 {
				t.Errorf("the change set with a GET persisted its create")
			}
		})

		// (f) At most 1,000 requests per batch.
		t.Run("RequestLimit", func(t *testing.T) {
			ops := make([]any, 1000)
			for i := range ops {
				ops[i] = batchOp{Method: "GET", URL: "WhoAmI()"}
			}
			b := s.batch(nil, ops...)
			if b.Status != http.StatusOK || len(b.Parts()) != 1000 {
				t.Errorf("1000 requests: status %d, %d parts, want 200 and 1000", b.Status, len(b.Parts()))
			}

			boundary := "batch_" + uuid.NewString()
			ops = append(ops, batchOp{Method: "GET", URL: "WhoAmI()"})
			r := s.postBatch("multipart/mixed; boundary="+boundary, batchBody(t, boundary, ops...))
			expectError(t, r, http.StatusBadRequest, "", "1000")

			var cs1, cs2 changeSet
			for i := range 1001 {
				op := batchOp{Method: "POST", URL: "accounts", ContentID: strconv.Itoa(i + 1), Body: map[string]any{"name": "limit", "accountnumber": fmt.Sprint("LIM-", i)}}
				if i < 600 {
					cs1 = append(cs1, op)
				} else {
					cs2 = append(cs2, op)
				}
			}
			r = s.postBatch("multipart/mixed; boundary="+boundary, batchBody(t, boundary, cs1, cs2))
			expectError(t, r, http.StatusBadRequest, "", "1000")
			if n := s.count("accounts", "startswith(accountnumber,'LIM-')"); n != 0 {
				t.Errorf("%d accounts created by a batch over the limit", n)
			}
		})

		// (g) Malformed batches are rejected with a Dataverse error body.
		t.Run("Malformed", func(t *testing.T) {
			const bd = "batch_malformed"
			get := "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET accounts HTTP/1.1\r\n\r\n\r\n"
			valid := batchBody(t, bd, batchOp{Method: "GET", URL: "accounts?$top=1"})
			cases := []struct {
				name, contentType, body string
			}{
				{"WrongContentType", "application/json", valid},
				{"NoContentType", "", valid},
				{"TextPlain", "text/plain; boundary=" + bd, valid},
				{"NoBoundary", "multipart/mixed", valid},
				{"EmptyBody", "multipart/mixed; boundary=" + bd, ""},
				{"OnlyCloseDelimiter", "multipart/mixed; boundary=" + bd, "--" + bd + "--\r\n"},
				{"OtherBoundary", "multipart/mixed; boundary=" + bd, batchBody(t, "batch_other", batchOp{Method: "GET", URL: "accounts"})},
				{"Unterminated", "multipart/mixed; boundary=" + bd, "--" + bd + "\r\n" + get},
				{"Garbage", "multipart/mixed; boundary=" + bd, "\x00\x01\xff not a batch at all {\"a\":1}"},
				{"PartWithoutContentType", "multipart/mixed; boundary=" + bd, batchBody(t, bd, rawPart("Content-Transfer-Encoding: binary\r\n\r\nGET accounts HTTP/1.1\r\n\r\n\r\n"))},
				{"PartOfUnsupportedType", "multipart/mixed; boundary=" + bd, batchBody(t, bd, rawPart("Content-Type: text/plain\r\n\r\nGET accounts HTTP/1.1\r\n\r\n\r\n"))},
				{"NoRequestLine", "multipart/mixed; boundary=" + bd, batchBody(t, bd, rawPart("Content-Type: application/http\r\n\r\n\r\n"))},
				{"UnknownMethod", "multipart/mixed; boundary=" + bd, batchBody(t, bd, batchOp{Method: "FETCH", URL: "accounts"})},
				{"BadRequestHeader", "multipart/mixed; boundary=" + bd, batchBody(t, bd, rawPart("Content-Type: application/http\r\n\r\nGET accounts HTTP/1.1\r\nNo colon here\r\n\r\n\r\n"))},
				{"EmptyChangeSet", "multipart/mixed; boundary=" + bd, batchBody(t, bd, rawPart("Content-Type: multipart/mixed; boundary=cs_empty\r\n\r\n--cs_empty--\r\n"))},
				{"ChangeSetWithoutBoundary", "multipart/mixed; boundary=" + bd, batchBody(t, bd, rawPart("Content-Type: multipart/mixed\r\n\r\n--x\r\n"+get+"--x--\r\n"))},
				{"UnterminatedChangeSet", "multipart/mixed; boundary=" + bd, batchBody(t, bd, rawPart("Content-Type: multipart/mixed; boundary=cs_open\r\n\r\n--cs_open\r\n"+get))},
				{"NestedChangeSet", "multipart/mixed; boundary=" + bd, batchBody(t, bd, rawPart("Content-Type: multipart/mixed; boundary=cs_outer\r\n\r\n--cs_outer\r\nContent-Type: multipart/mixed; boundary=cs_inner\r\n\r\n--cs_inner\r\n"+get+"--cs_inner--\r\n--cs_outer--\r\n"))},
				{"DuplicateContentID", "multipart/mixed; boundary=" + bd, batchBody(t, bd, changeSet{
					{Method: "POST", URL: "accounts", ContentID: "1", Body: map[string]any{"name": "dup", "accountnumber": "MAL-1"}},
					{Method: "POST", URL: "accounts", ContentID: "1", Body: map[string]any{"name": "dup", "accountnumber": "MAL-2"}},
				})},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					r := s.postBatch(c.contentType, c.body)
					expectError(t, r, http.StatusBadRequest, "", "")
					if r.Status == http.StatusBadRequest {
						if code, _ := r.ErrorCode(t); !strings.HasPrefix(code, "0x") {
							t.Errorf("error code %q is not a Dataverse code", code)
						}
					}
				})
			}
			if n := s.count("accounts", "startswith(accountnumber,'MAL-')"); n != 0 {
				t.Errorf("a malformed batch created %d accounts", n)
			}
			t.Run("GetOnBatch", func(t *testing.T) {
				expectError(t, s.do("GET", "$batch", nil), http.StatusMethodNotAllowed, "", "")
			})
		})

		// The documented framing requires CRLF line endings: Dataverse
		// answers 400 0x80048d19 ("Stream was not readable") otherwise.
		t.Run("LFLineEndingsRejected", func(t *testing.T) {
			const bd = "batch_lf"
			body := strings.ReplaceAll(batchBody(t, bd, batchOp{Method: "POST", URL: "accounts", Body: map[string]any{"name": "lf", "accountnumber": "LF-1"}}), "\r\n", "\n")
			r := s.postBatch("multipart/mixed; boundary="+bd, body)
			expectError(t, r, http.StatusBadRequest, "0x80048d19", "")
			if n := s.count("accounts", "accountnumber eq 'LF-1'"); n != 0 {
				t.Errorf("a batch with LF line endings created a record")
			}
		})

		// (h) Absolute, rooted and relative URLs; raw spaces in the query.
		t.Run("RequestURLForms", func(t *testing.T) {
			forms := []struct{ name, prefix string }{
				{"Absolute", s.URL},
				{"Rooted", "/api/data/v9.2/"},
				{"Relative", ""},
			}
			for i, f := range forms {
				t.Run(f.name, func(t *testing.T) {
					num := fmt.Sprintf("URL-%d", i)
					b := s.batch(nil,
						batchOp{Method: "POST", URL: f.prefix + "accounts", Body: map[string]any{"name": "url " + f.name, "accountnumber": num}},
						batchOp{Method: "GET", URL: f.prefix + "accounts(accountnumber='" + num + "')?$select=name"},
						batchOp{Method: "GET", URL: f.prefix + "accounts?$select=name,accountnumber&$filter=accountnumber eq '" + num + "'"},
					)
					if b.Status != http.StatusOK {
						t.Fatalf("outer status %d\n%s", b.Status, b.Body)
					}
					wantStatuses(t, b, 204, 200, 200)
					ps := b.Parts()
					if !recordURL("accounts").MatchString(ps[0].Header.Get("OData-EntityId")) {
						t.Errorf("OData-EntityId = %q", ps[0].Header.Get("OData-EntityId"))
					}
					if m := ps[1].JSON(t); m["name"] != "url "+f.name {
						t.Errorf("retrieve by key = %s", ps[1].Body)
					}
					if v := ps[2].Value(t); len(v) != 1 || v[0]["accountnumber"] != num {
						t.Errorf("filter with a raw space = %s", ps[2].Body)
					}
				})
			}
			t.Run("RawSpaceInOrderBy", func(t *testing.T) {
				for _, n := range []string{"b", "c", "a"} {
					s.create("accounts", map[string]any{"name": "order " + n, "accountnumber": "ORD-" + n})
				}
				b := s.batch(nil,
					batchOp{Method: "GET", URL: "accounts?$select=name&$filter=startswith(accountnumber,'ORD-')&$orderby=name asc"},
					batchOp{Method: "GET", URL: "/api/data/v9.2/accounts?$select=name&$filter=startswith(accountnumber, 'ORD-')&$orderby=name desc"},
				)
				wantStatuses(t, b, 200, 200)
				for i, want := range []string{"order a,order b,order c", "order c,order b,order a"} {
					var names []string
					for _, r := range b.Parts()[i].Value(t) {
						names = append(names, str(r, "name"))
					}
					if got := strings.Join(names, ","); got != want {
						t.Errorf("part %d: names %s, want %s", i, got, want)
					}
				}
			})
		})

		// Content-Type spellings clients send, an inner Content-Length and
		// the extra trailing line endings some clients add.
		t.Run("FramingVariants", func(t *testing.T) {
			body := `{"name":"variant","accountnumber":"FV-%d"}`
			for i, ct := range []string{
				"multipart/mixed;boundary=%s",
				"multipart/mixed; boundary=\"%s\"",
				"Multipart/Mixed; charset=utf-8; boundary=%s",
			} {
				bd := "batch_" + uuid.NewString()
				b := fmt.Sprintf(body, i)
				raw := batchBody(t, bd, batchOp{Method: "POST", URL: "accounts",
					Headers: []string{"Content-Type", "application/json", "Content-Length", strconv.Itoa(len(b))}, Body: b + "\r\n\r\n"})
				r := s.postBatch(fmt.Sprintf(ct, bd), raw)
				if res := parseBatchResponse(t, r); r.Status != http.StatusOK || fmt.Sprint(res.Statuses()) != "[204]" {
					t.Errorf("Content-Type %q: status %d, parts %v\n%s", ct, r.Status, res.Statuses(), r.Body)
				}
			}
			if n := s.count("accounts", "startswith(accountnumber,'FV-')"); n != 3 {
				t.Errorf("%d accounts created, want 3", n)
			}
		})

		// (i) Prefer: return=representation inside a batch.
		t.Run("ReturnRepresentation", func(t *testing.T) {
			b := s.batch(nil,
				batchOp{Method: "POST", URL: "accounts?$select=name,accountnumber", Headers: []string{"Prefer", "return=representation"},
					Body: map[string]any{"name": "Represented", "accountnumber": "REP-1"}},
				changeSet{{Method: "POST", URL: "contacts?$select=lastname", ContentID: "1", Headers: []string{"Prefer", "return=representation"},
					Body: map[string]any{"lastname": "Represented"}}},
			)
			if b.Status != http.StatusOK {
				t.Fatalf("outer status %d\n%s", b.Status, b.Body)
			}
			wantStatuses(t, b, 201, 201)
			for i, p := range b.Parts() {
				if ct := p.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("part %d Content-Type = %q", i, ct)
				}
				if got := p.Header.Get("Preference-Applied"); got != "return=representation" {
					t.Errorf("part %d Preference-Applied = %q", i, got)
				}
			}
			a := b.Parts()[0].JSON(t)
			if a["name"] != "Represented" || a["accountnumber"] != "REP-1" {
				t.Errorf("body = %s", b.Parts()[0].Body)
			}
			if _, err := uuid.Parse(str(a, "accountid")); err != nil {
				t.Errorf("accountid = %v", a["accountid"])
			}
			if !strings.HasPrefix(str(a, "@odata.context"), s.URL+"$metadata#accounts") {
				t.Errorf("@odata.context = %v", a["@odata.context"])
			}
			c := b.Parts()[1].JSON(t)
			if c["lastname"] != "Represented" || b.Parts()[1].ContentID != "1" {
				t.Errorf("change set part: Content-ID %q, body %s", b.Parts()[1].ContentID, b.Parts()[1].Body)
			}
			s.must(http.StatusOK, "GET", "accounts("+str(a, "accountid")+")", nil)
			s.must(http.StatusOK, "GET", "contacts("+str(c, "contactid")+")", nil)
		})

		// (j) A $batch cannot be nested in a batch.
		t.Run("NestedBatch", func(t *testing.T) {
			inner := batchBody(t, "batch_inner", batchOp{Method: "POST", URL: "accounts", Body: map[string]any{"name": "nested", "accountnumber": "NEST-1"}})
			for _, u := range []string{"/api/data/v9.2/$batch", s.URL + "$batch", "$batch"} {
				b := s.batch(nil, batchOp{Method: "POST", URL: u, Headers: []string{"Content-Type", "multipart/mixed; boundary=batch_inner"}, Body: inner})
				if b.Status != http.StatusBadRequest {
					t.Errorf("%s: outer status %d, want 400", u, b.Status)
				}
				wantStatuses(t, b, 400)
				wantPartError(t, b.Parts()[0], http.StatusBadRequest, "", "")
			}
			if n := s.count("accounts", "accountnumber eq 'NEST-1'"); n != 0 {
				t.Errorf("the nested batch ran")
			}
		})

		// (k) A large change set commits atomically and quickly.
		t.Run("LargeChangeSet", func(t *testing.T) {
			cs := make(changeSet, 200)
			for i := range cs {
				cs[i] = batchOp{Method: "POST", URL: "accounts", ContentID: strconv.Itoa(i + 1), Body: map[string]any{"name": fmt.Sprint("bulk ", i), "accountnumber": fmt.Sprint("LCS-", i)}}
			}
			start := time.Now()
			b := s.batch(nil, cs)
			elapsed := time.Since(start)
			if b.Status != http.StatusOK {
				t.Fatalf("outer status %d\n%.2000s", b.Status, b.Body)
			}
			if len(b.Items) != 1 || len(b.Items[0].Parts) != 200 {
				t.Fatalf("%d items, want one change set with 200 parts", len(b.Items))
			}
			for i, p := range b.Items[0].Parts {
				if p.Status != http.StatusNoContent || p.ContentID != strconv.Itoa(i+1) {
					t.Errorf("part %d: status %d, Content-ID %q", i, p.Status, p.ContentID)
				}
			}
			if n := s.count("accounts", "startswith(accountnumber,'LCS-')"); n != 200 {
				t.Errorf("%d accounts created, want 200", n)
			}
			if elapsed > 10*time.Second {
				t.Errorf("a change set of 200 creates took %v", elapsed)
			}

			// The same with the last create failing: nothing persists.
			for i := range cs {
				cs[i].Body = map[string]any{"name": fmt.Sprint("bulk ", i), "accountnumber": fmt.Sprint("LCF-", i)}
			}
			cs[199].Body = map[string]any{"name": strings.Repeat("z", 161), "accountnumber": "LCF-199"}
			b = s.batch(nil, cs)
			if b.Status != http.StatusBadRequest {
				t.Errorf("outer status %d, want 400", b.Status)
			}
			wantStatuses(t, b, 400)
			if b.Parts()[0].ContentID != "" && b.Parts()[0].ContentID != "200" {
				t.Errorf("failed part Content-ID = %q, want 200", b.Parts()[0].ContentID)
			}
			if n := s.count("accounts", "startswith(accountnumber,'LCF-')"); n != 0 {
				t.Errorf("%d accounts persisted from a failed change set", n)
			}
		})

	})
}

// TestBatchBulkInChangeSet checks that a bulk message inside a change set
// runs in the change set's transaction: it rolls back with it, and does
// not wait for a second write transaction while the change set holds one.
// It uses its own server, left open if the request hangs, so that a
// deadlocked handler cannot block the test's cleanup.
func TestBatchBulkInChangeSet(t *testing.T) {
	for _, st := range stores {
		t.Run(st.Name, func(t *testing.T) {
			schema := metadata.Builtin()
			db := st.Open(t, schema)
			in := instance.New(db, schema)
			srv := webapi.NewServer(in, in.Schema, db.Meta())
			srv.Logger = nil
			ts := httptest.NewServer(srv.Handler())
			hung := false
			t.Cleanup(func() {
				if hung {
					return // the handler is stuck: leak the server rather than block
				}
				ts.Close()
				if err := db.Close(); err != nil {
					t.Errorf("close store: %v", err)
				}
			})
			s := &testServer{tb: t, URL: ts.URL + "/api/data/v9.2/", Server: srv, Instance: in, Store: db, client: ts.Client()}

			bd := "batch_" + uuid.NewString()
			body := batchBody(t, bd, changeSet{
				{Method: "POST", URL: "accounts/Microsoft.Dynamics.CRM.CreateMultiple", ContentID: "1", Body: map[string]any{"Targets": []any{
					map[string]any{"@odata.type": "Microsoft.Dynamics.CRM.account", "name": "bulk in batch", "accountnumber": "BIC-1"},
				}}},
				{Method: "POST", URL: "accounts", ContentID: "2", Body: map[string]any{"name": strings.Repeat("q", 161), "accountnumber": "BIC-2"}},
			})
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			r, err := s.tryPostBatch(ctx, "multipart/mixed; boundary="+bd, body)
			if err != nil {
				hung = true
				t.Fatalf("change set {CreateMultiple; failing POST} got no response in 15s (%v): the bulk message waits for a write transaction while its change set holds one", err)
			}
			b := parseBatchResponse(t, r)
			if b.Status != http.StatusBadRequest {
				t.Errorf("outer status %d, want 400", b.Status)
			}
			wantStatuses(t, b, 400)
			if n := s.count("accounts", "startswith(accountnumber,'BIC-')"); n != 0 {
				t.Errorf("CreateMultiple in a failed change set persisted %d records, want 0 (rolled back with the change set)", n)
			}
		})
	}
}
