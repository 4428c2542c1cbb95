package eventual

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
)

// Store is the storage of an instance: one database holding every table of
// a schema. The SQLite and PostgreSQL adapters implement it, and the
// storetest package holds the contract suite both must pass.
//
// A Store never applies Dataverse rules: it stores and finds rows. The
// instance package layers the message semantics on top.
type Store interface {
	// Update runs fn in a read-write transaction and commits it. fn's
	// writes are atomic: if fn returns an error, none of them persist and
	// Update returns that error. When Update returns nil, the writes are
	// durable to the degree the store documents and visible to every later
	// transaction.
	//
	// fn may run more than once (a store may retry it after a conflict with
	// a concurrent transaction), so it must not have effects outside tx
	// other than on variables it resets on each run. fn must not call the
	// store's Update or View.
	Update(ctx context.Context, fn func(tx Tx) error) error

	// View runs fn in a read-only transaction that sees one consistent
	// snapshot of the store.
	View(ctx context.Context, fn func(tx ReadTx) error) error

	// Meta returns the instance's identity, created when the store was
	// first opened.
	Meta() Meta

	// Close waits for writes in progress, then closes the store.
	Close() error
}

// StatementStore is a Store that can run a write of a single statement
// without a transaction around it.
type StatementStore interface {
	Store
	// UpdateStatement runs fn as Update does, for an fn that runs one
	// statement (a single Tx.Insert or Tx.Put): the statement commits as its
	// own transaction, which spares a client/server database the round trips
	// of BEGIN and COMMIT. A second statement of fn fails without running,
	// but the first has committed by then, so only writes that are one
	// statement by construction use it.
	UpdateStatement(ctx context.Context, fn func(tx Tx) error) error
}

// StatementViewer is a Store that can run a read of a single statement
// without a transaction around it.
type StatementViewer interface {
	Store
	// ViewStatement runs fn as View does, sparing the BEGIN and the end of
	// a transaction while fn runs one statement, which reads a snapshot of
	// its own. If fn runs a second statement, that statement fails and
	// ViewStatement runs fn again in View, whatever fn returned: fn must
	// not keep results of a first run.
	ViewStatement(ctx context.Context, fn func(tx ReadTx) error) error
}

// Meta identifies an instance. WhoAmI returns these identifiers.
type Meta struct {
	OrganizationID uuid.UUID
	BusinessUnitID uuid.UUID
	UserID         uuid.UUID
}

// ReadTx reads records inside a transaction.
type ReadTx interface {
	// Get returns the record of t with the primary key, reading the given
	// columns (nil reads all). It returns ErrNotFound if there is none.
	Get(ctx context.Context, t *Table, id uuid.UUID, columns []*Column) (*Record, error)

	// GetByKey returns the record whose alternate key has the values (in
	// key column order). It returns ErrNotFound if there is none.
	GetByKey(ctx context.Context, key *Key, values []any, columns []*Column) (*Record, error)

	// Query returns the records that q selects, in q's order.
	Query(ctx context.Context, q *Query) ([]*Record, error)

	// Count returns the number of records of t that filter selects,
	// counting at most limit+1 rows when limit is positive.
	Count(ctx context.Context, t *Table, filter Expr, limit int) (int64, error)

	// Aggregate runs a grouped query (it does not check the record limit).
	Aggregate(ctx context.Context, a *Aggregate) ([]AggregateRow, error)

	// ChangeToken returns the change-tracking position of this snapshot:
	// a later Changes call with it as Since returns exactly the changes
	// this snapshot does not see. Tokens are opaque strings of the store.
	ChangeToken(ctx context.Context) (string, error)

	// Changes returns changes of a change-tracked table after the position
	// q.Since and up to the position q.Until (both optional; empty Since is
	// the beginning, empty Until this snapshot): records created or updated
	// (their current state, once each) when q.Deleted is false, records
	// deleted (and not created again) when it is true; in primary key order
	// after q.After, at most q.Limit. A change committed late by a
	// concurrent writer is never skipped: it is after every token handed
	// out before it became visible. Bounding a read by Until keeps its pages
	// finite while writers go on; what is after Until is after it for the
	// next read too. It returns ErrBadToken for a token the store did not
	// issue.
	Changes(ctx context.Context, q ChangeQuery) ([]Change, error)
}

// RowUpdate is one record's update in an UpdateMany.
type RowUpdate struct {
	ID      uuid.UUID
	Values  Values
	Version int64 // set by UpdateMany
}

