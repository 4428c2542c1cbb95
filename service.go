package eventual

import (
	"context"

	"github.com/google/uuid"
)

// RecordService is the Dataverse organization service's record messages
// over the root's types: Create, Retrieve, Update, Upsert, Delete,
// RetrieveMultiple, the bulk messages and change tracking.
//
// It is the seam between the ends of eventual. The instance package
// implements it over a Store, running the event pipeline; the webapi
// package serves any implementation over HTTP; a Web API client
// implements it over HTTP, so the sync engine can read one instance and
// write another without knowing which is local.
//
// Errors are *Error values (their Kind says what went wrong, their Code is
// Dataverse's); anything else is an internal failure.
//
// The name follows Dataverse's IOrganizationService, narrowed to records:
// metadata is the Schema, identity is Meta.
type RecordService interface {
	// Create creates a record, and the related records of a deep insert,
	// and returns its primary key. A duplicate primary or alternate key is
	// a KindPrecondition error.
	Create(ctx context.Context, e *Entity) (uuid.UUID, error)

	// Retrieve returns the record the target names, with the columns asked
	// for (nil for all) and the expansions. With ifNoneMatch set to the
	// record's current version it returns a KindNotModified error; a
	// missing record is a KindNotFound error.
	Retrieve(ctx context.Context, target EntityReference, columns []*Column, expand []Expand, ifNoneMatch string) (*Record, error)

	// Update writes values to the record the target names and returns its
	// primary key. The record must exist (cond.IfMatch is "*" when empty).
	Update(ctx context.Context, target EntityReference, values Values, cond Condition) (uuid.UUID, error)

	// Upsert updates the record the target names, or creates it with the
	// target's key when none exists, honouring the conditions. It reports
	// whether it created the record.
	Upsert(ctx context.Context, target EntityReference, e *Entity, cond Condition) (created bool, id uuid.UUID, err error)

	// Delete deletes the record the target names, with its cascades.
	Delete(ctx context.Context, target EntityReference, cond Condition) error

	// RetrieveMultiple runs a query. q.Limit is the page size; the page
	// reports whether more records follow. With count set it also counts
	// the records the filter selects (up to MaxCount).
	RetrieveMultiple(ctx context.Context, q *Query, expand []Expand, count bool) (*Page, error)

	// Count returns the number of records the filter selects, at most
	// MaxCount.
	Count(ctx context.Context, t *Table, filter Expr) (int64, error)

	// CreateMultiple creates records of one table in one transaction and
	// returns their ids, in order.
	CreateMultiple(ctx context.Context, entities []*Entity) ([]uuid.UUID, error)

	// UpdateMultiple updates records of one table in one transaction, each
	// as Update would; every target must name its record.
	UpdateMultiple(ctx context.Context, targets []BulkTarget) error

	// UpsertMultiple upserts records of one table in one transaction, each
	// as Upsert would.
	UpsertMultiple(ctx context.Context, targets []BulkTarget) error

	// DeleteMultiple deletes records of one table in one transaction, each
	// as Delete would.
	DeleteMultiple(ctx context.Context, targets []EntityReference) error

	// Changes returns up to limit changes of t after change token since
	// and up to token until, starting at the cursor: records created or
	// updated (latest state, once each), then records deleted. An empty
	// since reads from the beginning (every record, no deletions). An
	// empty until reads up to a new snapshot and returns its token. A
	// token the service cannot read is ErrTokenNotValid.
	//
	// Callers page the same way whatever the service: the next page is
	// Changes(since, page.Token, the cursor after the page's last change,
	// limit); the last page's Token (More false) is the since of the next
	// read. Tokens are strings a caller may persist. (A local instance's
	// Token is the snapshot's on every page; a Web API client's is a
	// continuation until the last page, which carries the delta token.)
	Changes(ctx context.Context, t *Table, columns []*Column, since, until string, cur ChangeCursor, limit int) (*ChangePage, error)

	// PrimaryNames returns the primary name of each referenced record that
	// exists, by id (the formatted values of lookups).
	PrimaryNames(ctx context.Context, refs []EntityReference) (map[uuid.UUID]string, error)
}

// AtomicService is a RecordService that can run several messages in one
// transaction: the Web API's $batch change sets need it.
type AtomicService interface {
	RecordService

	// Atomic runs fn with a service whose messages all commit together,
	// when fn returns nil, or not at all. fn may run more than once (a
	// store retries transactions that lose a race), so it must not keep
	// results of a failed run.
	Atomic(ctx context.Context, fn func(RecordService) error) error
}

