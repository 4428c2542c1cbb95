package webapi

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/codec"
	"github.com/google/uuid"
)

// This file serves $batch (multipart/mixed, OData 4.0): independent
// requests and change sets. A change set runs in one transaction: if one
// of its requests fails, all of them roll back and the change set answers
// with that failure alone. Content-ID references ($1) stand for the URL of
// a record created earlier in the same change set, in request URLs and in
// @odata.bind values.

// Batch limits, as Dataverse documents them.
const (
	// MaxBatchRequests bounds the requests of one batch.
	MaxBatchRequests = 1000
	// MaxBatchURLLength bounds the URL of a request inside a batch.
	MaxBatchURLLength = 64 * 1024
)

// batchItem is one part of a batch: a request, or a change set of them.
type batchItem struct {
	changeSet bool
	requests  []*batchRequest
}

// batchRequest is one request inside a batch.
type batchRequest struct {
	contentID string
	method    string
	target    string
	header    http.Header
	body      []byte
}

// batchResponse is the recorded response of one request.
type batchResponse struct {
	contentID string
	status    int
	header    http.Header
	body      bytes.Buffer
}

func (r *batchResponse) Header() http.Header { return r.header }

func (r *batchResponse) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

func (r *batchResponse) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func newBatchResponse(contentID string) *batchResponse {
	return &batchResponse{contentID: contentID, header: http.Header{}}
}

func errBatch(format string, args ...any) error {
	return errPayload("$batch", "System.ArgumentException: "+fmt.Sprintf(format, args...))
}

// batch serves POST $batch.
func (q *request) batch() error {
	if q.r.Method != http.MethodPost {
		return errMethod(q.r.Method)
	}
	if q.inBatch {
		return errBadRequest("A $batch request cannot be nested in another batch.")
	}
	mt, params, err := mime.ParseMediaType(q.r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" || params["boundary"] == "" {
		return errBatch("The Content-Type of a $batch request must be multipart/mixed with a boundary.")
	}
	body, err := q.readBody()
	if err != nil {
		return err
	}
	if err := checkCRLF(body, params["boundary"]); err != nil {
		return err
	}
	items, err := parseBatch(body, params["boundary"])
	if err != nil {
		return err
	}
	n := 0
	for _, it := range items {
		n += len(it.requests)
	}
	if n > MaxBatchRequests {
		return errBadRequest("The number of requests in a batch (%d) exceeds the limit of %d.", n, MaxBatchRequests)
	}

	var out [][]*batchResponse // per item: one response, or a change set's
	failed := false
	for _, it := range items {
		var resps []*batchResponse
		if it.changeSet {
			resps = q.runChangeSet(it.requests)
		} else {
			r := it.requests[0]
			resp := newBatchResponse(r.contentID)
			q.runBatchRequest(resp, r, q.s.Records, map[string]string{})
			resps = []*batchResponse{resp}
		}
		out = append(out, resps)
		for _, r := range resps {
			if r.status >= 400 {
				failed = true
			}
		}
		if failed && !q.prefs.continueOnError {
			break
		}
	}
	status := http.StatusOK
	if failed && !q.prefs.continueOnError {
		status = http.StatusBadRequest
	}
	if q.prefs.continueOnError {
		q.applied("odata.continue-on-error")
	}
	return q.writeBatch(status, items, out)
}

// errChangeSetFailed aborts a change set's transaction.
var errChangeSetFailed = errors.New("change set failed")

// runChangeSet runs a change set in one transaction.
func (q *request) runChangeSet(reqs []*batchRequest) []*batchResponse {
	var resps []*batchResponse
	var failure *batchResponse
	err := q.atomic(func(s eventual.RecordService) error {
		// The store may run this more than once; start afresh each time.
		resps, failure = nil, nil
		ids := map[string]string{}
		for _, r := range reqs {
			resp := newBatchResponse(r.contentID)
			if r.method == http.MethodGet {
				q.s.writeError(resp, q.r, errBadRequest("GET requests are not allowed in a change set."))
			} else {
				q.runBatchRequest(resp, r, s, ids)
			}
			if resp.status >= 400 {
				failure = resp
				return errChangeSetFailed
			}
			if r.contentID != "" {
				if loc := resp.header.Get(codec.HeaderEntityID); loc != "" {
					ids[r.contentID] = loc
				}
			}
			resps = append(resps, resp)
		}
		return nil
	})
	if failure != nil {
		return []*batchResponse{failure}
	}
	if err != nil {
		// The commit failed: the change set failed as a whole.
		resp := newBatchResponse("")
		if len(reqs) > 0 {
			resp.contentID = reqs[len(reqs)-1].contentID
		}
		q.s.writeError(resp, q.r, err)
		return []*batchResponse{resp}
	}
	return resps
}

