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
// one sequence shared by all servers.
//
// Durability follows the server's synchronous_commit setting (on by
// default: a commit is flushed to the WAL before Update returns).
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/internal/sqlstore"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// Options tune a store.
type Options struct {
	// MaxConns bounds the connection pool (pgxpool's default when 0).
	MaxConns int32
	// MaxRetries bounds how often a write that lost a race runs again
	// (DefaultMaxRetries when 0).
	MaxRetries int
}

// DefaultMaxRetries is how often a conflicting write is retried.
const DefaultMaxRetries = 5

// DB is an eventual.Store on PostgreSQL.
type DB struct {
	schema *eventual.Schema
	opts   Options
	pool   *pgxpool.Pool
	sql    *sql.DB
	meta   eventual.Meta
}

var _ eventual.Store = (*DB)(nil)

// IsDSN reports whether a --db value names a PostgreSQL database.
func IsDSN(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Open connects to the database the DSN names and migrates it for the
// schema: tables, columns and indexes are created or added, never
// dropped with their data. A search_path parameter in the DSN selects (and
// creates, if missing) the PostgreSQL schema to use. Several servers may
// open the same database at once; migrations take an advisory lock.
func Open(ctx context.Context, dsn string, schema *eventual.Schema, opts Options) (*DB, error) {
	if opts.MaxRetries <= 0 {
		opts.MaxRetries = DefaultMaxRetries
	}
	if err := checkNames(schema); err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse DSN: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	db := &DB{schema: schema, opts: opts, pool: pool, sql: stdlib.OpenDBFromPool(pool)}
	if err := db.migrate(ctx, cfg.ConnConfig.RuntimeParams["search_path"]); err != nil {
		db.sql.Close()
		pool.Close()
		return nil, err
	}
	return db, nil
}

// Schema returns the schema the store serves.
func (db *DB) Schema() *eventual.Schema { return db.schema }

// Meta returns the instance identity stored in the database; every server
// on the database shares it.
func (db *DB) Meta() eventual.Meta { return db.meta }

// Close closes the connections.
func (db *DB) Close() error {
	err := db.sql.Close()
	db.pool.Close()
	return err
}

// Update runs fn in a READ COMMITTED transaction and commits it. If fn
// lost a race on a unique key, or the database reports a serialization
// failure or deadlock, the transaction runs again (fn with it), up to
// Options.MaxRetries times.
func (db *DB) Update(ctx context.Context, fn func(eventual.Tx) error) error {
	for attempt := 0; ; attempt++ {
		conflicted, err := db.update(ctx, fn)
		if err == nil {
			return nil
		}
		if attempt >= db.opts.MaxRetries || ctx.Err() != nil || !(conflicted || retryable(err)) {
			return err
		}
		// A short, growing pause lets the winner commit.
		select {
		case <-time.After(time.Duration(attempt+1) * time.Millisecond):
		case <-ctx.Done():
			return err
		}
	}
}

func (db *DB) update(ctx context.Context, fn func(eventual.Tx) error) (conflicted bool, err error) {
	sqlTx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("postgres: begin: %w", err)
	}
	stx := &sqlstore.Tx{D: dialect{}, Q: sqlTx, Schema: db.schema, Lock: " FOR UPDATE",
		Version: func() (string, []any) { return "nextval('eventual_version')", nil }}
	defer func() {
		if r := recover(); r != nil {
			sqlTx.Rollback()
			err = fmt.Errorf("postgres: write panicked: %v", r)
		}
	}()
	if err := fn(&tx{stx}); err != nil {
		sqlTx.Rollback()
		return stx.Conflicted, err
	}
	if err := sqlTx.Commit(); err != nil {
		return false, fmt.Errorf("postgres: commit: %w", err)
	}
	return false, nil
}

// View runs fn in a read-only REPEATABLE READ transaction: one snapshot
// for all its reads (a page and its count agree).
func (db *DB) View(ctx context.Context, fn func(eventual.ReadTx) error) error {
	tx, err := db.sql.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return fmt.Errorf("postgres: begin read: %w", err)
	}
	defer tx.Rollback()
	if err := fn(&sqlstore.Tx{D: dialect{}, Q: tx, Schema: db.schema}); err != nil {
		return err
	}
	return tx.Commit()
}

func (db *DB) loadMeta(ctx context.Context, tx *sql.Tx) error {
	get := func(key string) (uuid.UUID, error) {
		if _, err := tx.ExecContext(ctx, "INSERT INTO eventual_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", key, uuid.NewString()); err != nil {
			return uuid.Nil, err
		}
		var v string
		if err := tx.QueryRowContext(ctx, "SELECT value FROM eventual_meta WHERE key = $1", key).Scan(&v); err != nil {
			return uuid.Nil, err
		}
		return uuid.Parse(v)
	}
	var err error
	if db.meta.OrganizationID, err = get("organizationid"); err != nil {
		return err
	}
	if db.meta.BusinessUnitID, err = get("businessunitid"); err != nil {
		return err
	}
	db.meta.UserID, err = get("userid")
	return err
}

var errNoSchema = errors.New("postgres: no schema is selected; set search_path in the DSN or create the public schema")
