// Package state implements replication.State, the sync's durable memory,
// twice: over an embedded SQLite file (OpenSQLite, the default) and over
// PostgreSQL (OpenPostgres, for several sync processes sharing one state).
// Open picks one from a target string.
//
// Both keep four tables: eventual_sync_pairs (a table pair's cursor and
// status), eventual_sync_applied (the source version last applied of each
// record, by pair and id), eventual_sync_dead_letters and
// eventual_sync_leases. Times are stored in UTC.
//
// Durability: the SQLite file runs in WAL mode with synchronous=FULL, so
// a Commit that returned is in the WAL and fsynced: it survives the
// process being killed (kill -9) and also a power loss or operating-system
// crash. synchronous=NORMAL would survive kill -9 (the WAL is in the page
// cache) but may roll back the last commits on power loss, and the sync
// has told the target and the operator about progress by then; a commit
// per page makes the fsync cheap. Several processes may open the same
// file: SQLite's locking, write transactions begun IMMEDIATE and a busy
// timeout serialize their writes. PostgreSQL commits are as durable as the
// server's settings make them.
//
// Leases: AcquireLease makes owner the holder of a pair until now + ttl,
// when nobody else holds an unexpired lease; the holder renews by
// acquiring again, and ReleaseLease deletes the lease. A Commit made under
// a lease checks, in its own transaction (PostgreSQL locks the lease row
// FOR UPDATE), that no other owner holds an unexpired lease of the pair,
// and fails with replication.ErrLeaseLost writing nothing otherwise. A
// Commit under an owner's name when nobody holds the pair (no lease, or
// only an expired one) lands, as the State contract says, so a one-off
// command may commit while no sync runs. PostgreSQL measures expiry on
// the database's clock (now()), so processes on machines with skewed
// clocks agree; SQLite uses the process clock (WithClock), its processes
// sharing one machine.
//
// The package imports the SQL drivers and package replication, never the
// instance, the Web API or the client.
package state
