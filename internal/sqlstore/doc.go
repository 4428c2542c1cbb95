// Package sqlstore implements eventual.Tx over database/sql for any SQL
// database with a sqlbuild.Dialect. The SQLite and PostgreSQL stores differ
// in how they open connections, run transactions, migrate and report
// errors; the reads and writes of a transaction are this one code.
//
// It imports no driver and neither store: both stores import it.
package sqlstore
