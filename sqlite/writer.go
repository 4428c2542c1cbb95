package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/sqlstore"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// writeOp is one queued Update. The writer reports its result on done
// once and touches it no more, so Update hands it back to writeOps
// after that report.
type writeOp struct {
	ctx  context.Context
	fn   func(eventual.Tx) error
	done chan error // buffered: the writer never waits on a reader
}

// writeOps keeps the writeOps of finished writes with their channels, so
// that a write allocates neither.
var writeOps = sync.Pool{New: func() any { return &writeOp{done: make(chan error, 1)} }}

func newWriteOp(ctx context.Context, fn func(eventual.Tx) error) *writeOp {
	op := writeOps.Get().(*writeOp)
	op.ctx, op.fn = ctx, fn
	return op
}

// free hands op back once its result is read (or it was never queued).
func (op *writeOp) free() {
	op.ctx, op.fn = nil, nil
	writeOps.Put(op)
}

// writer owns the write connection. It takes the queued writes in
// batches: every write of a batch runs in its own savepoint of one
// transaction, and the batch commits once (group commit).
type writer struct {
	db    *DB
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
	// rowStmts are ReadRow's and WriteRow's, on the driver's connection
	// under conn.
	rowStmts driverStmts
	// puts guesses whether a Put inserts (see sqlstore.PutHints).
	puts sqlstore.PutHints
	// writes counts what the running write's statements changed
	// (runBatch); redone counts the batches run again in savepoints.
	writes opWrites
	redone int
	// rolledBack is set by SQLite's rollback hook: the transaction
	// ended, by a ROLLBACK or by SQLite itself (a statement, even a
	// SELECT, failing with SQLITE_NOMEM, SQLITE_IOERR or SQLITE_FULL).
	rolledBack bool
	// tx is the Tx of the write running (runOp); version1 is
	// nextVersion, bound once.
	tx       sqlstore.Tx
	version1 func() (string, []any)

	version int64 // highest row version handed out and committed
	next    int64 // next version to hand out in the current batch
	deleted bool  // the batch ran a DELETE: the version floor is saved

	// pays is how often a wait for more writes gained one lately, out of
	// payScale (a moving average over about 8 waits; see gather); skipped
	// counts the batches since the last wait.
	pays, skipped int
	// waitHook, if set, runs at each turn of a wait (tests queue writes
	// from it).
	waitHook func()
	// waits and gained count the waits and the writes they gathered.
	waits, gained int
	// commits counts the commits since the checkpointer's last kick (or
	// the writer's last checkpoint); checkpointRetry is how many must
	// pass before the writer tries its checkpoint again.
	commits, checkpointRetry int
}

func (w *writer) tokenQuery() string { return w.db.token }

func newWriter(ctx context.Context, db *DB) (*writer, error) {
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: writer: %w", err)
	}
	v, err := lastVersion(ctx, conn)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("sqlite: read version: %w", err)
	}
	w := &writer{db: db, conn: conn, stmts: map[string]*sql.Stmt{}, version: v, pays: payScale}
	w.version1 = w.nextVersion
	// The hook runs on the writer's goroutine, inside the statement that
	// ends the transaction.
	if err := conn.Raw(func(dc any) error {
		h, ok := dc.(interface{ RegisterRollbackHook(sqlite.RollbackHookFn) })
		if !ok {
			return fmt.Errorf("the driver's connection %T has no rollback hook", dc)
		}
		h.RegisterRollbackHook(func() { w.rolledBack = true })
		return nil
	}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("sqlite: writer: %w", err)
	}
	return w, nil
}

func (w *writer) run() {
	defer close(w.db.stopped)
	defer func() {
		// The driver's statements first: a connection closed with
		// statements open lingers until they are.
		w.closeStmts()
		w.conn.Close()
	}()
	batch := make([]*writeOp, 0, w.db.opts.MaxBatch)
	for {
		batch = batch[:0]
		select {
		case op := <-w.db.ops:
			batch = append(batch, op)
		case <-w.db.closing:
			// Drain what was queued before Close.
			for {
				select {
				case op := <-w.db.ops:
					w.commit([]*writeOp{op})
				default:
					return
				}
			}
		}
		batch = w.gather(batch)
		w.commit(batch)
	}
}

