package webapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/codec"
	"github.com/eventual-pp/eventual/odata"
	"github.com/google/uuid"
)

// Defaults for the request limits.
const (
	// DefaultMaxBodyBytes bounds request bodies (Dataverse's own limit with
	// plug-ins registered is about 116 MB; single records are far smaller).
	DefaultMaxBodyBytes = 32 << 20
	// DefaultMaxURLLength is Dataverse's URL limit, 32 KB.
	DefaultMaxURLLength = 32 * 1024
	// DefaultMaxHeaderBytes bounds the header fields of a request (names
	// and values, the request line apart).
	DefaultMaxHeaderBytes = 64 << 10
)

// HeaderAdoptPlaceholders is eventual's request header that lets the
// upserts of a request adopt placeholders (see codec.HeaderAdoptPlaceholders):
// read on a PATCH upsert by primary key, UpsertMultiple, and in a $batch
// (on the $batch request it holds for every part; on a part, for that
// part).
const HeaderAdoptPlaceholders = codec.HeaderAdoptPlaceholders

// adoptRequested reports whether the request asks for placeholder
// adoption.
func adoptRequested(h http.Header) bool {
	return strings.EqualFold(strings.TrimSpace(h.Get(HeaderAdoptPlaceholders)), "true")
}

// headerSlack is how far past the URL and header limits the process's
// HTTP server reads a request head (MaxHeadBytes) before net/http answers
// 431 itself, in plain text. Between the limits and the slack the handler
// answers, with Dataverse's error body.
const headerSlack = 1 << 20

// Server is the Web API: an http.Handler (Handler) and the request-level
// settings it applies. It does not listen; the process's HTTP server
// (internal/httpserver in eventual serve) mounts it.
type Server struct {
	// Records executes the requests: in eventual serve, an
	// *instance.Instance. $batch change sets need it to be an
	// eventual.AtomicService too; without that they are refused (501).
	Records eventual.RecordService
	// Schema is the schema the records follow.
	Schema *eventual.Schema
	// Meta identifies the instance (WhoAmI).
	Meta eventual.Meta
	// Now reads the clock (delta-token ages, the $filter date functions);
	// time.Now when nil.
	Now func() time.Time
	// Logger receives request failures; it defaults to slog.Default().
	Logger *slog.Logger
	// MaxBodyBytes bounds request bodies (DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// MaxURLLength bounds request URLs (DefaultMaxURLLength).
	MaxURLLength int
	// MaxHeaderBytes bounds request header fields
	// (DefaultMaxHeaderBytes).
	MaxHeaderBytes int
	// ChangeRetention is how long delta tokens stay valid
	// (DefaultChangeRetention).
	ChangeRetention time.Duration
	// CORSOrigins lists the origins browser apps may call the Web API
	// from (see CheckCORSOrigin; "*" allows any). None by default: no
	// CORS headers are sent.
	CORSOrigins []string
}

// NewServer returns a server for a record service of the schema.
func NewServer(records eventual.RecordService, schema *eventual.Schema, meta eventual.Meta) *Server {
	return &Server{Records: records, Schema: schema, Meta: meta}
}

// now reads the server's clock.
func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Handler returns the server's HTTP handler: the Web API under
// /api/data/v9.0/, v9.1/ and v9.2/, and Dataverse's 404 body for every
// other path, so that it can serve as the fallback of a router.
//
// It routes on the path as sent. net/http's ServeMux cleans paths by
// redirecting ("//accounts" and "/api/data/v9.2/./accounts" got a 307
// with an HTML body), and clients follow redirects, so a POST, PATCH or
// DELETE was repeated at a URL they never asked for. Here an unclean path is
// an error with Dataverse's body, whatever the method: an empty segment
// is a 400, "." and ".." are unknown segments (404), as Dataverse serves
// no path but the one asked for.
//
// With CORSOrigins set, it also answers CORS preflights (see withCORS).
func (s *Server) Handler() http.Handler {
	h := http.Handler(http.HandlerFunc(s.serveHTTP))
	if len(s.CORSOrigins) > 0 {
		h = withCORS(s.CORSOrigins, h)
	}
	return h
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if n := headerBytes(r); n > s.maxHeader() {
		s.writeErrorStatus(w, r, http.StatusRequestHeaderFieldsTooLarge, errBadRequest(
			"The request header fields are larger than the limit of %d bytes.", s.maxHeader()))
		return
	}
	if !strings.HasPrefix(r.URL.EscapedPath(), "/api/data/") {
		s.writeError(w, r, errNoResource(r.URL.String()))
		return
	}
	s.serveAPI(w, r)
}

