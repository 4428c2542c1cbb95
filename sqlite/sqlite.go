package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/sqlstore"
	"github.com/google/uuid"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Synchronous settings.
const (
	SyncNormal = "normal"
	SyncFull   = "full"
)

// DefaultMaxBatch bounds how many writes one group commit takes.
const DefaultMaxBatch = 256

// DefaultBatchWait is how long the writer waits for more writes before it
// runs a batch, while waiting pays (see Options.BatchWait).
const DefaultBatchWait = 25 * time.Microsecond

// Options tune a store.
type Options struct {
	// Synchronous is SyncNormal (default) or SyncFull; see the package
	// documentation for the trade-off.
	Synchronous string
	// MaxBatch bounds the writes in one group commit (DefaultMaxBatch).
	MaxBatch int
	// BatchWait is how long the writer, holding a batch, yields to the
	// goroutines about to queue theirs before it runs it
	// (DefaultBatchWait; negative: never). It waits only while waiting
	// pays: after a batch that already held several writes, or a wait
	// that gained one. A lone writer stops waiting after one wait, so
	// sequential writes pay it once; concurrent writes share more
	// commits (8 HTTP clients: about 15% more upserts per second).
	BatchWait time.Duration
	// OnCommit, if set, is called by the writer after each commit with
	// the writes it committed (the group commit's batch, failed writes
	// left out) and the time from BEGIN to the end of COMMIT. It must
	// return quickly.
	OnCommit func(writes int, took time.Duration)
	// CheckpointEvery is how many commits the writer makes between two
	// kicks of the checkpointer, the goroutine that copies the WAL into
	// the database so that no write waits for it
	// (DefaultCheckpointEvery; negative: no checkpointer, and SQLite
	// checkpoints inside the COMMIT that fills 1000 WAL pages, as it
	// does by default). See checkpoint.go.
	CheckpointEvery int
	// backstopPages overrides walBackstopPages, noAutoCheckpoint turns
	// SQLite's own checkpoint off beside the checkpointer, and
	// onCheckpoint sees each checkpoint (tests).
	backstopPages    int
	noAutoCheckpoint bool
	onCheckpoint     func(byWriter bool, res checkpointResult, err error)
	// Readers is the size of the read connection pool (default: the number
	// of CPUs, at least 2).
	Readers int
	// ReadOnly opens an existing database for tools that only read. The
	// file must exist and hold an eventual database (an eventual_meta
	// table with the instance identity); nothing is created or migrated,
	// and every table and column of the schema must already be there,
	// or Open says which are missing. No writer lock is taken, so a
	// read-only store may run beside the database's writer. Update
	// returns ErrReadOnly.
	ReadOnly bool
	// Now returns the current time, recorded with each deletion for
	// change tracking; nil is time.Now. Give it the clock of the
	// Instance (Instance.Now) so that the purge of expired deletions
	// and the deletions agree.
	Now func() time.Time
}

// DB is an eventual.Store on a SQLite file.
type DB struct {
	path   string
	schema *eventual.Schema
	opts   Options
	meta   eventual.Meta
	texts  sqlstore.Texts // statement texts of hot writes
	// readTexts are those of reads of one row, apart: their shapes follow
	// the $select clients send, which must not fill the writes' cache.
	readTexts sqlstore.Texts
	token     string // the query of a snapshot's change token (tokenQuery)
	// writer is the writer, which its goroutine owns: tests read its
	// counters once the writes they made have returned.
	writer *writer

	write *sql.DB
	read  *sql.DB

	readers chan *reader // idle read connections
	// openReaders is how many read connections were opened.
	openReaders int

	ops     chan *writeOp
	closing chan struct{}
	stopped chan struct{}
	once    sync.Once
	closeMu sync.RWMutex
	closed  bool

	lock *fileLock // the writer lock, held until Close; nil if read-only

	checkpoints *checkpointer // nil if read-only or CheckpointEvery < 0
	snaps       *snapshots    // the readers' kept snapshots; nil where none are kept (snapshot.go)
}

var _ eventual.Store = (*DB)(nil)

// ErrReadOnly is returned by Update on a store opened with
// Options.ReadOnly.
var ErrReadOnly = errors.New("sqlite: the database is open read-only")