// Condition holds the optimistic-concurrency conditions of a write
// (If-Match and If-None-Match in the Web API).
type Condition struct {
	// IfMatch is "" (none), "*" (the record must exist) or a row version
	// the record must still have.
	IfMatch string
	// IfNoneMatch is "" (none) or "*" (the record must not exist).
	IfNoneMatch string
}

// MaxCount is the largest count Dataverse reports for $count.
const MaxCount = 5000

// Page is a page of records.
type Page struct {
	// Records are the records of the page.
	Records []*Record
	// More reports whether records follow the page.
	More bool
	// Count is the number of records the query selects, at most MaxCount,
	// when the caller asked for it; -1 otherwise.
	Count int64
	// CountLimitExceeded reports that more than MaxCount records match.
	CountLimitExceeded bool
}

// BulkTarget is one record of an UpsertMultiple or UpdateMultiple: the
// record to update (or create, for an upsert) when HasTarget is set, or,
// without a target, a record to create.
type BulkTarget struct {
	Target    EntityReference
	HasTarget bool
	Entity    *Entity
}

// ChangePage is a page of the changes of a table since a change token.
type ChangePage struct {
	// Changes are records created or updated (first, in primary key order)
	// and then records deleted.
	Changes []Change
	// More reports whether changes follow the page.
	More bool
	// Token is the change token of the page's snapshot, when asked for.
	Token string
}

// ChangeCursor is where a page of changes starts: after the record with
// ID among changed records, or among deletions when Deleted is set.
type ChangeCursor struct {
	Deleted bool
	After   uuid.UUID
}

// ErrTokenNotValid is the application error for a change token a service
// cannot read: Dataverse's 400 for a $deltatoken. It wraps ErrBadToken, so
// errors.Is(err, ErrBadToken) holds for it.
var ErrTokenNotValid = &Error{Kind: KindInvalid, Code: CodeBadRequest, Err: ErrBadToken,
	Message: "The $deltatoken is not valid. Follow the @odata.deltaLink exactly as returned, or start again with Prefer: odata.track-changes."}

type ctxKey int

const (
	correlationKey ctxKey = iota
	adoptKey
	callerKey
)

// Caller is the user a request comes from, as the Web API's
// authentication established it: a systemuser's id, its name, and
// whether it is an application user (a service principal).
type Caller struct {
	UserID uuid.UUID
	Name   string
	// Domain is the user's sign-in name (an Entra ID token's
	// preferred_username or upn): the systemuser's domainname.
	Domain      string
	Application bool
	// ApplicationID is an application user's app id (the token's azp or
	// appid): the systemuser's applicationid.
	ApplicationID uuid.UUID
}

// WithCaller returns a context whose messages run as caller: WhoAmI
// answers its id, and the pipeline's execution context carries it as
// UserId and InitiatingUserId.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey, c)
}

// CallerFrom returns the caller WithCaller put in the context, if any.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey).(Caller)
	return c, ok
}

// WithCorrelationID returns a context whose messages carry the correlation
// id (the Web API takes it from x-ms-correlation-request-id or makes one
// per request; the pipeline's steps see it in ExecutionContext).
func WithCorrelationID(ctx context.Context, id uuid.UUID) context.Context {
	return context.WithValue(ctx, correlationKey, id)
}

// CorrelationID returns the correlation id WithCorrelationID put in the
// context, if any.
func CorrelationID(ctx context.Context) (uuid.UUID, bool) {
	id, ok := ctx.Value(correlationKey).(uuid.UUID)
	return id, ok
}

// WithAdoptPlaceholders returns a context whose upserts by primary key
// adopt placeholders (the Web API sets it for a request with the header
// x-eventual-adopt-placeholders: true). An upsert of record G that finds
// no record G, but whose alternate-key values match a placeholder P (a
// record in HydrationPlaceholder state), turns P into G: P's primary key
// becomes G, every lookup that referenced P references G, and the upsert
// hydrates it, in one transaction. Without it such an upsert fails with
// the duplicate-key error, as in Dataverse, which cannot change a primary
// key. A replication engine sets it when it copies records whose
// placeholders the target made under ids of its own.
func WithAdoptPlaceholders(ctx context.Context) context.Context {
	return context.WithValue(ctx, adoptKey, true)
}

// AdoptPlaceholders reports whether WithAdoptPlaceholders marked the
// context.
func AdoptPlaceholders(ctx context.Context) bool {
	v, _ := ctx.Value(adoptKey).(bool)
	return v
}
