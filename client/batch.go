package client

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/codec"
	"github.com/google/uuid"
)

// MaxBatchRequests is the most requests Dataverse takes in one $batch,
// change-set requests included.
const MaxBatchRequests = 1000

// ErrRolledBack is the cause of the errors of the requests of a change set
// that failed: Dataverse rolled the whole change set back, so none of its
// requests applied. The request that failed has its own *Error; the others
// wrap ErrRolledBack and that *Error.
var ErrRolledBack = errors.New("client: the change set failed and was rolled back")

// ErrNotRun is the cause of the errors of the requests a $batch did not
// run: without ContinueOnError, Dataverse stops at the first failure.
var ErrNotRun = errors.New("client: not run: the batch stopped at an earlier failure")

// Batch builds a $batch request: top-level requests, each run on its own,
// and change sets, each run in one transaction. Requests run in the order
// they were added, and Send returns their results in that order. A Batch is
// not safe for concurrent use; send it once.
type Batch struct {
	// ContinueOnError sends Prefer: odata.continue-on-error, so a failed
	// request (or change set) does not stop the requests after it.
	ContinueOnError bool

	c      *Client
	items  []*batchEntry // a top-level request, or a change set
	nextID int           // the last Content-ID given out
}

// batchEntry is a top-level request (cs == nil) or a change set.
type batchEntry struct {
	req *Request
	cs  *ChangeSet
}

// ChangeSet is a group of writes of a Batch that Dataverse runs in one
// transaction: all apply or none does. A request may name a record created
// earlier in the same change set by its Content-ID: "$1" as its path, or a
// ContentRef as a lookup value. GETs are not allowed in a change set.
type ChangeSet struct {
	b    *Batch
	reqs []*Request
	ids  []string // Content-ID of each request
}

// NewBatch returns an empty $batch for a client.
func NewBatch(c *Client) *Batch { return &Batch{c: c} }

// Batch returns an empty $batch of the client's requests.
func (r *Records) Batch() *Batch { return NewBatch(r.c) }

// Add adds a top-level request (its Replay is ignored: the batch's counts).
func (b *Batch) Add(req *Request) { b.items = append(b.items, &batchEntry{req: req}) }

// Get adds a top-level GET of a path relative to the Web API root, such as
// "accounts?$select=name" or "accounts(<id>)".
func (b *Batch) Get(path string, header http.Header) {
	b.Add(&Request{Method: http.MethodGet, Path: path, Header: header})
}

// Retrieve adds a top-level GET of the record a reference names, with the
// columns asked for (nil for all). Decode its result with
// BatchResponse.Record.
func (b *Batch) Retrieve(target eventual.EntityReference, columns []*eventual.Column) error {
	path, err := keyPath(target)
	if err != nil {
		return err
	}
	if columns != nil {
		path += "?$select=" + Escape(selectList(columns))
	}
	b.Get(path, readHeader())
	return nil
}

// ChangeSet adds a change set to the batch, after the requests added so far.
func (b *Batch) ChangeSet() *ChangeSet {
	cs := &ChangeSet{b: b}
	b.items = append(b.items, &batchEntry{cs: cs})
	return cs
}

// Add adds a request to the change set and returns its Content-ID, which
// later requests of the change set may reference ("$1"). Its path may be
// "$<Content-ID>" of an earlier request, optionally followed by
// "/<property>".
func (cs *ChangeSet) Add(req *Request) (contentID string) {
	cs.b.nextID++
	id := strconv.Itoa(cs.b.nextID)
	cs.reqs = append(cs.reqs, req)
	cs.ids = append(cs.ids, id)
	return id
}

// Create adds the creation of a record and returns its Content-ID: bind a
// lookup of a later request to it with ContentRef{Table, contentID}. With
// e.ID set, the body carries the primary key.
func (cs *ChangeSet) Create(e *eventual.Entity) (contentID string, err error) {
	body, err := entityBody(e, e.ID != uuid.Nil)
	if err != nil {
		return "", err
	}
	return cs.Add(&Request{Method: http.MethodPost, Path: e.Table.EntitySetName, Body: body}), nil
}

