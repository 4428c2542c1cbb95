package webapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/codec"
	"github.com/eventual-pp/eventual/odata"
)

// statuses maps error kinds to HTTP statuses.
var statuses = map[eventual.Kind]int{
	eventual.KindInternal:       http.StatusInternalServerError,
	eventual.KindInvalid:        http.StatusBadRequest,
	eventual.KindNotFound:       http.StatusNotFound,
	eventual.KindPrecondition:   http.StatusPreconditionFailed,
	eventual.KindNotSupported:   http.StatusMethodNotAllowed,
	eventual.KindNotImplemented: http.StatusNotImplemented,
	eventual.KindUnavailable:    http.StatusServiceUnavailable,
	eventual.KindNotModified:    http.StatusNotModified,
	eventual.KindThrottled:      http.StatusTooManyRequests,
}

// statusError is an error only HTTP can cause (a body over the limit, a
// URL too long, a media type the Web API does not read): the root's kinds
// have no place for it, so it carries its status itself.
type statusError struct {
	status int
	err    *eventual.Error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// errStatus returns an error answered with the HTTP status; its kind is
// KindInvalid for everything that looks at kinds only.
func errStatus(status int, code, format string, args ...any) error {
	return &statusError{status: status, err: eventual.Errorf(eventual.KindInvalid, code, format, args...)}
}

// StatusOf returns the HTTP status for an error.
func StatusOf(err error) int {
	if se, ok := errors.AsType[*statusError](err); ok {
		return se.status
	}
	if s, ok := statuses[eventual.ErrorKind(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// apiError normalizes an error: syntax errors from the odata package become
// bad requests, everything else keeps its kind.
func apiError(err error) error {
	var se *odata.SyntaxError
	if errors.As(err, &se) {
		return &eventual.Error{Kind: eventual.KindInvalid, Code: eventual.CodeBadRequest, Message: se.Error()}
	}
	var pe *odata.PathError
	if errors.As(err, &pe) {
		return &eventual.Error{Kind: eventual.KindInvalid, Code: eventual.CodeBadRequest, Message: pe.Msg}
	}
	var oe *odata.OptionError
	if errors.As(err, &oe) {
		return &eventual.Error{Kind: eventual.KindInvalid, Code: eventual.CodeBadRequest, Message: oe.Msg}
	}
	return err
}

// writeError writes an error response. Internal errors are logged with
// their cause and shown as a generic message.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	err = apiError(err)
	s.writeErrorStatus(w, r, StatusOf(err), err)
}

// writeErrorStatus writes an error response with a status that the error's
// kind does not give (431 for headers over the limit).
func (s *Server) writeErrorStatus(w http.ResponseWriter, r *http.Request, status int, err error) {
	if status == http.StatusNotModified {
		h := w.Header()
		h.Set(codec.HeaderODataVersion, "4.0")
		w.WriteHeader(status)
		return
	}
	if r.Context().Err() != nil {
		// The client hung up (or its deadline passed): nobody reads an
		// answer, and the failure is its going, not the server's.
		s.logger().Debug("request abandoned by the client", "method", r.Method, "url", r.URL.String(), "err", err)
		return
	}
	if status >= 500 {
		s.logger().Error("request failed", "method", r.Method, "url", r.URL.String(), "err", err)
		if eventual.ErrorKind(err) == eventual.KindInternal {
			err = &eventual.Error{Kind: eventual.KindInternal, Code: eventual.CodeUnexpected, Message: "An unexpected error occurred."}
		}
	}
	prefs := parsePrefer(r.Header)
	body := codec.ErrorBody(eventual.ErrorCode(err), eventual.ErrorMessage(err), status, prefs.annotations.any())
	h := w.Header()
	if e, ok := errors.AsType[*eventual.Error](err); ok && e.RetryAfter > 0 {
		// Retry-After in whole seconds, rounded up so a client never
		// comes back early.
		h.Set("Retry-After", strconv.FormatInt(int64((e.RetryAfter+time.Second-1)/time.Second), 10))
	}
	h.Set("Content-Type", "application/json; odata.metadata=minimal")
	h.Set(codec.HeaderODataVersion, "4.0")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Errors used by several handlers.

func errSegment(seg string) error {
	return eventual.Errorf(eventual.KindNotFound, eventual.CodeResourceNotFound, "Resource not found for the segment '%s'.", seg)
}

func errNoResource(url string) error {
	return eventual.Errorf(eventual.KindNotFound, eventual.CodeResourceNotFound, "No HTTP resource was found that matches the request URI '%s'.", url)
}

func errMethod(method string) error {
	return eventual.Errorf(eventual.KindNotSupported, eventual.CodeBadRequest, "The requested resource does not support http method '%s'.", method)
}

func errBadRequest(format string, args ...any) error {
	return eventual.Errorf(eventual.KindInvalid, eventual.CodeBadRequest, format, args...)
}

// errPayload wraps a body problem the way Dataverse reports it
// (ODataClientPayloadError).
func errPayload(set, inner string) error {
	return eventual.Errorf(eventual.KindInvalid, eventual.CodeInvalidPayload,
		"Error identified in Payload provided by the user for Entity :'%s', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ---->  InnerException : %s", set, inner)
}

func errNoProperty(t *eventual.Table, name string) error {
	return errNoPropertyOn(t.LogicalName, name)
}

// errNoPropertyOn is ODataLib's error for an unknown property of a type of
// the Microsoft.Dynamics.CRM namespace. Its code is the one error code
// Dataverse gives as 0x0: the support article web-api-client-errors.md
// (MicrosoftDocs/SupportArticles-docs) shows GET accounts?$select=Name
// answering 400 {"code":"0x0","message":"Could not find a property named
// 'Name' on type 'Microsoft.Dynamics.CRM.account'."}. No other error may
// use CodeNone.
func errNoPropertyOn(typ, name string) error {
	return eventual.Errorf(eventual.KindInvalid, eventual.CodeNone,
		"Could not find a property named '%s' on type 'Microsoft.Dynamics.CRM.%s'.", name, typ)
}

func errInvalidKey(t *eventual.Table) error {
	return errBadRequest("The key in the request URI is not valid for resource 'Microsoft.Dynamics.CRM.%[1]s'. Ensure that the names and number of key properties match the declared or alternate key properties for the resource 'Microsoft.Dynamics.CRM.%[1]s'.", t.LogicalName)
}

// errMediaType is a request body in a format the Web API does not read.
// Dataverse documents no code for it; the payload code is the closest.
func errMediaType(format string, args ...any) error {
	return errStatus(http.StatusUnsupportedMediaType, eventual.CodeInvalidPayload, format, args...)
}

func errTooLarge(limit int64) error {
	return errStatus(http.StatusRequestEntityTooLarge, eventual.CodeInvalidPayload, "The request body is larger than the limit of %d bytes.", limit)
}

func internal(format string, args ...any) error { return fmt.Errorf(format, args...) }
