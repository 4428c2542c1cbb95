package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/eventual-pp/eventual/replication"
	"github.com/google/uuid"
	"modernc.org/sqlite" // registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLite is a replication.State in a SQLite file.
type SQLite struct {
	path string
	db   *sql.DB
	now  func() time.Time
}

var _ replication.State = (*SQLite)(nil)

// An Option tunes OpenSQLite.
type Option func(*SQLite)

// WithClock makes now the clock of the state's leases and dead letter
// times (time.Now by default). Tests give it a fake clock.
func WithClock(now func() time.Time) Option {
	return func(s *SQLite) { s.now = now }
}

// sqliteChunk bounds the ids bound in one statement, well under SQLite's
// limit on variables.
const sqliteChunk = 500

// sqliteTime is the layout of times in the SQLite file: UTC with a fixed
// width, so that comparing the text compares the times.
const sqliteTime = "2006-01-02T15:04:05.000000000Z"

// OpenSQLite opens (creating if needed) the state in the SQLite file at
// path and creates its tables. Several processes may open the same file.
func OpenSQLite(ctx context.Context, path string, opts ...Option) (*SQLite, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("state: open sqlite: %q is not a file path", path)
	}
	s := &SQLite{path: path, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_txlock", "immediate")
	dsn := "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path) + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}
	// One connection: the process's transactions queue here rather than
	// spin on SQLite's busy handler; other processes wait on the busy
	// timeout.
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	s.db = db
	// Processes opening a new file at once race to make it a WAL
	// database; the loser's first transaction is refused at once
	// (SQLITE_BUSY, which the busy timeout does not cover), and tries
	// again.
	for attempt := 0; ; attempt++ {
		err = s.migrate(ctx)
		if err == nil {
			return s, nil
		}
		if e, ok := errors.AsType[*sqlite.Error](err); !ok || e.Code()&0xff != sqlite3.SQLITE_BUSY || attempt == 50 {
			db.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			db.Close()
			return nil, ctx.Err()
		case <-time.After(time.Duration(10+attempt*10) * time.Millisecond):
		}
	}
}

// sqliteSchema creates the tables; every statement is idempotent.
var sqliteSchema = []string{
	`CREATE TABLE IF NOT EXISTS ` + tablePairs + ` (
		pair TEXT PRIMARY KEY,
		phase TEXT NOT NULL DEFAULT '',
		since TEXT NOT NULL DEFAULT '',
		until TEXT NOT NULL DEFAULT '',
		after BLOB,
		deleted INTEGER NOT NULL DEFAULT 0,
		epoch INTEGER NOT NULL DEFAULT 0,
		read_started TEXT,
		last_cycle TEXT,
		last_error TEXT NOT NULL DEFAULT '',
		lag INTEGER NOT NULL DEFAULT 0,
		oldest TEXT,
		backlog INTEGER NOT NULL DEFAULT 0,
		applied INTEGER NOT NULL DEFAULT 0,
		placeholder INTEGER NOT NULL DEFAULT 0,
		breaker TEXT NOT NULL DEFAULT '',
		status_set INTEGER NOT NULL DEFAULT 0
	)`,
	`CREATE TABLE IF NOT EXISTS ` + tableApplied + ` (
		pair TEXT NOT NULL,
		id BLOB NOT NULL,
		version INTEGER NOT NULL,
		deleted INTEGER NOT NULL,
		epoch INTEGER NOT NULL,
		target_key BLOB,
		target_id BLOB,
		PRIMARY KEY (pair, id)
	) WITHOUT ROWID`,
	`CREATE TABLE IF NOT EXISTS ` + tableDead + ` (
		pair TEXT NOT NULL,
		id BLOB NOT NULL,
		version INTEGER NOT NULL,
		payload BLOB,
		status INTEGER NOT NULL,
		code TEXT NOT NULL,
		message TEXT NOT NULL,
		attempts INTEGER NOT NULL,
		first TEXT NOT NULL,
		last TEXT NOT NULL,
		PRIMARY KEY (pair, id)
	)`,
	`CREATE TABLE IF NOT EXISTS ` + tableLeases + ` (
		pair TEXT PRIMARY KEY,
		owner TEXT NOT NULL,
		expires TEXT NOT NULL
	)`,
}

func (s *SQLite) migrate(ctx context.Context) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, stmt := range sqliteSchema {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("state: migrate %s: %w", s.path, err)
			}
		}
		// Files from before these columns lack them.
		for _, c := range []struct{ table, column, typ string }{
			{tableApplied, "target_key", "BLOB"}, {tablePairs, "oldest", "TEXT"}, {tableApplied, "target_id", "BLOB"},
		} {
			var has int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info('`+c.table+`') WHERE name = ?`, c.column).Scan(&has); err != nil {
				return fmt.Errorf("state: migrate %s: %w", s.path, err)
			}
			if has == 0 {
				if _, err := tx.ExecContext(ctx, `ALTER TABLE `+c.table+` ADD COLUMN `+c.column+` `+c.typ); err != nil {
					return fmt.Errorf("state: migrate %s: %w", s.path, err)
				}
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE INDEX IF NOT EXISTS `+tableApplied+`_target ON `+tableApplied+` (pair, target_id) WHERE target_id IS NOT NULL`); err != nil {
			return fmt.Errorf("state: migrate %s: %w", s.path, err)
		}
		return nil
	})
}