// Update adds an update of an existing record, as Records.Update sends it
// (If-Match: * unless cond names a version), and returns its Content-ID.
func (cs *ChangeSet) Update(target eventual.EntityReference, values eventual.Values, cond eventual.Condition) (string, error) {
	if cond.IfMatch == "" {
		cond.IfMatch = "*"
	}
	return cs.patch(target, &eventual.Entity{Table: target.Table, Values: values}, cond)
}

// Upsert adds an upsert of the record the target names (updated if it
// exists, created with the target's key otherwise) and returns its
// Content-ID.
func (cs *ChangeSet) Upsert(target eventual.EntityReference, e *eventual.Entity, cond eventual.Condition) (string, error) {
	return cs.patch(target, e, cond)
}

func (cs *ChangeSet) patch(target eventual.EntityReference, e *eventual.Entity, cond eventual.Condition) (string, error) {
	path, err := keyPath(target)
	if err != nil {
		return "", err
	}
	body, err := entityBody(e, false)
	if err != nil {
		return "", err
	}
	return cs.Add(&Request{Method: http.MethodPatch, Path: path, Header: conditionHeader(cond), Body: body}), nil
}

// Delete adds the deletion of the record the target names and returns its
// Content-ID.
func (cs *ChangeSet) Delete(target eventual.EntityReference, cond eventual.Condition) (string, error) {
	path, err := keyPath(target)
	if err != nil {
		return "", err
	}
	return cs.Add(&Request{Method: http.MethodDelete, Path: path, Header: conditionHeader(cond)}), nil
}

// Len returns the number of requests in the change set.
func (cs *ChangeSet) Len() int { return len(cs.reqs) }

// Len returns the number of requests in the batch, change sets' included.
func (b *Batch) Len() int {
	n := 0
	for _, it := range b.items {
		if it.cs != nil {
			n += len(it.cs.reqs)
		} else {
			n++
		}
	}
	return n
}

// BatchResult is the answer to a $batch.
type BatchResult struct {
	// StatusCode is the status of the $batch itself: 200, or 400 when
	// Dataverse stopped at a failure.
	StatusCode int
	// Responses holds one response per request, in the order the requests
	// were added, change sets' requests included.
	Responses []*BatchResponse
}

// BatchResponse is the result of one request of a $batch.
type BatchResponse struct {
	// ChangeSet is the 1-based number of the request's change set among
	// the batch's change sets; 0 for a top-level request.
	ChangeSet int
	// ContentID is the request's Content-ID; empty for a top-level request.
	ContentID string
	// Method and Path are the request's.
	Method, Path string
	// StatusCode, Header and Body are the request's response; StatusCode
	// is 0 when Dataverse sent none for it (a rolled-back change set
	// answers only for its failing request; requests after a failure do
	// not run).
	StatusCode int
	Header     http.Header
	Body       []byte
	// ID is the record the response names in OData-EntityId (the record a
	// POST created, or a PATCH or DELETE affected); uuid.Nil when none.
	ID uuid.UUID
	// Err is nil for a successful request; otherwise an *Error decoded
	// from the request's Dataverse error body, an error wrapping
	// ErrRolledBack (another request of its change set failed) or
	// ErrNotRun.
	Err error
	// RolledBack reports that the request's change set failed, so nothing
	// in it applied, the failing request included.
	RolledBack bool
}

// Record decodes the response's body as a record of the table.
func (r *BatchResponse) Record(t *eventual.Table) (*eventual.Record, error) {
	if r.Err != nil {
		return nil, r.Err
	}
	return codec.DecodeRecord(t, r.Body)
}

// Page decodes the response's body as a collection of records of the
// table.
func (r *BatchResponse) Page(t *eventual.Table) (*eventual.Page, error) {
	if r.Err != nil {
		return nil, r.Err
	}
	page, _, err := decodePage(t, r.Body)
	return page, err
}

// Err returns the first failure among the responses, or nil.
func (res *BatchResult) Err() error {
	for _, r := range res.Responses {
		if r.Err != nil {
			return r.Err
		}
	}
	return nil
}