// runBatchRequest serves one request of a batch into resp. ids maps the
// Content-IDs of the change set to record URLs.
func (q *request) runBatchRequest(resp *batchResponse, br *batchRequest, ops eventual.RecordService, ids map[string]string) {
	target := br.target
	if strings.HasPrefix(target, "$") {
		ref, rest, _ := strings.Cut(target[1:], "/")
		u, ok := ids[ref]
		if !ok {
			q.s.writeError(resp, q.r, errBadRequest("Content-ID Reference: '$%s' does not exist in the batch context.", ref))
			return
		}
		target = u
		if rest != "" {
			target += "/" + rest
		}
	}
	// Resolve the target against the service root: absolute, rooted or
	// relative. Raw spaces (some clients leave them in $orderby) are
	// escaped.
	target = strings.ReplaceAll(target, " ", "%20")
	base, _ := url.Parse(q.base)
	u, err := base.Parse(target)
	if err != nil || len(target) > MaxBatchURLLength {
		q.s.writeError(resp, q.r, errBadRequest("The request URL '%s' in the batch is not valid.", br.target))
		return
	}
	r, err := http.NewRequestWithContext(q.ctx, br.method, u.String(), bytes.NewReader(br.body))
	if err != nil {
		q.s.writeError(resp, q.r, errBadRequest("The request '%s %s' in the batch is not valid.", br.method, br.target))
		return
	}
	r.Host = q.r.Host
	r.Header = br.header
	r.RequestURI = u.RequestURI()
	r.TLS = q.r.TLS
	if fp := q.r.Header.Get("X-Forwarded-Proto"); fp != "" && r.Header.Get("X-Forwarded-Proto") == "" {
		r.Header.Set("X-Forwarded-Proto", fp)
	}
	q.s.serveRequest(resp, r, ops, ids)
}

// checkCRLF rejects batches whose boundary lines do not end in CRLF, as
// Dataverse does ("Stream was not readable"); Go's multipart reader would
// accept bare LF.
func checkCRLF(body []byte, boundary string) error {
	delim := []byte("--" + boundary)
	for i := 0; ; {
		j := bytes.Index(body[i:], delim)
		if j < 0 {
			return nil
		}
		at := i + j
		end := at + len(delim)
		if at > 0 && (at < 2 || body[at-1] != '\n' || body[at-2] != '\r') {
			return errBatch("Stream was not readable. The lines of a $batch body must end with CRLF.")
		}
		rest := body[end:]
		if !bytes.HasPrefix(rest, []byte("\r\n")) && !bytes.HasPrefix(rest, []byte("--")) {
			// A boundary line may end the body, or carry trailing spaces.
			if t := bytes.TrimLeft(rest, " \t"); len(t) > 0 && !bytes.HasPrefix(t, []byte("\r\n")) {
				return errBatch("Stream was not readable. The lines of a $batch body must end with CRLF.")
			}
		}
		i = end
	}
}

// parseBatch reads the parts of a batch body.
func parseBatch(body []byte, boundary string) ([]batchItem, error) {
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	var items []batchItem
	total := 0
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, errBatch("The batch body is not valid multipart/mixed content (%v). Lines must end with CRLF.", err)
		}
		mt, params, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if err != nil {
			return nil, errBatch("A batch part has no valid Content-Type.")
		}
		switch mt {
		case "application/http":
			r, err := parseBatchRequest(part)
			if err != nil {
				return nil, err
			}
			items = append(items, batchItem{requests: []*batchRequest{r}})
			total++
		case "multipart/mixed":
			if params["boundary"] == "" {
				return nil, errBatch("A change set has no boundary.")
			}
			data, err := io.ReadAll(part)
			if err != nil {
				return nil, errBatch("A change set could not be read: %v.", err)
			}
			cs := multipart.NewReader(bytes.NewReader(data), params["boundary"])
			var reqs []*batchRequest
			for {
				p, err := cs.NextRawPart()
				if err == io.EOF {
					break
				}
				if err != nil {
					return nil, errBatch("A change set is not valid multipart/mixed content (%v).", err)
				}
				if ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); ct != "application/http" {
					return nil, errBatch("A change set may only contain application/http parts, not '%s'.", p.Header.Get("Content-Type"))
				}
				r, err := parseBatchRequest(p)
				if err != nil {
					return nil, err
				}
				reqs = append(reqs, r)
			}
			if len(reqs) == 0 {
				return nil, errBatch("A change set is empty.")
			}
			seen := map[string]bool{}
			for _, r := range reqs {
				if r.contentID != "" && seen[r.contentID] {
					return nil, errBatch("The Content-ID '%s' is used twice in a change set.", r.contentID)
				}
				seen[r.contentID] = true
			}
			items = append(items, batchItem{changeSet: true, requests: reqs})
			total += len(reqs)
		default:
			return nil, errBatch("A batch part has the unsupported Content-Type '%s'.", mt)
		}
		if total > MaxBatchRequests {
			return nil, errBadRequest("The number of requests in a batch exceeds the limit of %d.", MaxBatchRequests)
		}
	}
	if len(items) == 0 {
		return nil, errBatch("The batch contains no requests.")
	}
	return items, nil
}

