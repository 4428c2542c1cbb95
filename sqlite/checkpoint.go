package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
)

// Checkpoints. SQLite's automatic checkpoint runs inside the COMMIT
// that takes the WAL past 1000 pages: the writer copies the WAL into the
// database and waits for two fsyncs, and every queued write waits with
// it. That is most of the write tail (p99 at 8 HTTP clients: 5.5-6 ms
// with it, 2.7-4.7 ms with no checkpoints at all).
//
// The checkpointer copies the WAL instead, on a connection of its own, in
// PASSIVE mode, which blocks neither the readers nor the writer; the
// writer kicks it every CheckpointEvery commits.
//
// A passive checkpoint does not restart the WAL. SQLite starts the WAL
// from its beginning again only at a write transaction that finds every
// frame copied, and under writes without a pause a checkpoint never
// finds the writer idle at its end: the WAL would grow without end. So
// once the checkpointer finds the WAL at walBackstopPages (and some
// commit ran while it copied: otherwise the next write restarts the WAL
// anyway), it stops being kicked and the writer, after its next commit,
// checkpoints itself (restartDue): nothing writes meanwhile, every frame
// gets copied, and the next write restarts the WAL. That checkpoint
// finds all but the last frames copied already, so the stall it causes
// is its fsyncs and a short copy whatever the writes touched, and it
// comes about a quarter as often as SQLite's checkpoint at 1000 pages
// would. SQLite's own automatic checkpoint stays, at twice the backstop,
// in case the checkpointer fails, and journal_size_limit cuts the WAL
// file back to that size when it restarts.
//
// What bounds the WAL, then, is the backstop plus what is written while
// a checkpoint runs: under steady single-record writes it peaks near
// 4000-8000 pages (16-32 MB). A slow disk (a checkpoint's fsyncs taking
// seconds) or a long read transaction, which pins every frame written
// after it began, holds it longer, as it would hold SQLite's own
// checkpoint.
//
// Checkpoints change no durability: a frame is in the WAL (and fsynced
// there with Synchronous "full") before its commit returns, and a
// checkpoint cut short by a crash is finished by the next one.

// DefaultCheckpointEvery is how many commits the writer makes between two
// kicks of the checkpointer: 500 to 1500 WAL pages of single-record writes
// (7 to 25 pages per group commit), about SQLite's own checkpoint size.
const DefaultCheckpointEvery = 64

// walBackstopPages is the size (in pages) at which the writer checkpoints
// the WAL itself, the bound of the WAL when the checkpointer cannot keep
// it short: 16 MB of 4 KB pages.
const walBackstopPages = 4000

// checkpointer runs passive checkpoints on a connection of its own when
// the writer kicks it.
type checkpointer struct {
	db   *sql.DB
	kick chan struct{} // buffered: kicks while one runs fold into one
	stop chan struct{}
	done chan struct{}
	once sync.Once

	// backstop is the WAL size (pages) at which the writer is to
	// checkpoint itself; restartDue says it is.
	backstop   int
	restartDue atomic.Bool
	// commits counts the writer's commits, so that a checkpoint knows
	// whether any ran while it copied.
	commits atomic.Int64

	// onCheckpoint, if set, is called after each checkpoint with what
	// SQLite reported, and whether the writer ran it (Options.onCheckpoint).
	onCheckpoint func(byWriter bool, res checkpointResult, err error)
	// changed is called after each of the checkpointer's checkpoints, so
	// that idle readers let go of the WAL (snapshot.go); release before
	// each checkpoint, the writer's included, ends the idle readers'
	// snapshots from before the last commit, which would hold its frames
	// back.
	changed, release func()
}

// checkpointResult is the row of PRAGMA wal_checkpoint.
type checkpointResult struct {
	Busy         bool // another checkpoint held the lock
	Frames       int  // frames in the WAL
	Checkpointed int  // frames copied into the database so far
}

// openCheckpointer opens the checkpointer's connection; run starts it.
func openCheckpointer(dsn string, backstop int, onCheckpoint func(bool, checkpointResult, error), changed, release func()) (*checkpointer, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return &checkpointer{db: db, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		backstop: backstop, onCheckpoint: onCheckpoint, changed: changed, release: release}, nil
}

// run checkpoints after each kick until close.
func (c *checkpointer) run() {
	defer close(c.done)
	for {
		select {
		case <-c.kick:
		case <-c.stop:
			return
		}
		// A failed checkpoint loses nothing: the frames stay in the WAL,
		// and the next kick or the writer's backstop copies them.
		before := c.commits.Load()
		if c.release != nil {
			c.release()
		}
		res, err := checkpoint(context.Background(), c.db, "PASSIVE")
		if c.changed != nil {
			c.changed()
		}
		// A WAL copied whole with no commit since is restarted by the
		// next write; only one that took commits meanwhile needs the
		// writer.
		idle := c.commits.Load() == before && res.Checkpointed == res.Frames
		if err == nil && !res.Busy && res.Frames >= c.backstop && !idle {
			c.restartDue.Store(true)
			// A kick queued meanwhile would only contend with the
			// writer's checkpoint.
			select {
			case <-c.kick:
			default:
			}
		}
		if c.onCheckpoint != nil {
			c.onCheckpoint(false, res, err)
		}
	}
}

// request kicks the checkpointer without waiting for it.
func (c *checkpointer) request() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// close stops the checkpointer, waiting for a checkpoint under way, and
// closes its connection.
func (c *checkpointer) close() error {
	c.once.Do(func() { close(c.stop) })
	<-c.done
	return c.db.Close()
}

// afterCommit is the writer's part, after each commit: it kicks the
// checkpointer every CheckpointEvery commits or, once the WAL has
// reached the backstop, checkpoints on the writer's connection at once,
// until one copies every frame. A reader still on an older snapshot can
// hold some back; the writer then tries again a kick's interval later,
// not at every commit.
func (c *checkpointer) afterCommit(w *writer) {
	c.commits.Add(1)
	w.commits++
	if !c.restartDue.Load() || w.commits < w.checkpointRetry {
		if w.commits >= w.db.opts.CheckpointEvery {
			w.commits = 0
			if !c.restartDue.Load() {
				c.request()
			}
		}
		return
	}
	w.commits, w.checkpointRetry = 0, 0
	if c.release != nil {
		c.release() // the COMMIT's count is odd yet: every idle snapshot predates it
	}
	res, err := checkpoint(context.Background(), w.conn, "PASSIVE")
	switch {
	case err == nil && !res.Busy && res.Checkpointed == res.Frames:
		c.restartDue.Store(false)
	case err == nil && !res.Busy:
		w.checkpointRetry = w.db.opts.CheckpointEvery // a reader holds frames back
	}
	if c.onCheckpoint != nil {
		c.onCheckpoint(true, res, err)
	}
}

// queryRower is a *sql.DB or a *sql.Conn.
type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// checkpoint runs PRAGMA wal_checkpoint(mode) on db.
func checkpoint(ctx context.Context, db queryRower, mode string) (checkpointResult, error) {
	var res checkpointResult
	var busy int
	if err := db.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &res.Frames, &res.Checkpointed); err != nil {
		return res, fmt.Errorf("sqlite: checkpoint: %w", err)
	}
	res.Busy = busy != 0
	return res, nil
}