// headerBytes is the size of a request's header fields as sent: each
// "Name: value\r\n", the Host header included.
func headerBytes(r *http.Request) int {
	n := 0
	if r.Host != "" {
		n += len("Host: \r\n") + len(r.Host)
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + len(": \r\n")
		}
	}
	return n
}

// MaxHeadBytes is how much of a request head (request line and header
// fields) the process's HTTP server should read before net/http answers
// for itself. net/http answers some requests before any handler runs, in
// plain text: a malformed request line or header (400), a header block
// over its MaxHeaderBytes (431), an unsupported Transfer-Encoding (501).
// Those cannot carry Dataverse's error body. MaxHeadBytes is well past the
// URL and header limits so that the handler, which does answer with the
// body, sees every request of a plausible size: 414 for a long URL and 431
// for large headers.
func (s *Server) MaxHeadBytes() int { return s.maxURL() + s.maxHeader() + headerSlack }

func (s *Server) maxURL() int {
	if s.MaxURLLength > 0 {
		return s.MaxURLLength
	}
	return DefaultMaxURLLength
}

func (s *Server) maxHeader() int {
	if s.MaxHeaderBytes > 0 {
		return s.MaxHeaderBytes
	}
	return DefaultMaxHeaderBytes
}

func (s *Server) maxBody() int64 {
	if s.MaxBodyBytes > 0 {
		return s.MaxBodyBytes
	}
	return DefaultMaxBodyBytes
}

// atomic runs fn in one transaction: the change set's, inside a $batch
// change set, or a new one.
func (q *request) atomic(fn func(eventual.RecordService) error) error {
	a, ok := q.ops.(eventual.AtomicService)
	if !ok {
		return eventual.Errorf(eventual.KindNotImplemented, eventual.CodeBadRequest, "This service does not run change sets: its record service has no transactions.")
	}
	return a.Atomic(q.ctx, fn)
}

// request is one Web API request being served.
type request struct {
	s     *Server
	ops   eventual.RecordService
	w     http.ResponseWriter
	r     *http.Request
	ctx   context.Context
	base  string // absolute service root, ending in "/"
	path  string // the escaped path after the service root
	segs  []odata.Segment
	opts  *odata.Options
	prefs preferences
	// inBatch is set for requests inside a $batch; contentIDs maps the
	// Content-IDs of its change set to record URLs.
	inBatch    bool
	contentIDs map[string]string
}

var versions = []string{"v9.2", "v9.1", "v9.0"}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	s.serveRequest(w, r, s.Records, nil)
}

// serveRequest serves a Web API request with the given record operations.
// contentIDs is non-nil for requests inside a $batch: it maps the
// Content-IDs of the change set to record URLs.
func (s *Server) serveRequest(w http.ResponseWriter, r *http.Request, ops eventual.RecordService, contentIDs map[string]string) {
	limit := s.maxURL()
	if contentIDs != nil {
		limit = MaxBatchURLLength
	}
	if len(r.RequestURI) > limit {
		s.writeError(w, r, errStatus(http.StatusRequestURITooLong, eventual.CodeBadRequest,
			"Invalid URI: The Uri string is too long. The limit is %d characters.", limit))
		return
	}
	esc := r.URL.EscapedPath()
	var version, rest string
	for _, v := range versions {
		prefix := "/api/data/" + v
		if esc == prefix || strings.HasPrefix(esc, prefix+"/") {
			version, rest = v, strings.TrimPrefix(esc[len(prefix):], "/")
			break
		}
	}
	if version == "" {
		s.writeError(w, r, errNoResource(r.URL.String()))
		return
	}
	if strings.HasPrefix(rest, "/") { // "/api/data/v9.2//accounts"
		s.writeError(w, r, errBadRequest("The resource path has an empty segment."))
		return
	}
	ctx := r.Context()
	if contentIDs == nil {
		// Every operation a request causes shares its correlation id.
		corr, err := uuid.Parse(r.Header.Get(codec.HeaderCorrelationID))
		if err != nil {
			corr = uuid.New()
		}
		ctx = eventual.WithCorrelationID(ctx, corr)
		w.Header().Set(codec.HeaderServiceRequestID, corr.String())
	}
	if adoptRequested(r.Header) {
		ctx = eventual.WithAdoptPlaceholders(ctx)
	}
	req := &request{s: s, ops: ops, w: w, r: r, ctx: ctx, path: rest, prefs: parsePrefer(r.Header),
		inBatch: contentIDs != nil, contentIDs: contentIDs}
	req.base = baseURL(r, version)
	err := req.serve()
	if err != nil {
		s.writeError(w, r, err)
	}
}