// Put is a write of one record in one statement (Tx.Put): the record is
// inserted unless another holds its key, in which case that one is
// updated, or left alone when Keep says so.
type Put struct {
	// Record is the record to insert, with every value it would be
	// created with and a new primary key (Put tells its insert from an
	// update by that id).
	Record *Record
	// Key is the alternate key the record is matched by (required; a
	// key value must not be null, which no unique index matches).
	Key *Key
	// Set are the columns written to a record that holds the key, from
	// Record's values; the version is always written.
	Set []*Column
	// Keep, when set, leaves alone a record that holds the key and whose
	// Keep column holds KeepValue (a placeholder, which the caller
	// hydrates the long way).
	Keep      *Column
	KeepValue any
	// Only, when set, updates a record that holds the key only when its
	// Only column is null or holds OnlyValue (the base currency, at whose
	// rate the caller converted the money), and leaves any other alone
	// (PutLeft) for the caller to write the long way.
	Only      *Column
	OnlyValue any
}

// PutResult is what Tx.Put did.
type PutResult int

const (
	// PutLeft: a record holds the key and Keep (or Only) left it alone;
	// nothing was written.
	PutLeft PutResult = iota
	// PutInserted: Record was inserted; its Version is set.
	PutInserted
	// PutUpdated: the record that holds the key was updated; Put returns
	// its primary key and new version.
	PutUpdated
)

// ChangeQuery selects changes of a table since a change token.
type ChangeQuery struct {
	Table   *Table
	Columns []*Column
	Since   string
	Until   string
	Deleted bool
	After   uuid.UUID
	Limit   int
}

// Change is a record created, updated or deleted since a change token.
type Change struct {
	// ID is the record's primary key.
	ID uuid.UUID
	// Record is the record's current state; nil for a deletion.
	Record *Record
	// Deleted reports a deletion.
	Deleted bool
}

// ErrBadToken is returned for a change token the store cannot read.
var ErrBadToken = errors.New("change token not valid for this store")

// Tx reads and writes records inside a read-write transaction.
type Tx interface {
	ReadTx

	// Insert stores a new record. The store assigns rec.Version. It returns
	// a *ConflictError if the primary key or an alternate key is taken.
	Insert(ctx context.Context, rec *Record) error

	// Put inserts or updates one record in one statement (see Put): what
	// a lookup by key followed by Insert or Update would do, without the
	// lookup. It returns the id and version of the record written (none
	// for PutLeft) and a *ConflictError if another unique key is taken.
	Put(ctx context.Context, p *Put) (res PutResult, id uuid.UUID, version int64, err error)

	// InsertMany stores new records of one table, as Insert does for each,
	// in as few statements as the store can. It assigns each record's
	// Version.
	InsertMany(ctx context.Context, recs []*Record) error

	// UpdateMany writes the values of each update to the record with its
	// primary key, as Update does for each, and sets each update's new
	// Version. It returns ErrNotFound if a record is missing.
	UpdateMany(ctx context.Context, t *Table, updates []*RowUpdate) error

	// Update writes the values to the record of t with the primary key and
	// returns its new version. It returns ErrNotFound if there is none and
	// a *ConflictError if an alternate key would be duplicated.
	Update(ctx context.Context, t *Table, id uuid.UUID, values Values) (int64, error)

	// Delete removes the record of t with the primary key, recording the
	// deletion for change tracking when the table is change-tracked. It
	// returns ErrNotFound if there is none.
	Delete(ctx context.Context, t *Table, id uuid.UUID) error

	// Unlink clears the lookup of every record that references id through
	// the relationship, giving each a new version and modifiedon at (when
	// the table has the column), and returns how many records changed.
	// Deletes use it so that no lookup dangles.
	Unlink(ctx context.Context, r *Relationship, id uuid.UUID, at time.Time) (int64, error)

	// ChangeID gives the record of t with primary key old the primary key
	// new, and repoints every lookup that referenced old (in any table,
	// through t.OneToMany()) to new. The record and each record whose
	// lookup changed get a new version; when t is change-tracked, old is
	// recorded as deleted, so a change-tracking reader sees old deleted and
	// new changed. It returns ErrNotFound if there is no record old and a
	// *ConflictError if new is taken.
	ChangeID(ctx context.Context, t *Table, old, new uuid.UUID) error

	// MergeInto folds the record of t with primary key old into the
	// record new: every lookup that referenced old (through
	// t.OneToMany()) references new, each such record getting a new
	// version, and old is deleted (recorded for change tracking). It
	// returns ErrNotFound if there is no record old.
	MergeInto(ctx context.Context, t *Table, old, new uuid.UUID) error

	// PurgeDeleted forgets deletions recorded before the time (change
	// tracking retention) and returns how many it forgot.
	PurgeDeleted(ctx context.Context, before time.Time) (int64, error)
}