// maxWaitTurns bounds a wait's turns whatever the clock says (under
// testing/synctest the clock stands still while the writer runs).
const maxWaitTurns = 1000

// The writer waits for more writes while a wait gains one at least
// payEnough times in payScale lately (and after a batch that held
// several writes anyway); otherwise it tries one wait in probeEvery
// batches, to notice when writers come.
const (
	payScale   = 1024
	payEnough  = payScale / 4
	probeEvery = 32
)

// gather adds the queued writes to batch, up to MaxBatch. Then, if
// waiting pays (the batch already held several writes, or waits lately
// gained writes; see payEnough), it yields for up to BatchWait to the
// goroutines about to queue a write (an HTTP request decoded a moment
// after this one) and takes theirs too: one commit then serves more
// writes. It yields rather than sleeps: a timer shorter than a
// millisecond may fire late, and a yield runs the very goroutines whose
// writes it waits for. With 8 HTTP clients about 7 waits in 10 gain
// writes; a lone sequential writer's never do, and it soon waits only
// once in probeEvery batches.
func (w *writer) gather(batch []*writeOp) []*writeOp {
	drain := func() {
		for len(batch) < cap(batch) {
			select {
			case op := <-w.db.ops:
				batch = append(batch, op)
			default:
				return
			}
		}
	}
	drain()
	wait := w.db.opts.BatchWait
	if wait <= 0 || len(batch) >= cap(batch) {
		return batch
	}
	if w.skipped++; len(batch) < 2 && w.pays < payEnough && w.skipped < probeEvery {
		return batch
	}
	w.skipped = 0
	before := len(batch)
	deadline := time.Now().Add(wait)
	for turn := 0; turn < maxWaitTurns && len(batch) < cap(batch) && time.Now().Before(deadline); turn++ {
		if w.waitHook != nil {
			w.waitHook()
		}
		runtime.Gosched()
		drain()
	}
	w.waits++
	w.gained += len(batch) - before
	if len(batch) > before {
		w.pays += (payScale - w.pays) / 8
	} else {
		w.pays -= w.pays / 8
	}
	return batch
}

func (w *writer) closeStmts() {
	w.rowStmts.close(w.conn)
	for _, s := range w.stmts {
		s.Close()
	}
}

// commit runs a batch in one transaction and reports each write's result.
// The writes run one after another without savepoints first (runBatch):
// a write that succeeds needs none, and neither does one that fails
// having changed nothing. Only when a write fails after its statements
// changed rows does the batch roll back and run again, each write in a
// savepoint of its own, so that the failed one's changes go alone (a
// write may run more than once, as eventual.Store says).
func (w *writer) commit(batch []*writeOp) {
	bg := context.Background()
	results := make([]error, len(batch))
	fail := func(err error) {
		for i, op := range batch {
			if results[i] == nil {
				op.done <- err
			} else {
				op.done <- results[i]
			}
		}
	}
	began := time.Now()
	ran, err := w.runBatch(batch, results, false)
	if err == errRedo {
		w.redone++
		clear(results)
		ran, err = w.runBatch(batch, results, true)
	}
	if err != nil {
		fail(err) // runBatch rolled back
		return
	}
	if ran == 0 {
		w.control("ROLLBACK")
		for i, op := range batch {
			op.done <- results[i]
		}
		return
	}
	if w.deleted {
		// A deleted record may have held the highest version: the floor
		// keeps it (see version.go).
		if err := saveVersion(bg, w, w.next); err != nil {
			w.control("ROLLBACK")
			fail(fmt.Errorf("sqlite: save version: %w", err))
			return
		}
	}
	w.db.snaps.committing()
	if err := w.control("COMMIT"); err != nil {
		w.control("ROLLBACK")
		// It may have committed all the same.
		w.db.snaps.committed()
		fail(fmt.Errorf("sqlite: commit: %w", err))
		return
	}
	w.version = w.next
	if c := w.db.checkpoints; c != nil {
		c.afterCommit(w)
	}
	// Before the writes are reported done: a read that begins after that
	// takes a new snapshot (snapshot.go).
	w.db.snaps.committed()
	if w.db.opts.OnCommit != nil {
		w.db.opts.OnCommit(ran, time.Since(began))
	}
	for i, op := range batch {
		op.done <- results[i]
	}
}

