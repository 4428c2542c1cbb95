package replication

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
)

// State is the sync's durable memory: per table pair (a source table
// replicated to a target table), where the change feed was read up to,
// the source version of every record applied, dead letters, and the lease
// that makes one process the active syncer of a pair. Package
// replication/state implements it over SQLite (a file, the default) and
// PostgreSQL (several sync processes, one state).
//
// Progress advances only through Commit, after the target acknowledged
// the writes it records, so a crash at any moment resumes from the last
// acknowledged page: at worst a page is applied again, never skipped.
type State interface {
	// Cursor returns the pair's cursor; the zero Cursor when the pair
	// has none yet.
	Cursor(ctx context.Context, pair string) (Cursor, error)

	// Commit saves, in one transaction, the pair's new cursor and the
	// source versions of the records applied (a deleted record's Version
	// is its tombstone: the version of the delta that reported it, or 0),
	// and removes the dead letters named in resolved. It fails with
	// ErrLeaseLost, writing nothing, when lease is set and another owner
	// holds the pair's lease.
	Commit(ctx context.Context, pair string, c Commit) error

	// Versions returns the recorded source version of each id that has
	// one.
	Versions(ctx context.Context, pair string, ids []uuid.UUID) (map[uuid.UUID]Applied, error)
	// Stale lists, in id order after the id after, at most limit records
	// applied and not deleted whose Epoch is older than epoch: the records
	// a full re-read of that epoch did not see.
	Stale(ctx context.Context, pair string, epoch int64, after uuid.UUID, limit int) ([]AppliedRecord, error)
	// Owners returns, for each of the target's record ids that a record
	// applied and not deleted names as its Target, that record's id.
	Owners(ctx context.Context, pair string, targets []uuid.UUID) (map[uuid.UUID]uuid.UUID, error)

	// AddDeadLetter records a record the target refused for good; a
	// dead letter of the same pair and record replaces the earlier one.
	AddDeadLetter(ctx context.Context, d DeadLetter) error
	// DeadLetters lists a pair's dead letters ("" for every pair), oldest
	// first.
	DeadLetters(ctx context.Context, pair string) ([]DeadLetter, error)
	// DropDeadLetter removes one dead letter; a missing one is no error.
	DropDeadLetter(ctx context.Context, pair string, id uuid.UUID) error

	// AcquireLease makes owner the holder of the pair's lease until now +
	// ttl, if nobody else holds an unexpired one, and reports whether it
	// holds it. The holder renews by acquiring again.
	AcquireLease(ctx context.Context, pair, owner string, ttl time.Duration) (bool, error)
	// ReleaseLease gives the lease up, if owner holds it.
	ReleaseLease(ctx context.Context, pair, owner string) error

	// SetStatus saves what `eventual sync status` shows of a pair.
	SetStatus(ctx context.Context, pair string, s Status) error
	// Statuses returns every pair's status, by pair.
	Statuses(ctx context.Context) (map[string]Status, error)

	// Close closes the state.
	Close() error
}

// ErrLeaseLost is the failure of a Commit whose lease another owner
// holds.
var ErrLeaseLost = errors.New("replication: the lease of the table pair is held by another sync")

// Phase is the part of its life a pair's replication is in.
type Phase string

// The phases: the initial load (the track-changes initial read), deltas
// after it, and a full re-read after the source refused the delta token,
// followed by the sweep that deletes on the target the records the
// re-read did not see.
const (
	PhaseInitial Phase = "initial"
	PhaseDelta   Phase = "delta"
	PhaseResync  Phase = "resync"
	PhaseSweep   Phase = "sweep"
)

// Cursor is where a pair's change feed is read from: the read from Since
// (a delta token; "" for the initial read), and, in the middle of a read,
// the page token Until and the position after the last change applied,
// as eventual.RecordService.Changes takes them.
type Cursor struct {
	Phase   Phase
	Since   string
	Until   string
	After   uuid.UUID
	Deleted bool
	// Epoch counts full reads (the initial load is 1, each resync one
	// more); records applied carry the epoch of the read that applied
	// them, so a resync can tell which target records the source no
	// longer has.
	Epoch int64
	// ReadStarted is when the current read began.
	ReadStarted time.Time
}

// Applied is what the sync last wrote of one record to the target.
type Applied struct {
	// Version is the source row version written.
	Version int64
	// Deleted reports that the sync deleted the record on the target.
	Deleted bool
	// Epoch is the full read that last saw the record (see Cursor.Epoch).
	Epoch int64
	// Key is, for a pair matched on the target by alternate key, the
	// key values the record may hold there (a JSON array of objects of
	// the key's columns, the current values last); nil for a pair matched
	// by primary key. A deletion of a record whose Target is not known
	// finds the target's record by them.
	Key []byte
	// Target is, for a pair matched by alternate key, the id of the
	// target's record the source record is written to: the source's own
	// id when the sync created it, the target's when the sync took over a
	// record the target had (a placeholder made by key). uuid.Nil when
	// not known: matched by primary key, or a state from before it was
	// kept.
	Target uuid.UUID
}

// AppliedRecord is one record of a Commit.
type AppliedRecord struct {
	ID uuid.UUID
	Applied
}

// Commit is one acknowledged step of a pair: its new cursor, what was
// applied, the dead letters it resolved, and the lease it was made under
// ("" for none).
type Commit struct {
	Cursor Cursor
	// KeepCursor leaves the pair's cursor as it is (Cursor is ignored):
	// the commit records applied records only, as the key values a page
	// is about to write (Applied.Key) before the target sees them.
	KeepCursor bool
	Applied    []AppliedRecord
	Resolved   []uuid.UUID
	Lease      string
}

// DeadLetter is a record the target refused for good (a 4xx that will not
// heal), kept with what is needed to retry it.
type DeadLetter struct {
	Pair     string
	ID       uuid.UUID
	Version  int64
	Payload  []byte // the record as JSON (the Web API's form)
	Status   int    // the HTTP status, 0 for a local service
	Code     string // Dataverse's error code
	Message  string
	Attempts int
	First    time.Time
	Last     time.Time
}

// Status is what a pair last reported, for `eventual sync status`.
type Status struct {
	LastCycle time.Time // the end of the last cycle that reached the end of the feed
	LastError string    // the last cycle's failure, "" after a success
	// Lag is the last cycle that reached the end of the feed's duration:
	// with LastCycle, a bound on the age of the oldest change not applied
	// while nothing better is known.
	Lag time.Duration
	// Oldest is the source's modification time of the oldest change read
	// and not applied (the target refused or was down); zero when every
	// change read was applied.
	Oldest time.Time
	// Backlog is how many changes wait on the source, as last counted;
	// -1 when unknown.
	Backlog     int64
	Applied     int64 // records applied since the state was created
	Placeholder int64 // placeholders pending on the target at the last look
	Breaker     string
}
