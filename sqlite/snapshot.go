package sqlite

import (
	"context"
	"sync/atomic"
)

// Snapshots kept between reads. SQLite begins a read transaction for
// every statement run outside one and ends it when the statement is
// reset: it takes the WAL's read lock and the database's shared lock,
// two fcntl calls each way, and finds the snapshot's end in the WAL
// index. For a read of one record by key that is a fifth of the store's
// time. A reader of a writable store therefore keeps its read
// transaction (BEGIN … ROLLBACK) open between the reads it serves, for
// as long as nothing has changed since it began: the writer is the only
// one writing to the database (the writer lock sees to it), so the store
// knows when a snapshot is out of date.
//
// What keeps it right:
//   - seq counts the writer's commits and the checkpoints. The writer
//     adds one before its COMMIT and one after (a failed COMMIT included:
//     it may have committed all the same), and only then reports the
//     writes done; seq is odd while a COMMIT is under way.
//   - A reader notes seq before its snapshot begins (the first read after
//     BEGIN), and keeps the snapshot only while seq is even and has not
//     moved since: then no COMMIT began between the snapshot's beginning
//     and now, so the snapshot is the latest state. A read therefore sees
//     every write acknowledged before it began (read your writes), and a
//     read that begins after another ended never sees older data than it
//     did (a snapshot begun while a COMMIT was under way is never kept),
//     as when every statement took a snapshot of its own.
//   - Idle readers holding an out-of-date snapshot would pin the WAL: a
//     checkpoint cannot copy frames past the oldest snapshot, and the
//     writer cannot restart a WAL a reader still reads. So every commit
//     kicks the releaser, which ends the out-of-date snapshots of the
//     readers that are idle; a checkpoint moves seq on too, since readers
//     that began during one hold WAL read locks that keep the next write
//     from restarting the WAL. A reader in use then ends its own when it
//     is handed back.
//   - A read that fails ends the snapshot (SQLite may have rolled the
//     transaction back itself), so the next read begins a new one.
//
// Read-only stores (tools beside a writer in another process) cannot
// know when the database changes and keep no snapshots; nor do stores on
// systems where Open takes no writer lock (lock_other.go), nor those
// without the checkpointer (Options.CheckpointEvery < 0), whose
// checkpoints SQLite runs inside a COMMIT, before the releaser could let
// go of the frames. A program other than the store that commits to the
// database while it is open (a sqlite3 shell, say) is not seen by a kept
// snapshot until the store's own next commit: the store's writer must be
// the database's only one, as the writer lock has it for eventual's own
// tools.
type snapshots struct {
	seq  atomic.Uint64
	kick chan struct{} // buffered: kicks while the releaser runs fold into one
	// passes counts the releaser's passes over the idle readers (for
	// tests).
	passes atomic.Uint64
	stop   chan struct{}
	done   chan struct{}
}

func newSnapshots() *snapshots {
	return &snapshots{kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// committing is the writer's, just before a COMMIT: seq turns odd.
func (s *snapshots) committing() {
	if s != nil {
		s.seq.Add(1)
	}
}

// committed is the writer's, after a COMMIT however it ended: seq turns
// even again, and the releaser is kicked.
func (s *snapshots) committed() {
	if s == nil {
		return
	}
	s.seq.Add(1)
	s.kickRelease()
}

// checkpointed moves seq on after a checkpoint, keeping it even, and
// kicks the releaser.
func (s *snapshots) checkpointed() {
	if s == nil {
		return
	}
	s.seq.Add(2)
	s.kickRelease()
}

// kickRelease kicks the releaser without waiting for it.
func (s *snapshots) kickRelease() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// current reports whether a snapshot begun at seq is still the latest
// state.
func (s *snapshots) current(seq uint64) bool {
	return seq%2 == 0 && s.seq.Load() == seq
}

// release runs until close, ending the out-of-date snapshots of idle
// readers after each change.
func (s *snapshots) release(readers chan *reader) {
	defer close(s.done)
	for {
		select {
		case <-s.kick:
		case <-s.stop:
			return
		}
		s.releaseIdle(readers)
		s.passes.Add(1)
	}
}

// releaseIdle ends the out-of-date snapshots of the readers idle now,
// each once: those handed back meanwhile are fresh, or end their own
// (handBack). The checkpoints call it too, just before they run: an idle
// snapshot from before the last commit would hold its frames back.
func (s *snapshots) releaseIdle(readers chan *reader) {
	if s == nil {
		return
	}
	for range len(readers) {
		var r *reader
		select {
		case r = <-readers:
		default:
		}
		if r == nil {
			return
		}
		if r.warm && !s.current(r.seq) {
			r.endSnapshot()
		}
		readers <- r
	}
}

// close stops the releaser, waiting for it to hand back the reader it
// holds.
func (s *snapshots) close() {
	if s == nil {
		return
	}
	close(s.stop)
	<-s.done
}

// fresh makes r's transaction hold a snapshot no older than the last
// change: it keeps the one r holds if nothing changed since it began, or
// ends it and begins another. Without snapshots (a read-only store) r
// stays outside a transaction.
func (db *DB) fresh(r *reader) error {
	if db.snaps == nil {
		return nil
	}
	if r.warm && db.snaps.current(r.seq) {
		return nil
	}
	seq := db.snaps.seq.Load()
	r.endSnapshot()
	// BEGIN is instant; with the caller's context the driver would watch
	// it from a goroutine of its own for every read transaction.
	if err := r.control(uncancellable, "BEGIN"); err != nil {
		// A transaction left open by a ROLLBACK that failed: end it and
		// try once more.
		r.control(context.Background(), "ROLLBACK")
		if err := r.control(uncancellable, "BEGIN"); err != nil {
			return err
		}
	}
	r.warm, r.seq = true, seq
	return nil
}

// handBack returns r to the idle readers, first ending its snapshot if a
// commit made it out of date while r was in use: the releaser's pass for
// that commit did not meet r, and an idle store would see no other. A
// commit between that check and r's return kicks the releaser again.
func (db *DB) handBack(r *reader) {
	if db.snaps == nil {
		db.readers <- r
		return
	}
	seq := db.snaps.seq.Load()
	if r.warm && (r.seq != seq || seq%2 != 0) {
		r.endSnapshot()
	}
	db.readers <- r
	if db.snaps.seq.Load() != seq {
		db.snaps.kickRelease()
	}
}

// endSnapshot ends r's read transaction, if it holds one. The ROLLBACK
// runs under no context that could cut it short: a reader handed back
// inside a transaction it does not know of would fail every later BEGIN.
func (r *reader) endSnapshot() {
	if r.warm {
		r.control(context.Background(), "ROLLBACK")
		r.warm = false
	}
}