// Open opens (creating if needed) the database at path for schema and
// migrates it: new tables and columns are added, alternate-key indexes
// follow the schema. Rows are never dropped. path ":memory:" is not
// supported; use a file in a temporary directory.
//
// Open first takes the writer lock (see the package documentation) and
// returns a *LockedError if another writer holds the database.
//
// With Options.ReadOnly, Open instead opens an existing database for
// reading only and fails if there is none (see Options.ReadOnly).
func Open(ctx context.Context, path string, schema *eventual.Schema, opts Options) (_ *DB, err error) {
	if opts.Synchronous == "" {
		opts.Synchronous = SyncNormal
	}
	if opts.Synchronous != SyncNormal && opts.Synchronous != SyncFull {
		return nil, fmt.Errorf("sqlite: synchronous must be %q or %q, not %q", SyncNormal, SyncFull, opts.Synchronous)
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.BatchWait == 0 {
		opts.BatchWait = DefaultBatchWait
	}
	if opts.Readers <= 0 {
		opts.Readers = max(runtime.NumCPU(), 2)
	}
	if opts.CheckpointEvery == 0 {
		opts.CheckpointEvery = DefaultCheckpointEvery
	}
	if opts.backstopPages <= 0 {
		opts.backstopPages = walBackstopPages
	}
	db := &DB{path: path, schema: schema, opts: opts, token: tokenQuery(schema),
		ops: make(chan *writeOp, opts.MaxBatch), closing: make(chan struct{}), stopped: make(chan struct{})}
	defer func() {
		if err != nil {
			db.abort()
		}
	}()
	if opts.ReadOnly {
		if err := db.openReadOnly(ctx); err != nil {
			return nil, err
		}
		return db, nil
	}

	// The lock comes first: migrating is already writing.
	if db.lock, err = lock(path); err != nil {
		return nil, err
	}
	if db.write, err = sql.Open("sqlite", db.dsn(modeWrite)); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.write.SetMaxOpenConns(1)
	db.write.SetMaxIdleConns(1)
	db.write.SetConnMaxLifetime(0)
	db.write.SetConnMaxIdleTime(0)

	if err := db.migrate(ctx); err != nil {
		return nil, err
	}
	if err := db.startReaders(ctx, modeRead); err != nil {
		return nil, err
	}
	if locking && opts.CheckpointEvery > 0 {
		db.snaps = newSnapshots() // see snapshot.go for when not
	}
	if opts.CheckpointEvery > 0 {
		release := func() { db.snaps.releaseIdle(db.readers) }
		if db.checkpoints, err = openCheckpointer(db.dsn(modeCheckpoint), opts.backstopPages, opts.onCheckpoint, db.snaps.checkpointed, release); err != nil {
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
	}
	w, err := newWriter(ctx, db)
	if err != nil {
		return nil, err
	}
	if db.checkpoints != nil {
		go db.checkpoints.run()
	}
	if db.snaps != nil {
		go db.snaps.release(db.readers)
	}
	db.writer = w
	go w.run()
	return db, nil
}

// Connection modes of dsn.
const (
	modeWrite      = iota // the writer of a writable store
	modeRead              // a reader of a writable store
	modeReadOnly          // a reader of a read-only store
	modeCheckpoint        // the checkpointer's connection (checkpoint.go)
)

// Page caches. SQLite gives each connection a private cache of 2 MB by
// default: on a table of a million accounts the B-trees' inner pages alone
// fill it, so every read by key and every upsert fetched its leaves from
// the operating system with a pread apiece (retrieve by key cost 20 % more
// CPU there than on an empty table). The writer gets writerCacheKiB, and
// the readers share readersCacheKiB, each at least SQLite's default, so
// that the memory stays bounded whatever the number of readers (a reader's
// pages are copies of the same file, not a shared cache). The checkpointer
// copies pages from the WAL and keeps SQLite's default, and so do the
// readers of a read-only store (tools; and the pragma would read the
// file's header before Open can say it is no eventual database).
const (
	writerCacheKiB  = 16 << 10
	readersCacheKiB = 32 << 10
	sqliteCacheKiB  = 2000 // SQLite's default, cache_size = -2000
)

// cacheKiB is the page cache of a connection of mode, in KiB (0: SQLite's
// default).
func (db *DB) cacheKiB(mode int) int {
	switch mode {
	case modeWrite:
		return writerCacheKiB
	case modeRead:
		return max(sqliteCacheKiB, readersCacheKiB/max(1, db.opts.Readers))
	}
	return 0
}

// dsn returns the driver's data source name for a connection of mode.
func (db *DB) dsn(mode int) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	if mode == modeReadOnly {
		// mode=ro: SQLite neither creates the file nor writes to it. The
		// journal mode is the database's own (WAL, set by the writer that
		// created it); setting it would be a write.
		q.Add("mode", "ro")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous("+db.opts.Synchronous+")")
	}
	if mode == modeWrite && db.opts.CheckpointEvery > 0 && db.opts.noAutoCheckpoint {
		q.Add("_pragma", "wal_autocheckpoint(0)")
	} else if mode == modeWrite && db.opts.CheckpointEvery > 0 {
		// The checkpointer copies the WAL and has the writer bound it;
		// SQLite's own checkpoint is the last resort (checkpoint.go).
		q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", 2*db.opts.backstopPages))
		q.Add("_pragma", fmt.Sprintf("journal_size_limit(%d)", 2*db.opts.backstopPages*4096))
	}
	if kib := db.cacheKiB(mode); kib > 0 {
		q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", kib))
	}
	q.Add("_pragma", "foreign_keys(0)")
	if mode == modeRead || mode == modeReadOnly {
		q.Add("_pragma", "query_only(1)")
	}
	q.Add("_txlock", "immediate")
	return "file:" + uriPath(db.path) + "?" + q.Encode()
}

// startReaders opens the pool of read connections.
func (db *DB) startReaders(ctx context.Context, mode int) error {
	var err error
	if db.read, err = sql.Open("sqlite", db.dsn(mode)); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", db.path, err)
	}
	db.read.SetMaxOpenConns(db.opts.Readers)
	db.read.SetMaxIdleConns(db.opts.Readers)
	db.read.SetConnMaxIdleTime(0)
	db.read.SetConnMaxLifetime(0)
	db.readers = make(chan *reader, db.opts.Readers)
	for range db.opts.Readers {
		conn, err := db.read.Conn(ctx)
		if err != nil {
			return fmt.Errorf("sqlite: open reader: %w", err)
		}
		db.readers <- &reader{conn: conn, stmts: map[string]*sql.Stmt{}, token: db.token}
		db.openReaders++
	}
	return nil
}

