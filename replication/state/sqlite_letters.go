// Dead letters, leases and statuses, and the value conversions they share.

package state

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/eventual-pp/eventual/replication"
	"github.com/google/uuid"
)

// AddDeadLetter records d, replacing the pair's earlier dead letter of
// the same record: the replacement keeps the first time and counts one
// attempt more. Missing times are the clock's now.
func (s *SQLite) AddDeadLetter(ctx context.Context, d replication.DeadLetter) error {
	deadLetterTimes(&d, s.now())
	_, err := s.db.ExecContext(ctx, `INSERT INTO `+tableDead+`
		(pair, id, version, payload, status, code, message, attempts, first, last)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (pair, id) DO UPDATE SET version = excluded.version, payload = excluded.payload,
		status = excluded.status, code = excluded.code, message = excluded.message,
		attempts = attempts + 1, last = excluded.last`,
		d.Pair, d.ID[:], d.Version, d.Payload, d.Status, d.Code, d.Message, d.Attempts,
		d.First.Format(sqliteTime), d.Last.Format(sqliteTime))
	if err != nil {
		return fmt.Errorf("state: add dead letter %s of %s: %w", d.ID, d.Pair, err)
	}
	return nil
}

// DeadLetters lists a pair's dead letters ("" for every pair), oldest
// (by first failure) first.
func (s *SQLite) DeadLetters(ctx context.Context, pair string) ([]replication.DeadLetter, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT pair, id, version, payload, status, code, message, attempts, first, last
		FROM `+tableDead+` WHERE ? = '' OR pair = ? ORDER BY first, pair, id`, pair, pair)
	if err != nil {
		return nil, fmt.Errorf("state: dead letters: %w", err)
	}
	defer rows.Close()
	var out []replication.DeadLetter
	for rows.Next() {
		var d replication.DeadLetter
		var id []byte
		var first, last sql.NullString
		if err := rows.Scan(&d.Pair, &id, &d.Version, &d.Payload, &d.Status, &d.Code, &d.Message, &d.Attempts, &first, &last); err != nil {
			return nil, fmt.Errorf("state: dead letters: %w", err)
		}
		if d.ID, err = blobUUID(id); err != nil {
			return nil, fmt.Errorf("state: dead letters: %w", err)
		}
		if d.First, err = parseTime(first); err != nil {
			return nil, fmt.Errorf("state: dead letters: %w", err)
		}
		if d.Last, err = parseTime(last); err != nil {
			return nil, fmt.Errorf("state: dead letters: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("state: dead letters: %w", err)
	}
	return out, nil
}

// DropDeadLetter removes one dead letter; a missing one is no error.
func (s *SQLite) DropDeadLetter(ctx context.Context, pair string, id uuid.UUID) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM `+tableDead+` WHERE pair = ? AND id = ?`, pair, id[:]); err != nil {
		return fmt.Errorf("state: drop dead letter %s of %s: %w", id, pair, err)
	}
	return nil
}

// AcquireLease makes owner the holder of the pair's lease until the
// clock's now + ttl, unless another owner holds an unexpired one.
func (s *SQLite) AcquireLease(ctx context.Context, pair, owner string, ttl time.Duration) (bool, error) {
	if owner == "" {
		return false, fmt.Errorf("state: acquire lease of %s: empty owner", pair)
	}
	now := s.now().UTC()
	res, err := s.db.ExecContext(ctx, `INSERT INTO `+tableLeases+` (pair, owner, expires) VALUES (?, ?, ?)
		ON CONFLICT (pair) DO UPDATE SET owner = excluded.owner, expires = excluded.expires
		WHERE owner = excluded.owner OR expires <= ?`,
		pair, owner, now.Add(ttl).Format(sqliteTime), now.Format(sqliteTime))
	if err != nil {
		return false, fmt.Errorf("state: acquire lease of %s: %w", pair, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("state: acquire lease of %s: %w", pair, err)
	}
	return n == 1, nil
}

// ReleaseLease gives the lease up, if owner holds it.
func (s *SQLite) ReleaseLease(ctx context.Context, pair, owner string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM `+tableLeases+` WHERE pair = ? AND owner = ?`, pair, owner); err != nil {
		return fmt.Errorf("state: release lease of %s: %w", pair, err)
	}
	return nil
}

// SetStatus saves the pair's status, leaving its cursor alone.
func (s *SQLite) SetStatus(ctx context.Context, pair string, st replication.Status) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO `+tablePairs+`
		(pair, last_cycle, last_error, lag, oldest, backlog, applied, placeholder, breaker, status_set) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
		ON CONFLICT (pair) DO UPDATE SET last_cycle = excluded.last_cycle, last_error = excluded.last_error,
		lag = excluded.lag, oldest = excluded.oldest, backlog = excluded.backlog, applied = excluded.applied,
		placeholder = excluded.placeholder, breaker = excluded.breaker, status_set = 1`,
		pair, formatTime(st.LastCycle), st.LastError, int64(st.Lag), formatTime(st.Oldest), st.Backlog, st.Applied, st.Placeholder, st.Breaker)
	if err != nil {
		return fmt.Errorf("state: set status of %s: %w", pair, err)
	}
	return nil
}

// Statuses returns the status of every pair whose status was saved.
func (s *SQLite) Statuses(ctx context.Context) (map[string]replication.Status, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT pair, last_cycle, last_error, lag, oldest, backlog, applied, placeholder, breaker
		FROM `+tablePairs+` WHERE status_set = 1`)
	if err != nil {
		return nil, fmt.Errorf("state: statuses: %w", err)
	}
	defer rows.Close()
	out := map[string]replication.Status{}
	for rows.Next() {
		var pair string
		var st replication.Status
		var last, oldest sql.NullString
		var lag int64
		if err := rows.Scan(&pair, &last, &st.LastError, &lag, &oldest, &st.Backlog, &st.Applied, &st.Placeholder, &st.Breaker); err != nil {
			return nil, fmt.Errorf("state: statuses: %w", err)
		}
		st.Lag = time.Duration(lag)
		if st.LastCycle, err = parseTime(last); err != nil {
			return nil, fmt.Errorf("state: statuses: %w", err)
		}
		if st.Oldest, err = parseTime(oldest); err != nil {
			return nil, fmt.Errorf("state: statuses: %w", err)
		}
		out[pair] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("state: statuses: %w", err)
	}
	return out, nil
}

// formatTime returns t in the file's layout, NULL for the zero time.
func formatTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(sqliteTime)
}

// parseTime reads a time of the file, the zero time for NULL.
func parseTime(s sql.NullString) (time.Time, error) {
	if !s.Valid || s.String == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s.String)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: %w", s.String, err)
	}
	return t.UTC(), nil
}

// blobUUID reads an id stored as 16 bytes; NULL is the nil UUID.
func blobUUID(b []byte) (uuid.UUID, error) {
	if len(b) == 0 {
		return uuid.Nil, nil
	}
	id, err := uuid.FromBytes(b)
	if err != nil {
		return uuid.Nil, fmt.Errorf("id %x: %w", b, err)
	}
	return id, nil
}

// blobs returns ids as statement arguments.
func blobs(ids []uuid.UUID) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id[:]
	}
	return out
}

// marks returns n comma-separated placeholders.
func marks(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}