// Send sends the batch as one POST $batch and returns the result of each
// request. When Dataverse answered with per-request results, the result is
// returned even when some requests failed; the error is then the first
// failure (BatchResult.Err). When the batch as a whole failed (refused,
// throttled, unreachable), the result is nil.
//
// A batch of GETs only may be sent again after an attempt that may have
// been applied; any other is not (Replay: ReplayNever).
func (b *Batch) Send(ctx context.Context) (*BatchResult, error) {
	n := b.Len()
	if n == 0 {
		return nil, eventual.Errorf(eventual.KindInvalid, eventual.CodeBadRequest, "client: the batch contains no requests")
	}
	if n > MaxBatchRequests {
		return nil, eventual.Errorf(eventual.KindInvalid, eventual.CodeBadRequest, "client: the batch has %d requests; Dataverse takes at most %d", n, MaxBatchRequests)
	}
	boundary := "batch_" + uuid.NewString()
	body, err := b.encode(boundary)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Content-Type", "multipart/mixed; boundary="+boundary)
	if b.ContinueOnError {
		h.Set("Prefer", "odata.continue-on-error")
	}
	status, header, rbody, err := b.do(ctx, h, body)
	if err != nil {
		return nil, err
	}
	res, err := b.decode(status, header, rbody)
	if err != nil {
		return nil, err
	}
	return res, res.Err()
}

// do sends the batch; a 4xx answer with a multipart body is the batch's
// answer, not a failure of the call.
func (b *Batch) do(ctx context.Context, h http.Header, body []byte) (int, http.Header, []byte, error) {
	resp, err := b.c.Do(ctx, &Request{Method: http.MethodPost, Path: "$batch", Header: h, Body: body, Replay: b.replay()})
	if err == nil {
		return resp.StatusCode, resp.Header, resp.Body, nil
	}
	var ce *Error
	if errors.As(err, &ce) && ce.StatusCode >= 400 && ce.StatusCode < 500 && batchBoundary(ce.Header, ce.Body) != "" {
		return ce.StatusCode, ce.Header, ce.Body, nil
	}
	return 0, nil, nil, err
}

// replay classifies the batch: only GETs may be sent again.
func (b *Batch) replay() Replay {
	for _, it := range b.items {
		if it.cs != nil || it.req.Method != http.MethodGet {
			return ReplayNever
		}
	}
	return ReplaySafe
}

// encode writes the multipart/mixed body, with CRLF line endings as
// Dataverse requires.
func (b *Batch) encode(boundary string) ([]byte, error) {
	var buf bytes.Buffer
	for _, it := range b.items {
		buf.WriteString("--" + boundary + "\r\n")
		if it.cs == nil {
			if err := b.encodeRequest(&buf, it.req, ""); err != nil {
				return nil, err
			}
			continue
		}
		if len(it.cs.reqs) == 0 {
			return nil, eventual.Errorf(eventual.KindInvalid, eventual.CodeBadRequest, "client: a change set of the batch is empty")
		}
		csb := "changeset_" + uuid.NewString()
		buf.WriteString("Content-Type: multipart/mixed; boundary=" + csb + "\r\n\r\n")
		for i, req := range it.cs.reqs {
			if req.Method == http.MethodGet {
				return nil, eventual.Errorf(eventual.KindInvalid, eventual.CodeBadRequest, "client: GET %s: GET requests are not allowed in a change set", req.Path)
			}
			buf.WriteString("--" + csb + "\r\n")
			if err := b.encodeRequest(&buf, req, it.cs.ids[i]); err != nil {
				return nil, err
			}
		}
		buf.WriteString("--" + csb + "--\r\n")
	}
	buf.WriteString("--" + boundary + "--\r\n")
	return buf.Bytes(), nil
}

