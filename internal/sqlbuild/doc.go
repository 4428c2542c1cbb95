// Package sqlbuild renders eventual queries and writes as SQL with bound
// parameters. The differences between SQL databases (placeholders, types,
// case-insensitive text, null ordering, wildcard patterns with sets) live
// behind the Dialect interface, so the SQLite and PostgreSQL stores share
// one renderer.
//
// It only renders: it runs nothing, imports no database/sql, no driver and
// no store (the stores implement Dialect and run what it renders).
package sqlbuild