// abort closes what a failed Open opened; the writer goroutine has not
// started.
func (db *DB) abort() {
	if db.readers != nil {
		db.closeReaders()
	}
	if db.read != nil {
		db.read.Close()
	}
	if db.checkpoints != nil {
		db.checkpoints.db.Close() // not started yet
	}
	if db.write != nil {
		db.write.Close()
	}
	db.lock.release()
}

// uriPath escapes a file path for a SQLite URI ("file:" + path + "?" +
// parameters): unescaped, a '?' or '#' in the path would end the file
// name there and SQLite would open (and create) a different file.
func uriPath(path string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
}

// Path returns the database file path.
func (db *DB) Path() string { return db.path }

// Schema returns the schema the store serves.
func (db *DB) Schema() *eventual.Schema { return db.schema }

// Meta returns the instance identity stored in the database.
func (db *DB) Meta() eventual.Meta { return db.meta }

// Close stops accepting writes, waits for the writes queued so far, checkpoints
// the WAL, closes the database and releases the writer lock.
func (db *DB) Close() error {
	var err error
	db.once.Do(func() {
		db.closeMu.Lock()
		db.closed = true
		close(db.closing)
		db.closeMu.Unlock()
		if db.write == nil {
			// Read-only: no writer, nothing to checkpoint.
			db.closeReaders()
			err = db.read.Close()
			return
		}
		<-db.stopped
		if db.checkpoints != nil {
			if cerr := db.checkpoints.close(); cerr != nil {
				err = fmt.Errorf("sqlite: close checkpointer: %w", cerr)
			}
		}
		db.snaps.close()
		db.closeReaders()
		if _, cerr := db.write.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); cerr != nil && err == nil {
			err = fmt.Errorf("sqlite: checkpoint: %w", cerr)
		}
		if cerr := db.read.Close(); cerr != nil && err == nil {
			err = cerr
		}
		if cerr := db.write.Close(); cerr != nil && err == nil {
			err = cerr
		}
		// Only now that the database is closed may another writer open it.
		if cerr := db.lock.release(); cerr != nil && err == nil {
			err = cerr
		}
	})
	return err
}