// encodeRequest writes one application/http part.
func (b *Batch) encodeRequest(buf *bytes.Buffer, req *Request, contentID string) error {
	target, err := b.target(req.Path)
	if err != nil {
		return err
	}
	buf.WriteString("Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n")
	if contentID != "" {
		buf.WriteString("Content-ID: " + contentID + "\r\n")
	}
	buf.WriteString("\r\n" + req.Method + " " + target + " HTTP/1.1\r\n")
	h := http.Header{}
	if req.Body != nil {
		h.Set("Content-Type", "application/json; type=entry")
		h.Set("Content-Length", strconv.Itoa(len(req.Body)))
	}
	for k, vs := range req.Header {
		h[http.CanonicalHeaderKey(k)] = vs
	}
	for k, vs := range h {
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n") {
				return fmt.Errorf("client: header %s of %s %s holds a line break", k, req.Method, req.Path)
			}
			buf.WriteString(k + ": " + v + "\r\n")
		}
	}
	buf.WriteString("\r\n")
	buf.Write(req.Body)
	buf.WriteString("\r\n")
	return nil
}

// target is a request's URL inside the batch: a Content-ID reference as it
// is, anything else as an absolute path on the host
// ("/api/data/v9.2/accounts"), the form Dataverse documents.
func (b *Batch) target(path string) (string, error) {
	if strings.HasPrefix(path, "$") {
		return path, nil
	}
	abs, err := b.c.resolve(path)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(abs)
	if err != nil {
		return "", fmt.Errorf("client: request URL %q: %w", path, err)
	}
	t := u.RequestURI()
	if strings.ContainsAny(t, " \r\n") {
		return "", fmt.Errorf("client: request URL %q holds a space or line break", path)
	}
	return t, nil
}

// batchBoundary is the boundary of a multipart/mixed batch response: from
// its Content-Type, or, when that names none (Microsoft's examples of a
// failed batch show none), from a body that starts with a boundary line.
func batchBoundary(h http.Header, body []byte) string {
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err == nil && mt == "multipart/mixed" && params["boundary"] != "" {
		return params["boundary"]
	}
	if err == nil && mt != "" && mt != "text/plain" && mt != "application/octet-stream" {
		return "" // a JSON error, say
	}
	line, _, ok := bytes.Cut(body, []byte("\r\n"))
	if !ok || !bytes.HasPrefix(line, []byte("--")) || len(line) < 3 || len(line) > 72 {
		return ""
	}
	return string(bytes.TrimRight(line[2:], " \t"))
}

// partResponse is one application/http part of a batch response.
type partResponse struct {
	contentID string
	status    int
	header    http.Header
	body      []byte
}

// batchPart is a top-level part of a batch response: one response, or
// those of a change set.
type batchPart struct {
	resps []*partResponse
}

// decode reads the multipart answer and matches it to the requests.
func (b *Batch) decode(status int, header http.Header, body []byte) (*BatchResult, error) {
	boundary := batchBoundary(header, body)
	if boundary == "" {
		return nil, fmt.Errorf("client: $batch answered %d with Content-Type %q, not multipart/mixed", status, header.Get("Content-Type"))
	}
	parts, err := readBatchParts(body, boundary)
	if err != nil {
		return nil, err
	}
	res := &BatchResult{StatusCode: status}
	csNum := 0
	for _, it := range b.items {
		var p *batchPart
		if len(parts) > 0 {
			p, parts = parts[0], parts[1:]
		}
		if it.cs == nil {
			res.Responses = append(res.Responses, b.single(it.req, p))
			continue
		}
		csNum++
		res.Responses = append(res.Responses, b.changeSet(it.cs, csNum, p)...)
	}
	return res, nil
}

// single is the result of a top-level request from its part (nil: not run).
func (b *Batch) single(req *Request, p *batchPart) *BatchResponse {
	r := &BatchResponse{Method: req.Method, Path: req.Path}
	if p == nil || len(p.resps) == 0 {
		r.Err = fmt.Errorf("client: %s %s: %w", req.Method, req.Path, ErrNotRun)
		return r
	}
	b.fill(r, p.resps[0])
	return r
}

