package eventual

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an application error. The Web API maps kinds to HTTP
// statuses; nothing else in the domain knows about HTTP.
type Kind int

// Error kinds.
const (
	// KindInternal is an unexpected failure; its details are logged, never
	// shown to callers.
	KindInternal Kind = iota
	// KindInvalid is bad input: malformed syntax, unknown names, wrong
	// types, values out of range (HTTP 400).
	KindInvalid
	// KindNotFound is a missing record or resource (HTTP 404).
	KindNotFound
	// KindPrecondition is a failed condition: a stale ETag, a duplicate key
	// (HTTP 412).
	KindPrecondition
	// KindNotSupported is an operation the table or resource does not
	// support, such as creating a system job (the Web API answers 405).
	KindNotSupported
	// KindNotImplemented is a documented feature eventual does not offer
	// (HTTP 501).
	KindNotImplemented
	// KindUnavailable is a temporary inability to serve, such as shutting
	// down (HTTP 503).
	KindUnavailable
	// KindNotModified is a conditional retrieve whose record is unchanged
	// (HTTP 304).
	KindNotModified
	// KindThrottled is a request refused by a service-protection limit
	// (HTTP 429); Error.RetryAfter says when to try again.
	KindThrottled
)

// Dataverse error codes, as the Web API returns them in error.code. The
// comments give Dataverse's names where its error code reference has one.
const (
	// CodeNone is the code Dataverse gives some OData parsing errors.
	CodeNone = "0x0"
	// CodeObjectDoesNotExist: no record has the primary key.
	CodeObjectDoesNotExist = "0x80040217"
	// CodeRecordNotFoundByKey: no record has the alternate key values.
	CodeRecordNotFoundByKey = "0x80060891"
	// CodeDuplicateRecord: the primary key is taken, or If-None-Match: *
	// met an existing record.
	CodeDuplicateRecord = "0x80040237"
	// CodeDuplicateRecordEntityKey: an alternate key value is taken.
	CodeDuplicateRecordEntityKey = "0x80060892"
	// CodeConcurrencyVersionMismatch: If-Match named a stale version.
	CodeConcurrencyVersionMismatch = "0x80060882"
	// CodeResourceNotFound: an unknown URL segment.
	CodeResourceNotFound = "0x8006088a"
	// CodeInvalidPayload (ODataClientPayloadError): a body that does not
	// fit the entity type.
	CodeInvalidPayload = "0x80048d19"
	// CodeBadRequest: malformed URLs, query options, keys and filters, and
	// unsupported query features.
	CodeBadRequest = "0x80060888"
	// CodeValidation: a value breaks a column's constraints (length).
	CodeValidation = "0x80044331"
	// CodeOutOfRange: a number or choice value outside its range.
	CodeOutOfRange = "0x8004431a"
	// CodeInvalidArgument: an argument is not valid.
	CodeInvalidArgument = "0x80040203"
	// CodeRequiredFieldMissing: a required column has no value.
	CodeRequiredFieldMissing = "0x80040200"
	// CodeInvalidStateCodeStatusCode: a statuscode that does not belong to
	// the record's statecode.
	CodeInvalidStateCodeStatusCode = "0x80048408"
	// CodeInvalidState: the record is not in a state that allows the
	// operation (a state transition a system job does not allow).
	CodeInvalidState = "0x80040233"
	// CodeInvalidOperation: an operation the resource does not support
	// (creating a system job); the Web API answers 405 for it.
	CodeInvalidOperation = "0x8004023b"
	// CodePluginFailed (IsvAborted): a plug-in step failed the operation.
	CodePluginFailed = "0x80040265"
	// CodeRequestsLimitExceeded: more than 6,000 requests by one user in
	// the service-protection window of 300 seconds.
	CodeRequestsLimitExceeded = "0x80072322"
	// CodeExecutionTimeLimitExceeded: more than 1,200 seconds of combined
	// execution time by one user in the window.
	CodeExecutionTimeLimitExceeded = "0x80072321"
	// CodeConcurrencyLimitExceeded: more than 52 concurrent requests by
	// one user.
	CodeConcurrencyLimitExceeded = "0x80072326"
	// CodeUnexpected: an unexpected error.
	CodeUnexpected = "0x80040216"
)

// Error is an application error: a kind, a Dataverse error code and a
// message safe to show to callers. It may wrap a cause.
//
// Errors a transport alone can cause (a body too large, a URL too long, a
// media type it does not read) are the transport's: the root knows only
// what any RecordService can answer.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	// RetryAfter is how long a KindThrottled caller should wait before
	// trying again (Dataverse's Retry-After header); zero when unknown.
	RetryAfter time.Duration
	Err        error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err != nil && e.Err.Error() != e.Message {
		return fmt.Sprintf("%s: %v", e.Message, e.Err)
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an Error of the kind and code with a formatted message.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorKind returns the kind of err: the kind of the first *Error in its
// chain, or KindInternal.
func ErrorKind(err error) Kind {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Kind
	}
	return KindInternal
}

// ErrorCode returns the Dataverse code of err, or CodeUnexpected for errors
// that are not application errors.
func ErrorCode(err error) string {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return CodeUnexpected
}

// ErrorMessage returns the message of err that callers may see. Errors that
// are not application errors yield a generic message.
func ErrorMessage(err error) string {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Message
	}
	return "An unexpected error occurred."
}

// Sentinel errors that stores return. The record service turns them into
// Dataverse errors with the table's names in the message.
var (
	// ErrNotFound means no record has the requested primary key or key
	// values.
	ErrNotFound = errors.New("record not found")
	// ErrClosed means the store has been closed.
	ErrClosed = errors.New("store closed")
)

// ConflictError is returned by stores when a write would give two records
// the same primary key (Key is nil) or the same alternate key values.
type ConflictError struct {
	Table *Table
	Key   *Key
}

// Error implements error.
func (e *ConflictError) Error() string {
	if e.Key == nil {
		return fmt.Sprintf("duplicate primary key in %s", e.Table.LogicalName)
	}
	return fmt.Sprintf("duplicate value for alternate key %s of %s", e.Key.LogicalName, e.Table.LogicalName)
}