// Update runs fn in a write transaction shared with other concurrent
// writes (see the package documentation). fn runs on the writer goroutine,
// inside its own savepoint. On a read-only store it returns ErrReadOnly.
func (db *DB) Update(ctx context.Context, fn func(eventual.Tx) error) error {
	db.closeMu.RLock()
	if db.closed {
		db.closeMu.RUnlock()
		return eventual.ErrClosed
	}
	if db.write == nil {
		db.closeMu.RUnlock()
		return ErrReadOnly
	}
	op := newWriteOp(ctx, fn)
	select {
	case db.ops <- op:
		db.closeMu.RUnlock()
	case <-ctx.Done():
		db.closeMu.RUnlock()
		op.free()
		return ctx.Err()
	}
	// Once queued, the write runs (or is skipped because its context ended)
	// and reports back; waiting for that report keeps the result honest.
	err := <-op.done
	op.free()
	return err
}

// View runs fn in a read-only transaction on one snapshot. After Close it
// returns eventual.ErrClosed.
func (db *DB) View(ctx context.Context, fn func(eventual.ReadTx) error) error {
	r, err := db.takeReader(ctx)
	if err != nil {
		return err
	}
	defer db.handBack(r)
	if err := ctx.Err(); err != nil {
		return err
	}
	if db.snaps == nil {
		return db.viewAlone(r, fn)
	}
	if err := db.fresh(r); err != nil {
		return fmt.Errorf("sqlite: begin read: %w", err)
	}
	// The snapshot stays for the reads after this one (snapshot.go),
	// unless fn failed or panicked.
	ok := false
	defer func() {
		if !ok {
			r.endSnapshot()
		}
	}()
	if err := fn(&sqlstore.Tx{D: dialect{}, Q: r, Schema: db.schema, Texts: &db.readTexts}); err != nil {
		return err
	}
	ok = true
	return nil
}

// viewAlone runs fn in a transaction of its own on r, for a store that
// keeps no snapshots.
func (db *DB) viewAlone(r *reader, fn func(eventual.ReadTx) error) error {
	// The transaction ends with a ROLLBACK that no context cuts short,
	// even when BEGIN reports the context's end: it may have run all the
	// same, and a reader handed back inside a transaction fails every
	// later read that draws it.
	defer r.control(context.Background(), "ROLLBACK")
	// BEGIN is instant; with the caller's context the driver would watch
	// it from a goroutine of its own for every read transaction.
	if err := r.control(uncancellable, "BEGIN"); err != nil {
		return fmt.Errorf("sqlite: begin read: %w", err)
	}
	return fn(&sqlstore.Tx{D: dialect{}, Q: r, Schema: db.schema, Texts: &db.readTexts})
}

