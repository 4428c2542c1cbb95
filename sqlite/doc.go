// Package sqlite is the embedded store of eventual: an eventual.Store on a
// SQLite database file (modernc.org/sqlite, no cgo), one SQL table per
// Dataverse table, alternate keys as unique indexes.
//
// Writes go through a single writer goroutine that commits concurrent
// writes together (group commit): the batch costs one commit, and one
// failing write rolls back alone. The writes run one after another in the
// shared transaction without savepoints; a write that fails after its
// statements changed rows makes the batch roll back and run again with a
// SAVEPOINT per write (writer.go), as a write may run more than once. Reads run on a pool of read-only connections and
// see WAL snapshots. A reader keeps its read transaction open between the
// reads it serves for as long as the writer has committed nothing since
// it began (snapshot.go): beginning and ending one costs a fifth of a
// read by key, and every commit ends the snapshots it makes out of date,
// so reads still see every write acknowledged before they began.
// Reads of one row, writes of one (rowread.go, sqlstore.RowReader and
// RowWriter) and the writer's BEGIN, COMMIT and savepoints run on the
// driver's connection under database/sql's, with statements of their own,
// sparing database/sql's Rows and statements. A row's version is a
// parameter the writer hands out, so an insert needs no RETURNING (which
// SQLite buffers in a table of its own per statement).
//
// Durability: the database runs in WAL mode. With Synchronous "normal" (the
// default) a commit is written to the WAL before Update returns, so it
// survives the process being killed (kill -9); after a power loss or
// operating-system crash the last commits before the crash may be rolled
// back, but the database stays consistent. With "full" every commit is also
// fsynced, which survives power loss at the cost of one fsync per group
// commit.
//
// Checkpoints (checkpoint.go): a checkpointer goroutine on a connection of
// its own copies the WAL into the database in PASSIVE mode every
// Options.CheckpointEvery commits, so that no write waits for the copy and
// its fsyncs (SQLite's own checkpoint runs inside a COMMIT). Once the WAL
// reaches 4000 pages the writer checkpoints the few frames left itself and
// the next write restarts the WAL: under steady writes it peaks at 4000 to
// 8000 pages. A long read transaction or a slow disk holds it longer.
//
// Tools that only read (eventual placeholders) open the database with
// Options.ReadOnly: SQLite opens the file with mode=ro, so a mistyped path
// fails instead of creating an empty database, nothing is migrated, and
// the store runs beside the database's writer, reading WAL snapshots. It
// takes no lock of its own (see below): a shared lock would keep a
// writer from starting while a tool reads, and SQLite's own WAL locking
// already keeps readers and the writer consistent.
//
// One writer per database: a writable Open takes an exclusive,
// non-blocking flock on a lock file beside the database (path +
// LockSuffix, "eventual.db-lock") and holds it until Close; the kernel
// drops it when the process dies, kill -9 included. A second writer, in
// another process or in the same one, is refused with a *LockedError
// naming the holder, whose pid, command line and start time are recorded
// in the lock file. Two writers would each hand out row versions from
// their own counter and check ETags against their own view, so versions
// would repeat and stale If-Match writes would succeed. The lock file is
// never deleted: removing it while another process is about to lock it
// would let two writers lock two different files. On NFS, Linux emulates
// flock with POSIX locks, which no longer refuse a second Open in the
// same process; on systems without flock (Windows among them) no lock is
// taken at all.
//
// Page caches: the writer keeps 16 MB, the readers share 32 MB (each at
// least SQLite's default 2 MB), so that a table of a million records keeps
// its B-trees' upper levels in memory whatever the number of readers.
//
// The reads and writes of a transaction are internal/sqlstore's, the SQL
// internal/sqlbuild's, behind this package's Dialect. It imports neither
// the PostgreSQL store nor the layers above it (instance, the steps,
// webapi).
package sqlite