// errRedo tells commit that a write failed after changing rows outside a
// savepoint: runBatch rolled the batch back, to run again in savepoints.
var errRedo = errors.New("sqlite: run the batch again in savepoints")

// runBatch begins the batch's transaction and runs its writes, storing
// each one's error in results; it reports how many succeeded. A write
// under which SQLite rolled the transaction back (rolledBack) ends the
// attempt: without savepoints the batch runs again with them; with, it
// fails. With
// savepoints each write runs in one, and a failed write's changes are
// rolled back to it. Without, a write that fails having changed rows
// (see opWrites) makes runBatch roll back and return errRedo, unless it
// is the batch's only write: its transaction then rolls back with it.
// Any other error has rolled the transaction back too.
func (w *writer) runBatch(batch []*writeOp, results []error, savepoints bool) (ran int, err error) {
	if err := w.control("BEGIN IMMEDIATE"); err != nil {
		return 0, fmt.Errorf("sqlite: begin: %w", err)
	}
	w.next = w.version
	w.deleted = false
	w.rolledBack = false
	for i, op := range batch {
		if err := op.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if savepoints {
			if err := w.control("SAVEPOINT w"); err != nil {
				results[i] = fmt.Errorf("sqlite: savepoint: %w", err)
				continue
			}
		}
		mark := w.next
		w.writes = opWrites{}
		err := w.runOp(op)
		if w.rolledBack {
			// SQLite ended the transaction under the write: nothing of
			// the batch is left, and the connection commits each later
			// statement on its own.
			w.control("ROLLBACK")
			if !savepoints && len(batch) > 1 {
				return 0, errRedo
			}
			if err == nil {
				err = errors.New("sqlite: the transaction was rolled back under the write")
			}
			results[i] = err
			return 0, fmt.Errorf("sqlite: another write of the batch ended its transaction: %w", err)
		}
		if err != nil {
			w.next = mark
			results[i] = err
			if savepoints {
				if rerr := w.control("ROLLBACK TO w"); rerr != nil {
					// The transaction is unusable: fail the whole batch.
					w.control("ROLLBACK")
					return 0, fmt.Errorf("sqlite: rollback to savepoint: %w", rerr)
				}
			} else if len(batch) > 1 && !w.writes.undone() {
				w.control("ROLLBACK")
				return 0, errRedo
			}
		} else {
			ran++
		}
		if savepoints {
			if err := w.control("RELEASE w"); err != nil {
				w.control("ROLLBACK")
				return 0, fmt.Errorf("sqlite: release savepoint: %w", err)
			}
		}
	}
	return ran, nil
}

// opWrites counts the statements of the running write that may have
// changed rows (any but a SELECT): those that succeeded, and whether one
// failed otherwise than on a constraint. SQLite undoes a statement that
// fails on a constraint (and leaves the transaction open); another error
// may leave it half done, or roll the transaction back.
type opWrites struct {
	ok    int
	wrong bool
}

// undone reports whether the write's failure left nothing to undo.
func (o opWrites) undone() bool { return o.ok == 0 && !o.wrong }

// wrote notes a statement of the running write that ended with err.
func (w *writer) wrote(text string, err error) {
	if isSelect(text) {
		return
	}
	switch {
	case err == nil:
		w.writes.ok++
	case !isConstraint(err):
		w.writes.wrong = true
	}
}

// isConstraint reports whether err is SQLite's failure of a constraint.
func isConstraint(err error) bool {
	se, ok := errors.AsType[*sqlite.Error](err)
	return ok && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}