// takeReader waits for a free read connection; the caller hands it back
// to db.readers.
func (db *DB) takeReader(ctx context.Context) (*reader, error) {
	select {
	case r := <-db.readers:
		return r, nil
	case <-db.closing:
		// Close takes every reader for good; waiting would never end.
		return nil, eventual.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// ViewStatement implements eventual.StatementViewer: while fn runs one
// statement, it runs on a read connection in the snapshot the reader
// keeps (snapshot.go), or on a read-only store outside BEGIN and
// ROLLBACK (SQLite reads one snapshot per statement); a second statement
// sends fn to View.
func (db *DB) ViewStatement(ctx context.Context, fn func(eventual.ReadTx) error) error {
	return sqlstore.ViewStatement(ctx, fn, db.viewOne, db.View)
}

// viewOne runs fn on a reader, in its kept snapshot or (read-only)
// outside a transaction, handing the reader back however fn ends (a
// panic included); it reports whether fn ran a second statement.
func (db *DB) viewOne(ctx context.Context, fn func(eventual.ReadTx) error) (again bool, err error) {
	r, err := db.takeReader(ctx)
	if err != nil {
		return false, err
	}
	defer db.handBack(r)
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := db.fresh(r); err != nil {
		return false, fmt.Errorf("sqlite: begin read: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			r.endSnapshot()
		}
	}()
	q := &oneRead{Single: sqlstore.Single{Q: r, Read: true}, r: r}
	err = fn(&sqlstore.Tx{D: dialect{}, Q: q, Schema: db.schema, Texts: &db.readTexts})
	ok = err == nil
	return q.Again, err
}

// oneRead is the Querier of a ViewStatement: the reader's first statement,
// with the reader's change-token query.
type oneRead struct {
	sqlstore.Single
	r *reader
}

func (q *oneRead) tokenQuery() string { return q.r.tokenQuery() }

var _ eventual.StatementViewer = (*DB)(nil)

// closeReaders closes the read connections, waiting for those in use.
func (db *DB) closeReaders() {
	for range db.openReaders {
		r := <-db.readers
		// A snapshot left open would keep the last checkpoint from
		// truncating the WAL.
		r.endSnapshot()
		for _, s := range r.stmts {
			s.Close()
		}
		r.rowStmts.close(r.conn)
		r.conn.Close()
	}
}

// reader is a read connection with its own prepared statements. Each View
// takes one for its whole transaction, so preparing a statement never
// needs a second connection.
type reader struct {
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
	// rowStmts are ReadRow's, on the driver's connection under conn.
	rowStmts driverStmts
	token    string // the change token's query
	// warm says the reader holds a read transaction, begun when the
	// store's change count was seq (snapshot.go).
	warm bool
	seq  uint64
}

// ReadRow implements sqlstore.RowReader (see driverStmts).
func (r *reader) ReadRow(text string, args []any, dest []any) (bool, error) {
	return r.rowStmts.readRow(r.conn, text, args, dest)
}

func (r *reader) tokenQuery() string { return r.token }

// QueryContext runs a query on a cached prepared statement.
func (r *reader) QueryContext(ctx context.Context, text string, args ...any) (*sql.Rows, error) {
	s, err := cachedStmt(ctx, r.conn, r.stmts, text)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

// control runs BEGIN or ROLLBACK on a statement prepared once: parsing
// them for every read transaction costs as much as a small query.
func (r *reader) control(ctx context.Context, text string) error {
	s, ok := r.stmts[text]
	if !ok {
		var err error
		if s, err = r.conn.PrepareContext(ctx, text); err != nil {
			return err
		}
		r.stmts[text] = s
	}
	_, err := s.ExecContext(ctx)
	return err
}

// ExecContext refuses: readers do not write.
func (r *reader) ExecContext(ctx context.Context, text string, args ...any) (sql.Result, error) {
	return nil, errors.New("sqlite: write in a read-only transaction")
}

// maxCachedStatements bounds each connection's statement cache; query
// shapes vary with $filter, so the cache must not grow without bound.
const maxCachedStatements = 512

// migrate creates and alters the tables the schema needs, and stores the
// instance identity on first use.
func (db *DB) migrate(ctx context.Context) error {
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: open %s: %w", db.path, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", db.path, err)
	}
	if err := migrateSchema(ctx, conn, db.schema); err != nil {
		conn.ExecContext(context.Background(), "ROLLBACK")
		return fmt.Errorf("sqlite: migrate %s: %w", db.path, err)
	}
	if err := db.loadMeta(ctx, conn); err != nil {
		conn.ExecContext(context.Background(), "ROLLBACK")
		return fmt.Errorf("sqlite: migrate %s: %w", db.path, err)
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("sqlite: migrate %s: %w", db.path, err)
	}
	return nil
}

func (db *DB) loadMeta(ctx context.Context, conn *sql.Conn) error {
	get := func(key string) (uuid.UUID, error) {
		var v string
		err := conn.QueryRowContext(ctx, "SELECT value FROM eventual_meta WHERE key = ?", key).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) {
			id := uuid.New()
			_, err = conn.ExecContext(ctx, "INSERT INTO eventual_meta (key, value) VALUES (?, ?)", key, id.String())
			return id, err
		}
		if err != nil {
			return uuid.Nil, err
		}
		return uuid.Parse(v)
	}
	return sqlstore.ReadMeta(&db.meta, get)
}

// now is the time of a write transaction beginning: Options.Now, or
// time.Now.
func (db *DB) now() time.Time {
	if db.opts.Now != nil {
		return db.opts.Now()
	}
	return time.Now()
}
