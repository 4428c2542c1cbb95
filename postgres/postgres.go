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
	// ReadOnly opens an existing database for tools that only read. The
	// PostgreSQL schema the DSN selects (the first name of its
	// search_path, or the server's current_schema() without one) must
	// exist and hold an eventual database (an eventual_meta table with the
	// instance identity); nothing is created or migrated, and every
	// table and column of the schema must already be there, or Open says
	// which are missing. Sessions run with default_transaction_read_only,
	// and Update returns ErrReadOnly.
	ReadOnly bool
	// Now returns the current time, recorded with each deletion for
	// change tracking; nil is time.Now. Give it the clock of the
	// Instance (Instance.Now) so that the purge of expired deletions
	// and the deletions agree.
	Now func() time.Time
	// OnCommit, if set, is called after each committed write
	// transaction with the writes it held (always 1: each Update is its
	// own transaction) and the time from BEGIN to the end of COMMIT. It
	// must return quickly.
	OnCommit func(writes int, took time.Duration)
}

// ErrReadOnly is returned by Update on a store opened with
// Options.ReadOnly.
var ErrReadOnly = errors.New("postgres: the database is open read-only")

// DefaultMaxRetries is how often a conflicting write is retried.
const DefaultMaxRetries = 5

// DB is an eventual.Store on PostgreSQL.
type DB struct {
	schema *eventual.Schema
	opts   Options
	pool   *pgxpool.Pool
	sql    *sql.DB
	meta   eventual.Meta
	texts  sqlstore.Texts // statement texts of hot writes
	// readTexts are those of reads of one row, apart: their shapes follow
	// the $select clients send, which must not fill the writes' cache.
	readTexts sqlstore.Texts
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
//
// With Options.ReadOnly, Open instead opens an existing eventual database
// for reading only and fails if there is none (see Options.ReadOnly).
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
	if opts.ReadOnly {
		// The server refuses writes too, should one slip through.
		cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	db := &DB{schema: schema, opts: opts, pool: pool, sql: stdlib.OpenDBFromPool(pool)}
	prepare := db.migrate
	if opts.ReadOnly {
		prepare = db.check
	}
	if err := prepare(ctx, cfg.ConnConfig.RuntimeParams["search_path"]); err != nil {
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
// Options.MaxRetries times. On a read-only store it returns ErrReadOnly.
func (db *DB) Update(ctx context.Context, fn func(eventual.Tx) error) error {
	return db.retry(ctx, db.update, fn)
}

// UpdateStatement implements eventual.StatementStore: fn's one statement
// runs on a pooled connection outside BEGIN and COMMIT, so PostgreSQL
// commits it as a transaction of its own, in one round trip instead of
// three. It retries as Update does; a second statement fails with
// sqlstore.ErrNotSingle.
func (db *DB) UpdateStatement(ctx context.Context, fn func(eventual.Tx) error) error {
	return db.retry(ctx, db.updateStatement, fn)
}

// retry runs a write (update or updateStatement) until it succeeds, fails
// for good, or Options.MaxRetries runs have lost races.
func (db *DB) retry(ctx context.Context, run func(context.Context, func(eventual.Tx) error) (bool, error), fn func(eventual.Tx) error) error {
	if db.opts.ReadOnly {
		return ErrReadOnly
	}
	for attempt := 0; ; attempt++ {
		conflicted, err := run(ctx, fn)
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

// ViewStatement implements eventual.StatementViewer: while fn runs one
// statement, it runs on a pooled connection outside a transaction (one
// round trip instead of three; PostgreSQL reads one snapshot per
// statement); a second statement sends fn to View.
func (db *DB) ViewStatement(ctx context.Context, fn func(eventual.ReadTx) error) error {
	return sqlstore.ViewStatement(ctx, fn, db.viewOne, db.View)
}

// viewOne runs fn on a pooled connection outside a transaction. The
// connection is taken under ctx (reads by key run their statement under a
// context that cannot end, so waiting for a free connection is where a
// request's deadline must count); it reports whether fn ran a second
// statement.
func (db *DB) viewOne(ctx context.Context, fn func(eventual.ReadTx) error) (again bool, err error) {
	q := &sqlstore.Single{Q: &poolRows{db: db, ctx: ctx, read: true}, Read: true}
	err = fn(&sqlstore.Tx{D: dialect{}, Q: q, Schema: db.schema, Texts: &db.readTexts})
	return q.Again, err
}

var _ eventual.StatementViewer = (*DB)(nil)

var _ eventual.StatementStore = (*DB)(nil)

// updateStatement runs fn's one statement in autocommit.
func (db *DB) updateStatement(ctx context.Context, fn func(eventual.Tx) error) (conflicted bool, err error) {
	began := time.Now()
	q := &sqlstore.Single{Q: &poolRows{db: db, ctx: ctx}}
	stx := db.writeTx(q)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("postgres: write panicked: %v", r)
		}
	}()
	if err := fn(&tx{stx}); err != nil {
		return stx.Conflicted, err
	}
	if q.Ran() && db.opts.OnCommit != nil {
		db.opts.OnCommit(1, time.Since(began))
	}
	return false, nil
}

// writeTx is the eventual.Tx of a write whose statements q runs.
func (db *DB) writeTx(q sqlstore.Querier) *sqlstore.Tx {
	return &sqlstore.Tx{D: dialect{}, Q: q, Schema: db.schema, Lock: " FOR UPDATE", Now: db.now(), Texts: &db.texts,
		Version: func() (string, []any) { return "nextval('eventual_version')", nil }}
}

func (db *DB) update(ctx context.Context, fn func(eventual.Tx) error) (conflicted bool, err error) {
	began := time.Now()
	sqlTx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("postgres: begin: %w", err)
	}
	stx := db.writeTx(sqlTx)
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
	if db.opts.OnCommit != nil {
		db.opts.OnCommit(1, time.Since(began))
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
	if err := fn(&sqlstore.Tx{D: dialect{}, Q: tx, Schema: db.schema, Texts: &db.readTexts}); err != nil {
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
	return sqlstore.ReadMeta(&db.meta, get)
}

var errNoSchema = errors.New("postgres: no schema is selected; set search_path in the DSN or create the public schema")

// firstSchema returns the first schema name of a search_path setting as
// PostgreSQL reads it (an unquoted name folded to lower case, a quoted one
// as written), or "" when the setting is empty or starts with $user.
func firstSchema(searchPath string) string {
	first := strings.TrimSpace(strings.Split(searchPath, ",")[0])
	if first == "" || first == "$user" {
		return ""
	}
	if len(first) >= 2 && first[0] == '"' && first[len(first)-1] == '"' {
		return strings.ReplaceAll(first[1:len(first)-1], `""`, `"`)
	}
	return strings.ToLower(first)
}

// maxListed bounds the missing tables and columns an error lists.
const maxListed = 8

// check is the read-only counterpart of migrate: it fails unless the
// selected PostgreSQL schema exists and holds an eventual database with
// every table and column the schema needs, and reads the instance
// identity. It writes nothing.
func (db *DB) check(ctx context.Context, searchPath string) error {
	tx, err := db.sql.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer tx.Rollback()
	current, err := checkSchema(ctx, tx, firstSchema(searchPath))
	if err != nil {
		return err
	}
	have, err := readColumns(ctx, tx)
	if err != nil {
		return err
	}
	for _, system := range []string{"eventual_meta", sqlstore.DeletedTable} {
		if have[system] == nil {
			return fmt.Errorf("postgres: schema %q holds no eventual database (it has no %s table)", current, system)
		}
	}
	if missing := db.missingColumns(have); len(missing) > 0 {
		list := strings.Join(missing, ", ")
		if len(missing) > maxListed {
			list = fmt.Sprintf("%s and %d more", strings.Join(missing[:maxListed], ", "), len(missing)-maxListed)
		}
		return fmt.Errorf("postgres: the eventual database in schema %q is behind the configured schema: it has no %s; opening it for writing (eventual serve with this schema) adds them", current, list)
	}
	if err := db.readMeta(ctx, tx, current); err != nil {
		return err
	}
	return tx.Commit()
}

// checkSchema checks that the schema the search path names (if any)
// exists and is usable, and returns the current schema.
func checkSchema(ctx context.Context, tx *sql.Tx, name string) (string, error) {
	if name != "" {
		var exists bool
		if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", name).Scan(&exists); err != nil {
			return "", fmt.Errorf("postgres: read schemas: %w", err)
		}
		if !exists {
			return "", fmt.Errorf("postgres: schema %q does not exist (the DSN's search_path selects it)", name)
		}
	}
	var current sql.NullString
	if err := tx.QueryRowContext(ctx, "SELECT current_schema()").Scan(&current); err != nil {
		return "", fmt.Errorf("postgres: read current schema: %w", err)
	}
	switch {
	case name != "" && current.String != name:
		// current_schema() skips schemas the user may not use.
		return "", fmt.Errorf("postgres: schema %q is not usable: this user lacks the USAGE privilege on it", name)
	case !current.Valid:
		return "", errNoSchema
	}
	return current.String, nil
}

// readColumns returns the columns of the current schema's tables, by
// table.
func readColumns(ctx context.Context, tx *sql.Tx) (map[string]map[string]bool, error) {
	rows, err := tx.QueryContext(ctx, `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()`)
	if err != nil {
		return nil, fmt.Errorf("postgres: read columns: %w", err)
	}
	defer rows.Close()
	have := map[string]map[string]bool{}
	for rows.Next() {
		var table, column string
		if err := rows.Scan(&table, &column); err != nil {
			return nil, fmt.Errorf("postgres: read columns: %w", err)
		}
		if have[table] == nil {
			have[table] = map[string]bool{}
		}
		have[table][column] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: read columns: %w", err)
	}
	return have, nil
}

// missingColumns lists the tables and columns the schema needs that the
// database lacks.
func (db *DB) missingColumns(have map[string]map[string]bool) []string {
	var missing []string
	for _, t := range db.schema.Tables() {
		if have[t.LogicalName] == nil {
			missing = append(missing, "table "+t.LogicalName)
			continue
		}
		for _, c := range sqlColumns(t) {
			if !have[t.LogicalName][c.name] {
				missing = append(missing, "column "+t.LogicalName+"."+c.name)
			}
		}
	}
	return missing
}

// readMeta reads the instance identity from eventual_meta.
func (db *DB) readMeta(ctx context.Context, tx *sql.Tx, schema string) error {
	return sqlstore.ReadMeta(&db.meta, func(key string) (uuid.UUID, error) {
		var v string
		err := tx.QueryRowContext(ctx, "SELECT value FROM eventual_meta WHERE key = $1", key).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) {
			return uuid.Nil, fmt.Errorf("postgres: schema %q holds no eventual database (eventual_meta has no %s)", schema, key)
		}
		if err != nil {
			return uuid.Nil, fmt.Errorf("postgres: read eventual_meta: %w", err)
		}
		id, err := uuid.Parse(v)
		if err != nil {
			return id, fmt.Errorf("postgres: read eventual_meta: %s: %w", key, err)
		}
		return id, nil
	})
}

// now is the time of a write transaction beginning: Options.Now, or
// time.Now.
func (db *DB) now() time.Time {
	if db.opts.Now != nil {
		return db.opts.Now()
	}
	return time.Now()
}