// parseBatchRequest reads an application/http part: a request line, MIME
// headers, a blank line and the body. The URL is everything between the
// method and the protocol, as clients may leave spaces in it.
func parseBatchRequest(p *multipart.Part) (*batchRequest, error) {
	data, err := io.ReadAll(io.LimitReader(p, DefaultMaxBodyBytes+1))
	if err != nil {
		return nil, errBatch("A batch request could not be read: %v.", err)
	}
	br := bufio.NewReader(bytes.NewReader(data))
	tp := textproto.NewReader(br)
	var line string
	for line == "" {
		if line, err = tp.ReadLine(); err != nil {
			return nil, errBatch("A batch part has no request line.")
		}
		line = strings.TrimSpace(line)
	}
	method, rest, ok := strings.Cut(line, " ")
	if !ok {
		return nil, errBatch("The batch request line '%s' is not valid.", line)
	}
	target := strings.TrimSpace(rest)
	if i := strings.LastIndex(target, " "); i >= 0 && strings.HasPrefix(target[i+1:], "HTTP/") {
		target = strings.TrimSpace(target[:i])
	}
	switch method {
	case http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete:
	default:
		return nil, errBatch("The method '%s' is not supported in a batch.", method)
	}
	if target == "" {
		return nil, errBatch("The batch request line '%s' has no URL.", line)
	}
	mh, err := tp.ReadMIMEHeader()
	if err != nil && err != io.EOF {
		return nil, errBatch("The headers of the batch request '%s' are not valid.", line)
	}
	body, _ := io.ReadAll(br)
	body = bytes.TrimSuffix(body, []byte("\r\n"))
	body = bytes.TrimSuffix(body, []byte("\n"))
	h := http.Header(mh)
	if h == nil {
		h = http.Header{}
	}
	return &batchRequest{contentID: p.Header.Get("Content-ID"), method: method, target: target, header: h, body: body}, nil
}

// writeBatch writes the multipart response, in the framing Dataverse and
// its clients use: no preamble, batchresponse_ and changesetresponse_
// boundaries, one header line on a change set part.
func (q *request) writeBatch(status int, items []batchItem, out [][]*batchResponse) error {
	boundary := "batchresponse_" + uuid.NewString()
	var b bytes.Buffer
	for i, resps := range out {
		b.WriteString("--" + boundary + "\r\n")
		if !items[i].changeSet {
			writeBatchPart(&b, resps[0])
			continue
		}
		cs := "changesetresponse_" + uuid.NewString()
		b.WriteString("Content-Type: multipart/mixed; boundary=" + cs + "\r\n\r\n")
		for _, r := range resps {
			b.WriteString("--" + cs + "\r\n")
			writeBatchPart(&b, r)
		}
		b.WriteString("--" + cs + "--\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	h := q.header()
	h.Set("Content-Type", "multipart/mixed; boundary="+boundary)
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	q.w.WriteHeader(status)
	_, err := q.w.Write(b.Bytes())
	return err
}

func writeBatchPart(b *bytes.Buffer, r *batchResponse) {
	b.WriteString("Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n")
	if r.contentID != "" {
		b.WriteString("Content-ID: " + r.contentID + "\r\n")
	}
	b.WriteString("\r\n")
	status := r.status
	if status == 0 {
		status = http.StatusOK
	}
	fmt.Fprintf(b, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	if status == http.StatusNoContent {
		if loc := r.header.Get(codec.HeaderEntityID); loc != "" && r.header.Get("Location") == "" {
			r.header.Set("Location", loc)
		}
	}
	if status >= 400 {
		r.header.Set("REQ_ID", uuid.NewString())
	}
	r.header.Del("Content-Length")
	keys := make([]string, 0, len(r.header))
	for k := range r.header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		name := k
		if sp, ok := headerSpelling[k]; ok {
			name = sp
		}
		for _, v := range r.header[k] {
			b.WriteString(name + ": " + v + "\r\n")
		}
	}
	b.WriteString("\r\n")
	b.Write(r.body.Bytes())
	b.WriteString("\r\n")
}

// headerSpelling gives the spelling Dataverse uses for headers that Go
// stores in canonical form; batch parts are text that some clients read
// without folding case.
var headerSpelling = map[string]string{
	"Odata-Version":      "OData-Version",
	"Odata-Entityid":     "OData-EntityId",
	"Etag":               "ETag",
	"Req_id":             "REQ_ID",
	"Preference-Applied": "Preference-Applied",
}

// contentIDReference resolves "$1" in an @odata.bind value.
func (q *request) contentIDReference(v string) (string, error) {
	u, ok := q.contentIDs[strings.TrimPrefix(v, "$")]
	if !ok {
		return "", errBadRequest("Content-ID Reference: '%s' does not exist in the batch context.", v)
	}
	return u, nil
}
