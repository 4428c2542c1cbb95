// Dead letters, leases and statuses, and the value conversions they share.

package state

import (
	"context"
	"fmt"
	"time"

	"github.com/eventual-pp/eventual/replication"
	"github.com/google/uuid"
)

// AddDeadLetter records d, replacing the pair's earlier dead letter of
// the same record: the replacement keeps the first time and counts one
// attempt more. Missing times are the process clock's now.
func (p *Postgres) AddDeadLetter(ctx context.Context, d replication.DeadLetter) error {
	deadLetterTimes(&d, time.Now())
	_, err := p.pool.Exec(ctx, `INSERT INTO `+tableDead+` AS d
		(pair, id, version, payload, status, code, message, attempts, first, last)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (pair, id) DO UPDATE SET version = excluded.version, payload = excluded.payload,
		status = excluded.status, code = excluded.code, message = excluded.message,
		attempts = d.attempts + 1, last = excluded.last`,
		d.Pair, d.ID.String(), d.Version, d.Payload, d.Status, d.Code, d.Message, d.Attempts, d.First, d.Last)
	if err != nil {
		return fmt.Errorf("state: add dead letter %s of %s: %w", d.ID, d.Pair, err)
	}
	return nil
}

// DeadLetters lists a pair's dead letters ("" for every pair), oldest
// (by first failure) first.
func (p *Postgres) DeadLetters(ctx context.Context, pair string) ([]replication.DeadLetter, error) {
	rows, err := p.pool.Query(ctx, `SELECT pair, id, version, payload, status, code, message, attempts, first, last
		FROM `+tableDead+` WHERE $1 = '' OR pair = $1 ORDER BY first, pair, id`, pair)
	if err != nil {
		return nil, fmt.Errorf("state: dead letters: %w", err)
	}
	defer rows.Close()
	var out []replication.DeadLetter
	for rows.Next() {
		var d replication.DeadLetter
		if err := rows.Scan(&d.Pair, &d.ID, &d.Version, &d.Payload, &d.Status, &d.Code, &d.Message, &d.Attempts, &d.First, &d.Last); err != nil {
			return nil, fmt.Errorf("state: dead letters: %w", err)
		}
		d.First, d.Last = d.First.UTC(), d.Last.UTC()
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("state: dead letters: %w", err)
	}
	return out, nil
}

// DropDeadLetter removes one dead letter; a missing one is no error.
func (p *Postgres) DropDeadLetter(ctx context.Context, pair string, id uuid.UUID) error {
	if _, err := p.pool.Exec(ctx, `DELETE FROM `+tableDead+` WHERE pair = $1 AND id = $2`, pair, id.String()); err != nil {
		return fmt.Errorf("state: drop dead letter %s of %s: %w", id, pair, err)
	}
	return nil
}

// AcquireLease makes owner the holder of the pair's lease until the
// database clock's now() + ttl, unless another owner holds an unexpired
// one.
func (p *Postgres) AcquireLease(ctx context.Context, pair, owner string, ttl time.Duration) (bool, error) {
	if owner == "" {
		return false, fmt.Errorf("state: acquire lease of %s: empty owner", pair)
	}
	tag, err := p.pool.Exec(ctx, `INSERT INTO `+tableLeases+` AS l (pair, owner, expires)
		VALUES ($1, $2, now() + $3::bigint * interval '1 microsecond')
		ON CONFLICT (pair) DO UPDATE SET owner = excluded.owner, expires = excluded.expires
		WHERE l.owner = excluded.owner OR l.expires <= now()`, pair, owner, ttl.Microseconds())
	if err != nil {
		return false, fmt.Errorf("state: acquire lease of %s: %w", pair, err)
	}
	return tag.RowsAffected() == 1, nil
}

// ReleaseLease gives the lease up, if owner holds it.
func (p *Postgres) ReleaseLease(ctx context.Context, pair, owner string) error {
	if _, err := p.pool.Exec(ctx, `DELETE FROM `+tableLeases+` WHERE pair = $1 AND owner = $2`, pair, owner); err != nil {
		return fmt.Errorf("state: release lease of %s: %w", pair, err)
	}
	return nil
}

// SetStatus saves the pair's status, leaving its cursor alone.
func (p *Postgres) SetStatus(ctx context.Context, pair string, st replication.Status) error {
	_, err := p.pool.Exec(ctx, `INSERT INTO `+tablePairs+`
		(pair, last_cycle, last_error, lag, oldest, backlog, applied, placeholder, breaker, status_set) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, true)
		ON CONFLICT (pair) DO UPDATE SET last_cycle = excluded.last_cycle, last_error = excluded.last_error,
		lag = excluded.lag, oldest = excluded.oldest, backlog = excluded.backlog, applied = excluded.applied,
		placeholder = excluded.placeholder, breaker = excluded.breaker, status_set = true`,
		pair, toPG(st.LastCycle), st.LastError, int64(st.Lag), toPG(st.Oldest), st.Backlog, st.Applied, st.Placeholder, st.Breaker)
	if err != nil {
		return fmt.Errorf("state: set status of %s: %w", pair, err)
	}
	return nil
}

// Statuses returns the status of every pair whose status was saved.
func (p *Postgres) Statuses(ctx context.Context) (map[string]replication.Status, error) {
	rows, err := p.pool.Query(ctx, `SELECT pair, last_cycle, last_error, lag, oldest, backlog, applied, placeholder, breaker
		FROM `+tablePairs+` WHERE status_set`)
	if err != nil {
		return nil, fmt.Errorf("state: statuses: %w", err)
	}
	defer rows.Close()
	out := map[string]replication.Status{}
	for rows.Next() {
		var pair string
		var st replication.Status
		var last, oldest *time.Time
		var lag int64
		if err := rows.Scan(&pair, &last, &st.LastError, &lag, &oldest, &st.Backlog, &st.Applied, &st.Placeholder, &st.Breaker); err != nil {
			return nil, fmt.Errorf("state: statuses: %w", err)
		}
		st.Lag, st.LastCycle, st.Oldest = time.Duration(lag), fromPG(last), fromPG(oldest)
		out[pair] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("state: statuses: %w", err)
	}
	return out, nil
}

// toPG returns t for a timestamptz parameter, NULL for the zero time.
func toPG(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// fromPG returns a timestamptz read, in UTC; NULL is the zero time.
func fromPG(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// strs returns ids as text, for uuid[] parameters.
func strs(ids []uuid.UUID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}
