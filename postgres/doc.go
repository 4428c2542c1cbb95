// Package postgres is the eventual.Store for scale: the same tables, keys
// and behaviour as the SQLite store on a PostgreSQL server (pgx v5), so
// that several stateless "eventual serve" processes can share one
// database and act as one instance.
//
// Concurrency between servers rests on the database: every write runs in
// a READ COMMITTED transaction; rows read for a write are locked (SELECT
// ... FOR UPDATE), so ETag checks and read-modify-write see the latest
// committed version; alternate keys and primary keys are unique indexes,
// and a write that loses a race on one (two servers creating the same key
// at once) runs again, finding the winner's row. Row versions come from
// one sequence shared by all servers. A write of one statement (a short
// upsert, a create built beforehand: eventual.StatementStore) and a read of
// one statement (eventual.StatementViewer) run outside BEGIN and COMMIT,
// the statement being a transaction of its own: one round trip, not three.
// Their statements of one row run on pgx's pool directly, without
// database/sql around them (rowread.go): a fifth less of the server's CPU
// per upsert by key.
//
// Durability follows the server's synchronous_commit setting (on by
// default: a commit is flushed to the WAL before Update returns).
//
// The reads and writes of a transaction are internal/sqlstore's, the SQL
// internal/sqlbuild's, behind this package's Dialect. It imports neither
// the SQLite store nor the layers above it (instance, the steps, webapi).
package postgres