// baseURL is the absolute service root of the request, built from its
// host, so that links work for the client whatever address it used.
func baseURL(r *http.Request, version string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	host := r.Host
	if host == "" {
		host = "localhost"
	}
	return scheme + "://" + host + "/api/data/" + version + "/"
}

func (q *request) serve() error {
	segs, err := odata.ParsePath(q.path)
	if err != nil {
		return err
	}
	q.segs = segs
	opts, err := odata.ParseOptions(q.r.URL.RawQuery)
	if err != nil {
		return err
	}
	q.opts = opts
	return q.route()
}

// readBody reads the request body within the size limit. Every body but a
// $batch's (multipart/mixed, checked by batch) must be JSON.
func (q *request) readBody() ([]byte, error) {
	limit := q.s.maxBody()
	if q.r.ContentLength > limit {
		return nil, errTooLarge(limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(q.w, q.r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errTooLarge(limit)
		}
		return nil, errBadRequest("The request body could not be read: %v", err)
	}
	if len(body) > 0 && !(len(q.segs) > 0 && q.segs[0].Name == "$batch") {
		if err := checkJSONContentType(q.r.Header.Get("Content-Type")); err != nil {
			return nil, err
		}
	}
	return body, nil
}

// checkJSONContentType accepts the media types of a JSON body: any
// application/json with UTF-8 or no charset, whatever its OData parameters
// (odata.metadata, odata.streaming, IEEE754Compatible, type=entry in $batch
// parts). compose-http-requests-handle-errors.md: "Every request that
// includes JSON data in the request body must include a Content-Type
// header with a value of application/json"; a body without one, or of
// another type, is a 415 as ASP.NET Web API gives it.
func checkJSONContentType(ct string) error {
	if strings.TrimSpace(ct) == "" {
		return errMediaType("The request contains an entity body but no Content-Type header. The inferred media type 'application/octet-stream' is not supported for this resource.")
	}
	if strings.EqualFold(ct, "application/json") || strings.EqualFold(ct, "application/json; charset=utf-8") {
		return nil // what clients send, spared the parse
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return errMediaType("The request entity's media type '%s' is not supported for this resource.", ct)
	}
	if mt != "application/json" {
		return errMediaType("The request entity's media type '%s' is not supported for this resource.", mt)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return errMediaType("The request entity's charset '%s' is not supported for this resource; JSON bodies are read as UTF-8.", cs)
	}
	return nil
}

// The values of the headers most responses carry, set straight into the
// header map (their keys are canonical already) and shared among
// responses: net/http only reads them, and copies them when the header is
// written. That spares each response an allocation per header.
var (
	odataVersionValue = []string{"4.0"}
	jsonTypeValue     = []string{jsonContentType}
)

// jsonContentType is the Content-Type of the Web API's JSON responses.
const jsonContentType = "application/json; odata.metadata=minimal"

// header sets the headers every Web API response carries.
func (q *request) header() http.Header {
	h := q.w.Header()
	h[codec.HeaderODataVersion] = odataVersionValue
	return h
}

// writeJSON writes a JSON response.
func (q *request) writeJSON(status int, body []byte) error {
	return q.writeBody(status, jsonContentType, body)
}

// writeBody writes a response with the common headers, the body and its
// content type.
func (q *request) writeBody(status int, contentType string, body []byte) error {
	h := q.header()
	if contentType == jsonContentType {
		h["Content-Type"] = jsonTypeValue
	} else {
		h.Set("Content-Type", contentType)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	q.w.WriteHeader(status)
	_, err := q.w.Write(body)
	return err
}

// writeNoContent writes a 204.
func (q *request) writeNoContent() error {
	q.header()
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

// applied records an applied preference.
func (q *request) applied(pref string) { q.w.Header().Add("Preference-Applied", pref) }