// tx runs fn in a write transaction (BEGIN IMMEDIATE) and commits it.
func (s *SQLite) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("state: begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("state: commit: %w", err)
	}
	return nil
}

// Path returns the file's path.
func (s *SQLite) Path() string { return s.path }

// Close closes the file.
func (s *SQLite) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("state: close %s: %w", s.path, err)
	}
	return nil
}

// Cursor returns the pair's cursor, the zero Cursor when it has none.
func (s *SQLite) Cursor(ctx context.Context, pair string) (replication.Cursor, error) {
	var c replication.Cursor
	var after []byte
	var started sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT phase, since, until, after, deleted, epoch, read_started
		FROM `+tablePairs+` WHERE pair = ?`, pair).
		Scan(&c.Phase, &c.Since, &c.Until, &after, &c.Deleted, &c.Epoch, &started)
	if errors.Is(err, sql.ErrNoRows) {
		return replication.Cursor{}, nil
	}
	if err != nil {
		return c, fmt.Errorf("state: cursor of %s: %w", pair, err)
	}
	if c.After, err = blobUUID(after); err != nil {
		return c, fmt.Errorf("state: cursor of %s: %w", pair, err)
	}
	if c.ReadStarted, err = parseTime(started); err != nil {
		return c, fmt.Errorf("state: cursor of %s: %w", pair, err)
	}
	return c, nil
}

// Commit saves the cursor, the applied versions and the resolved dead
// letters in one transaction, after checking in it that no other owner
// than c.Lease holds an unexpired lease of the pair.
func (s *SQLite) Commit(ctx context.Context, pair string, c replication.Commit) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if c.Lease != "" {
			if err := s.checkLease(ctx, tx, pair, c.Lease); err != nil {
				return err
			}
		}
		if !c.KeepCursor {
			cur := c.Cursor
			if _, err := tx.ExecContext(ctx, `INSERT INTO `+tablePairs+`
				(pair, phase, since, until, after, deleted, epoch, read_started) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (pair) DO UPDATE SET phase = excluded.phase, since = excluded.since,
				until = excluded.until, after = excluded.after, deleted = excluded.deleted,
				epoch = excluded.epoch, read_started = excluded.read_started`,
				pair, string(cur.Phase), cur.Since, cur.Until, cur.After[:], cur.Deleted, cur.Epoch, formatTime(cur.ReadStarted)); err != nil {
				return fmt.Errorf("state: commit %s: cursor: %w", pair, err)
			}
		}
		if err := s.apply(ctx, tx, pair, dedupe(c.Applied)); err != nil {
			return err
		}
		if len(c.Resolved) == 0 {
			return nil
		}
		var dead bool // most commits resolve nothing: skip the deletes
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+tableDead+` WHERE pair = ?)`, pair).Scan(&dead); err != nil {
			return fmt.Errorf("state: commit %s: dead letters: %w", pair, err)
		}
		if !dead {
			return nil
		}
		return chunks(c.Resolved, sqliteChunk, func(ids []uuid.UUID) error {
			args := append([]any{pair}, blobs(ids)...)
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+tableDead+` WHERE pair = ? AND id IN (`+marks(len(ids))+`)`, args...); err != nil {
				return fmt.Errorf("state: commit %s: resolve dead letters: %w", pair, err)
			}
			return nil
		})
	})
}

// checkLease fails with ErrLeaseLost when another owner than lease holds
// an unexpired lease of the pair.
func (s *SQLite) checkLease(ctx context.Context, tx *sql.Tx, pair, lease string) error {
	var owner, expires string
	err := tx.QueryRowContext(ctx, `SELECT owner, expires FROM `+tableLeases+` WHERE pair = ?`, pair).Scan(&owner, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("state: commit %s: lease: %w", pair, err)
	}
	if owner != lease && expires > s.now().UTC().Format(sqliteTime) {
		return replication.ErrLeaseLost
	}
	return nil
}

// apply upserts the applied records, sqliteRows to a statement.
func (s *SQLite) apply(ctx context.Context, tx *sql.Tx, pair string, recs []replication.AppliedRecord) error {
	for len(recs) > 0 {
		part := recs[:min(sqliteRows, len(recs))]
		recs = recs[len(part):]
		args := make([]any, 0, 7*len(part))
		for _, r := range part {
			args = append(args, pair, r.ID[:], r.Version, r.Deleted, r.Epoch, r.Key, nilBlob(r.Target))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+tableApplied+` (pair, id, version, deleted, epoch, target_key, target_id)
			VALUES `+strings.Repeat("(?, ?, ?, ?, ?, ?, ?), ", len(part)-1)+`(?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (pair, id) DO UPDATE SET version = excluded.version, deleted = excluded.deleted,
			epoch = excluded.epoch, target_key = excluded.target_key, target_id = excluded.target_id`, args...); err != nil {
			return fmt.Errorf("state: commit %s: applied: %w", pair, err)
		}
	}
	return nil
}

// sqliteRows bounds the applied records of one INSERT (7 variables each,
// well under SQLite's limit).
const sqliteRows = 100

// Versions returns the recorded source version of each id that has one.
func (s *SQLite) Versions(ctx context.Context, pair string, ids []uuid.UUID) (map[uuid.UUID]replication.Applied, error) {
	out := make(map[uuid.UUID]replication.Applied, len(ids))
	err := chunks(ids, sqliteChunk, func(ids []uuid.UUID) error {
		args := append([]any{pair}, blobs(ids)...)
		rows, err := s.db.QueryContext(ctx, `SELECT id, version, deleted, epoch, target_key, target_id FROM `+tableApplied+`
			WHERE pair = ? AND id IN (`+marks(len(ids))+`)`, args...)
		if err != nil {
			return fmt.Errorf("state: versions of %s: %w", pair, err)
		}
		defer rows.Close()
		for rows.Next() {
			var b, tb []byte
			var a replication.Applied
			if err := rows.Scan(&b, &a.Version, &a.Deleted, &a.Epoch, &a.Key, &tb); err != nil {
				return fmt.Errorf("state: versions of %s: %w", pair, err)
			}
			id, err := blobUUID(b)
			if err == nil {
				a.Target, err = nullBlobUUID(tb)
			}
			if err != nil {
				return fmt.Errorf("state: versions of %s: %w", pair, err)
			}
			out[id] = a
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("state: versions of %s: %w", pair, err)
		}
		return nil
	})
	return out, err
}

// Stale lists the records applied, not deleted, of an epoch older than
// epoch, in id order after after.
func (s *SQLite) Stale(ctx context.Context, pair string, epoch int64, after uuid.UUID, limit int) ([]replication.AppliedRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, version, deleted, epoch, target_key, target_id FROM `+tableApplied+`
		WHERE pair = ? AND deleted = 0 AND epoch < ? AND id > ? ORDER BY id LIMIT ?`, pair, epoch, after[:], limit)
	if err != nil {
		return nil, fmt.Errorf("state: stale records of %s: %w", pair, err)
	}
	defer rows.Close()
	var out []replication.AppliedRecord
	for rows.Next() {
		var b, tb []byte
		var r replication.AppliedRecord
		if err := rows.Scan(&b, &r.Version, &r.Deleted, &r.Epoch, &r.Key, &tb); err != nil {
			return nil, fmt.Errorf("state: stale records of %s: %w", pair, err)
		}
		if r.ID, err = blobUUID(b); err == nil {
			r.Target, err = nullBlobUUID(tb)
		}
		if err != nil {
			return nil, fmt.Errorf("state: stale records of %s: %w", pair, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("state: stale records of %s: %w", pair, err)
	}
	return out, nil
}

// Owners returns the applied, not deleted record naming each target id.
func (s *SQLite) Owners(ctx context.Context, pair string, targets []uuid.UUID) (map[uuid.UUID]uuid.UUID, error) {
	out := make(map[uuid.UUID]uuid.UUID, len(targets))
	err := chunks(targets, sqliteChunk, func(ids []uuid.UUID) error {
		args := append([]any{pair}, blobs(ids)...)
		rows, err := s.db.QueryContext(ctx, `SELECT target_id, id FROM `+tableApplied+`
			WHERE pair = ? AND target_id IN (`+marks(len(ids))+`) AND deleted = 0`, args...)
		if err != nil {
			return fmt.Errorf("state: owners in %s: %w", pair, err)
		}
		defer rows.Close()
		for rows.Next() {
			var tb, b []byte
			if err := rows.Scan(&tb, &b); err != nil {
				return fmt.Errorf("state: owners in %s: %w", pair, err)
			}
			target, err := blobUUID(tb)
			if err != nil {
				return fmt.Errorf("state: owners in %s: %w", pair, err)
			}
			id, err := blobUUID(b)
			if err != nil {
				return fmt.Errorf("state: owners in %s: %w", pair, err)
			}
			out[target] = id
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("state: owners in %s: %w", pair, err)
		}
		return nil
	})
	return out, err
}

// nilBlob is an id as a BLOB, NULL for uuid.Nil.
func nilBlob(id uuid.UUID) any {
	if id == uuid.Nil {
		return nil
	}
	return id[:]
}

// nullBlobUUID reads what nilBlob wrote.
func nullBlobUUID(b []byte) (uuid.UUID, error) {
	if b == nil {
		return uuid.Nil, nil
	}
	return blobUUID(b)
}