// isSelect reports whether text is a SELECT, which changes no row.
func isSelect(text string) bool {
	text = strings.TrimLeft(text, " \t\n")
	return len(text) >= 6 && strings.EqualFold(text[:6], "SELECT")
}

// runOp runs one write, turning a panic into an error so that one bad
// write cannot take the writer down.
func (w *writer) runOp(op *writeOp) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("sqlite: write panicked: %v", r)
		}
	}()
	// One Tx serves every write in turn: a write must not keep its Tx
	// past its fn (the eventual.Store contract ends it there).
	w.tx = sqlstore.Tx{D: dialect{}, Q: w, Schema: w.db.schema, Version: w.version1, Now: w.db.now(), Texts: &w.db.texts, Puts: &w.puts}
	return op.fn(&w.tx)
}

func (w *writer) stmt(ctx context.Context, text string) (*sql.Stmt, error) {
	return cachedStmt(ctx, w.conn, w.stmts, text)
}

// cachedStmt returns the statement of text prepared on conn, from stmts or
// prepared now and kept there; a full cache first closes and drops one
// statement.
func cachedStmt(ctx context.Context, conn *sql.Conn, stmts map[string]*sql.Stmt, text string) (*sql.Stmt, error) {
	if s, ok := stmts[text]; ok {
		return s, nil
	}
	s, err := conn.PrepareContext(ctx, text)
	if err != nil {
		return nil, err
	}
	if len(stmts) >= maxCachedStatements {
		for k, old := range stmts {
			old.Close()
			delete(stmts, k)
			break
		}
	}
	stmts[text] = s
	return s, nil
}

// QueryContext runs a query on a cached prepared statement. A write's
// statements are not cut short by its context (the writer checks it
// before the write starts): the driver would otherwise watch the context
// from a goroutine of its own for every statement, on the one goroutine
// every write waits for.
func (w *writer) QueryContext(_ context.Context, text string, args ...any) (*sql.Rows, error) {
	ctx := uncancellable
	w.sawDelete(text)
	// A write's rows may fail as they are read: counted as a change.
	w.wrote(text, nil)
	s, err := w.stmt(ctx, text)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

// ReadRow implements sqlstore.RowReader (see driverStmts), as
// QueryContext does.
func (w *writer) ReadRow(text string, args []any, dest []any) (bool, error) {
	w.sawDelete(text)
	found, err := w.rowStmts.readRow(w.conn, text, args, dest)
	w.wrote(text, err)
	return found, err
}

// control runs a statement of the writer's transactions (BEGIN, COMMIT,
// ROLLBACK, a savepoint's) on the driver directly, as WriteRow does:
// database/sql's statement would cost more than some of them.
func (w *writer) control(text string) error {
	_, err := w.rowStmts.writeRow(w.conn, text, nil)
	return err
}

// WriteRow implements sqlstore.RowWriter (see driverStmts), as
// ExecContext does.
func (w *writer) WriteRow(text string, args []any) (int64, error) {
	w.sawDelete(text)
	n, err := w.rowStmts.writeRow(w.conn, text, args)
	w.wrote(text, err)
	return n, err
}

// ExecContext runs a statement on a cached prepared statement, as
// QueryContext does.
func (w *writer) ExecContext(_ context.Context, text string, args ...any) (sql.Result, error) {
	ctx := uncancellable
	w.sawDelete(text)
	s, err := w.stmt(ctx, text)
	if err != nil {
		w.wrote(text, err)
		return nil, err
	}
	res, err := s.ExecContext(ctx, args...)
	w.wrote(text, err)
	return res, err
}

// uncancellable is the context the writer's statements run under: the
// driver needs no values from the caller's, and context.WithoutCancel
// would cost an allocation per statement.
var uncancellable = context.Background()

// nextVersion hands out the next row version as a statement parameter.
func (w *writer) nextVersion() (string, []any) {
	w.next++
	return "?", []any{w.next}
}

// sawDelete notes a DELETE statement of the batch.
func (w *writer) sawDelete(text string) {
	if !w.deleted && len(text) >= 6 && strings.EqualFold(text[:6], "DELETE") {
		w.deleted = true
	}
}