// changeSet is the results of a change set's requests. A change set
// succeeded when every request has a successful response; otherwise
// Dataverse rolled it back and answered for the failing request alone.
func (b *Batch) changeSet(cs *ChangeSet, num int, p *batchPart) []*BatchResponse {
	out := make([]*BatchResponse, len(cs.reqs))
	for i, req := range cs.reqs {
		out[i] = &BatchResponse{ChangeSet: num, ContentID: cs.ids[i], Method: req.Method, Path: req.Path}
	}
	if p == nil {
		for _, r := range out {
			r.Err = fmt.Errorf("client: %s %s: %w", r.Method, r.Path, ErrNotRun)
		}
		return out
	}
	failed := len(p.resps) != len(cs.reqs)
	for _, pr := range p.resps {
		if pr.status >= 400 {
			failed = true
		}
	}
	if !failed {
		for i, pr := range p.resps {
			b.fill(out[i], pr)
		}
		return out
	}
	var failure error
	for _, pr := range p.resps {
		if pr.status < 400 {
			continue
		}
		for _, r := range out {
			if r.ContentID == pr.contentID && r.StatusCode == 0 {
				b.fill(r, pr)
				failure = r.Err
				break
			}
		}
		if failure == nil { // the failure names no request of ours
			failure = b.partError(http.MethodPost, "$batch", pr)
		}
	}
	if failure == nil {
		failure = errors.New("client: the change set answered without a failure for each request")
	}
	for _, r := range out {
		r.RolledBack = true
		if r.Err == nil {
			r.StatusCode, r.Header, r.Body, r.ID = 0, nil, nil, uuid.Nil
			r.Err = fmt.Errorf("client: %s %s: %w: %w", r.Method, r.Path, ErrRolledBack, failure)
		}
	}
	return out
}

// fill copies a part's response into a result, with its record id and,
// for a failure, its *Error.
func (b *Batch) fill(r *BatchResponse, pr *partResponse) {
	r.StatusCode, r.Header, r.Body = pr.status, pr.header, pr.body
	if id, err := entityID(&Response{Header: pr.header}); err == nil {
		r.ID = id
	}
	if pr.status >= 400 {
		r.Err = b.partError(r.Method, r.Path, pr)
	}
}

// partError is the *Error of a failed part, decoded from its Dataverse
// error body.
func (b *Batch) partError(method, path string, pr *partResponse) *Error {
	code, msg := decodeErrorBody(pr.body)
	u, _ := b.c.resolve(path)
	e := &Error{Method: method, URL: u, StatusCode: pr.status, Code: code, Message: msg, Header: pr.header, Body: pr.body}
	e.Retryable, _ = b.c.classify(pr.status, code)
	return e.finish()
}

// readBatchParts reads the top-level parts of a batch response.
func readBatchParts(body []byte, boundary string) ([]*batchPart, error) {
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	var parts []*batchPart
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			return parts, nil
		}
		if err != nil {
			return nil, fmt.Errorf("client: $batch response: %w", err)
		}
		mt, params, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if err != nil {
			return nil, fmt.Errorf("client: $batch response part: Content-Type %q: %w", p.Header.Get("Content-Type"), err)
		}
		if mt != "multipart/mixed" {
			pr, err := readPartResponse(p)
			if err != nil {
				return nil, err
			}
			parts = append(parts, &batchPart{resps: []*partResponse{pr}})
			continue
		}
		cs := multipart.NewReader(p, params["boundary"])
		bp := &batchPart{}
		for {
			q, err := cs.NextRawPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("client: $batch change set response: %w", err)
			}
			pr, err := readPartResponse(q)
			if err != nil {
				return nil, err
			}
			bp.resps = append(bp.resps, pr)
		}
		parts = append(parts, bp)
	}
}

// readPartResponse reads an application/http part: a status line, headers
// and the body.
func readPartResponse(p *multipart.Part) (*partResponse, error) {
	resp, err := http.ReadResponse(bufio.NewReader(p), nil)
	if err != nil {
		return nil, fmt.Errorf("client: $batch response part: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("client: $batch response part: %w", err)
	}
	return &partResponse{contentID: p.Header.Get("Content-ID"), status: resp.StatusCode, header: resp.Header, body: body}, nil
}
