package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/eventual-pp/eventual"
)

// ErrOpen is the cause of the errors the client returns without sending
// anything because the endpoint's circuit breaker is open (or half-open
// with its one probe already out). Test for it with errors.Is or
// IsBreakerOpen.
var ErrOpen = errors.New("client: circuit breaker open")

// Error is a failed Web API call: an error response, a transport failure,
// or a refusal by the circuit breaker. It unwraps to an *eventual.Error
// whose Kind matches what a local instance would have returned, and to its
// cause (a transport error or ErrOpen).
type Error struct {
	// Method and URL name the request.
	Method, URL string
	// StatusCode is the HTTP status; 0 when no response arrived.
	StatusCode int
	// Code and Message are Dataverse's error.code and error.message.
	Code, Message string
	// RetryAfter is the server's Retry-After; zero when it named none.
	RetryAfter time.Duration
	// Retryable reports whether the failure is worth trying again later
	// (transport errors, 429, 502, 503, 504, the transient codes, an open
	// breaker).
	Retryable bool
	// MaybeApplied reports that the request reached the server and no
	// answer came back, so it may have been applied; the client re-sends
	// such a request only when it is idempotent.
	MaybeApplied bool
	// Replayed reports that an earlier attempt of the same call may have
	// been applied (its MaybeApplied was set) and the request was sent
	// again: a 412 or 404 answer may then be that attempt's own effect.
	// Records resolves it where it can (a create with its own id, a
	// delete); a caller of Do decides itself.
	Replayed bool
	// Err is the cause: a transport error, ErrOpen, or nil.
	Err error
	// Header and Body are the error response's headers and body, as
	// read; nil when no response arrived. A $batch answered 400 carries
	// its multipart body here.
	Header http.Header
	Body   []byte

	domain *eventual.Error
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "client: %s %s: ", e.Method, e.URL)
	switch {
	case e.StatusCode != 0:
		fmt.Fprintf(&b, "%d", e.StatusCode)
		if e.Code != "" {
			fmt.Fprintf(&b, " %s", e.Code)
		}
		if e.Message != "" {
			fmt.Fprintf(&b, ": %s", e.Message)
		}
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	default:
		b.WriteString(e.Message)
	}
	return b.String()
}

// Unwrap returns the *eventual.Error of the failure and its cause.
func (e *Error) Unwrap() []error {
	errs := []error{e.domain}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// kindOf maps an HTTP status to the root's error kind, as webapi maps
// kinds to statuses.
func kindOf(status int) eventual.Kind {
	switch status {
	case http.StatusNotModified:
		return eventual.KindNotModified
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusRequestURITooLong, http.StatusUnsupportedMediaType:
		return eventual.KindInvalid
	case http.StatusNotFound:
		return eventual.KindNotFound
	case http.StatusMethodNotAllowed:
		return eventual.KindNotSupported
	case http.StatusPreconditionFailed:
		return eventual.KindPrecondition
	case http.StatusTooManyRequests:
		return eventual.KindThrottled
	case http.StatusNotImplemented:
		return eventual.KindNotImplemented
	case 0, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return eventual.KindUnavailable
	}
	return eventual.KindInternal
}

// finish fills in the *eventual.Error the error unwraps to.
func (e *Error) finish() *Error {
	code := e.Code
	if code == "" {
		code = eventual.CodeUnexpected
	}
	msg := e.Message
	if msg == "" {
		msg = e.Error()
	}
	e.domain = &eventual.Error{Kind: kindOf(e.StatusCode), Code: code, Message: msg, RetryAfter: e.RetryAfter}
	return e
}

// decodeErrorBody reads Dataverse's {"error":{"code":…,"message":…}}. A
// body of another shape yields empty strings.
func decodeErrorBody(body []byte) (code, message string) {
	var v struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &v) != nil {
		return "", ""
	}
	return v.Error.Code, v.Error.Message
}

// parseRetryAfter reads a Retry-After header: delta seconds or an HTTP
// date, relative to now. It reports false when the header is absent or
// malformed; a date in the past is a zero wait.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		// A huge value would overflow into a negative wait.
		return time.Duration(min(n, int64(math.MaxInt64/time.Second))) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// IsNotFound reports whether err is a missing record or resource (404).
func IsNotFound(err error) bool { return eventual.ErrorKind(err) == eventual.KindNotFound }

// IsPreconditionFailed reports whether err is a failed condition: a stale
// ETag or a duplicate key (412).
func IsPreconditionFailed(err error) bool {
	return eventual.ErrorKind(err) == eventual.KindPrecondition
}

// IsThrottled reports whether err is a service-protection refusal (429).
func IsThrottled(err error) bool { return eventual.ErrorKind(err) == eventual.KindThrottled }

// IsBreakerOpen reports whether err is a refusal by the open circuit
// breaker; nothing was sent.
func IsBreakerOpen(err error) bool { return errors.Is(err, ErrOpen) }

// HTTPStatus returns the HTTP status of the failure, 0 when no response
// arrived: callers that must not import this package (the sync engine)
// read it through an interface.
func (e *Error) HTTPStatus() int { return e.StatusCode }
