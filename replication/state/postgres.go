package state

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/eventual-pp/eventual/replication"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres is a replication.State in PostgreSQL, in the eventual_sync_*
// tables of the connection's current schema (a search_path parameter of
// the DSN selects it, and Open creates it if missing). Several processes,
// on several machines, may share it; leases expire on the database's
// clock.
type Postgres struct {
	pool *pgxpool.Pool
}

var _ replication.State = (*Postgres)(nil)

// migrationLock is the advisory lock key that serializes the migrations
// of sync processes starting together ("evsync").
const migrationLock = 0x65767379_6e63

// pgChunk bounds the ids sent in one array parameter.
const pgChunk = 10000

// OpenPostgres connects to the database dsn names and creates the state's
// tables if missing, under an advisory lock.
func OpenPostgres(ctx context.Context, dsn string) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("state: parse postgres DSN: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("state: connect to postgres: %w", err)
	}
	p := &Postgres{pool: pool}
	if err := p.migrate(ctx, firstSchema(cfg.ConnConfig.RuntimeParams["search_path"])); err != nil {
		pool.Close()
		return nil, err
	}
	return p, nil
}

// firstSchema returns the first schema of a search_path as PostgreSQL
// reads it (unquoted names fold to lower case), "" for none.
func firstSchema(searchPath string) string {
	first, _, _ := strings.Cut(searchPath, ",")
	first = strings.TrimSpace(first)
	if first == "" || first == "$user" {
		return ""
	}
	if len(first) >= 2 && first[0] == '"' && first[len(first)-1] == '"' {
		return strings.ReplaceAll(first[1:len(first)-1], `""`, `"`)
	}
	return strings.ToLower(first)
}

// pgSchema creates the tables; every statement is idempotent.
var pgSchema = []string{
	`CREATE TABLE IF NOT EXISTS ` + tablePairs + ` (
		pair text PRIMARY KEY,
		phase text NOT NULL DEFAULT '',
		since text NOT NULL DEFAULT '',
		until text NOT NULL DEFAULT '',
		after uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
		deleted boolean NOT NULL DEFAULT false,
		epoch bigint NOT NULL DEFAULT 0,
		read_started timestamptz,
		last_cycle timestamptz,
		last_error text NOT NULL DEFAULT '',
		lag bigint NOT NULL DEFAULT 0,
		oldest timestamptz,
		backlog bigint NOT NULL DEFAULT 0,
		applied bigint NOT NULL DEFAULT 0,
		placeholder bigint NOT NULL DEFAULT 0,
		breaker text NOT NULL DEFAULT '',
		status_set boolean NOT NULL DEFAULT false
	)`,
	`CREATE TABLE IF NOT EXISTS ` + tableApplied + ` (
		pair text NOT NULL,
		id uuid NOT NULL,
		version bigint NOT NULL,
		deleted boolean NOT NULL,
		epoch bigint NOT NULL,
		target_key bytea,
		target_id uuid,
		PRIMARY KEY (pair, id)
	)`,
	// States from before these columns lack them.
	`ALTER TABLE ` + tableApplied + ` ADD COLUMN IF NOT EXISTS target_key bytea`,
	`ALTER TABLE ` + tablePairs + ` ADD COLUMN IF NOT EXISTS oldest timestamptz`,
	`ALTER TABLE ` + tableApplied + ` ADD COLUMN IF NOT EXISTS target_id uuid`,
	`CREATE INDEX IF NOT EXISTS ` + tableApplied + `_target ON ` + tableApplied + ` (pair, target_id) WHERE target_id IS NOT NULL`,
	`CREATE TABLE IF NOT EXISTS ` + tableDead + ` (
		pair text NOT NULL,
		id uuid NOT NULL,
		version bigint NOT NULL,
		payload bytea,
		status integer NOT NULL,
		code text NOT NULL,
		message text NOT NULL,
		attempts integer NOT NULL,
		first timestamptz NOT NULL,
		last timestamptz NOT NULL,
		PRIMARY KEY (pair, id)
	)`,
	`CREATE TABLE IF NOT EXISTS ` + tableLeases + ` (
		pair text PRIMARY KEY,
		owner text NOT NULL,
		expires timestamptz NOT NULL
	)`,
}

func (p *Postgres) migrate(ctx context.Context, schema string) error {
	return p.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLock)); err != nil {
			return fmt.Errorf("state: migrate: lock: %w", err)
		}
		if schema != "" {
			if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
				return fmt.Errorf("state: migrate: create schema %s: %w", schema, err)
			}
		}
		for _, stmt := range pgSchema {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("state: migrate: %w", err)
			}
		}
		return nil
	})
}

// tx runs fn in a READ COMMITTED transaction and commits it.
func (p *Postgres) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("state: begin: %w", err)
	}
	defer tx.Rollback(ctx)
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("state: commit: %w", err)
	}
	return nil
}

// Close closes the connections.
func (p *Postgres) Close() error {
	p.pool.Close()
	return nil
}

// Cursor returns the pair's cursor, the zero Cursor when it has none.
func (p *Postgres) Cursor(ctx context.Context, pair string) (replication.Cursor, error) {
	var c replication.Cursor
	var started *time.Time
	err := p.pool.QueryRow(ctx, `SELECT phase, since, until, after, deleted, epoch, read_started
		FROM `+tablePairs+` WHERE pair = $1`, pair).
		Scan(&c.Phase, &c.Since, &c.Until, &c.After, &c.Deleted, &c.Epoch, &started)
	if errors.Is(err, pgx.ErrNoRows) {
		return replication.Cursor{}, nil
	}
	if err != nil {
		return c, fmt.Errorf("state: cursor of %s: %w", pair, err)
	}
	c.ReadStarted = fromPG(started)
	return c, nil
}

// Commit saves the cursor, the applied versions and the resolved dead
// letters in one transaction, which first locks the pair's lease row and
// checks that no other owner than c.Lease holds it unexpired.
func (p *Postgres) Commit(ctx context.Context, pair string, c replication.Commit) error {
	return p.tx(ctx, func(tx pgx.Tx) error {
		if c.Lease != "" {
			if err := checkLease(ctx, tx, pair, c.Lease); err != nil {
				return err
			}
		}
		if !c.KeepCursor {
			cur := c.Cursor
			if _, err := tx.Exec(ctx, `INSERT INTO `+tablePairs+`
				(pair, phase, since, until, after, deleted, epoch, read_started) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
				ON CONFLICT (pair) DO UPDATE SET phase = excluded.phase, since = excluded.since,
				until = excluded.until, after = excluded.after, deleted = excluded.deleted,
				epoch = excluded.epoch, read_started = excluded.read_started`,
				pair, string(cur.Phase), cur.Since, cur.Until, cur.After.String(), cur.Deleted, cur.Epoch, toPG(cur.ReadStarted)); err != nil {
				return fmt.Errorf("state: commit %s: cursor: %w", pair, err)
			}
		}
		if err := p.apply(ctx, tx, pair, dedupe(c.Applied)); err != nil {
			return err
		}
		return chunks(c.Resolved, pgChunk, func(ids []uuid.UUID) error {
			if _, err := tx.Exec(ctx, `DELETE FROM `+tableDead+` WHERE pair = $1 AND id = ANY($2::uuid[])`, pair, strs(ids)); err != nil {
				return fmt.Errorf("state: commit %s: resolve dead letters: %w", pair, err)
			}
			return nil
		})
	})
}

// checkLease locks the pair's lease row, if any, until the transaction
// ends and fails with ErrLeaseLost when another owner than lease holds it
// unexpired by the database's clock.
func checkLease(ctx context.Context, tx pgx.Tx, pair, lease string) error {
	var owner string
	var live bool
	err := tx.QueryRow(ctx, `SELECT owner, expires > now() FROM `+tableLeases+` WHERE pair = $1 FOR UPDATE`, pair).Scan(&owner, &live)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("state: commit %s: lease: %w", pair, err)
	}
	if owner != lease && live {
		return replication.ErrLeaseLost
	}
	return nil
}

// apply upserts the applied records, a chunk per statement.
func (p *Postgres) apply(ctx context.Context, tx pgx.Tx, pair string, recs []replication.AppliedRecord) error {
	for len(recs) > 0 {
		k := min(pgChunk, len(recs))
		ids, versions, deleted, epochs, keys := make([]string, k), make([]int64, k), make([]bool, k), make([]int64, k), make([][]byte, k)
		targets := make([]*string, k)
		for i, r := range recs[:k] {
			ids[i], versions[i], deleted[i], epochs[i], keys[i] = r.ID.String(), r.Version, r.Deleted, r.Epoch, r.Key
			if r.Target != uuid.Nil {
				t := r.Target.String()
				targets[i] = &t
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+tableApplied+` (pair, id, version, deleted, epoch, target_key, target_id)
			SELECT $1, * FROM unnest($2::uuid[], $3::bigint[], $4::boolean[], $5::bigint[], $6::bytea[], $7::uuid[])
			ON CONFLICT (pair, id) DO UPDATE SET version = excluded.version, deleted = excluded.deleted,
			epoch = excluded.epoch, target_key = excluded.target_key, target_id = excluded.target_id`,
			pair, ids, versions, deleted, epochs, keys, targets); err != nil {
			return fmt.Errorf("state: commit %s: applied: %w", pair, err)
		}
		recs = recs[k:]
	}
	return nil
}

// Versions returns the recorded source version of each id that has one.
func (p *Postgres) Versions(ctx context.Context, pair string, ids []uuid.UUID) (map[uuid.UUID]replication.Applied, error) {
	out := make(map[uuid.UUID]replication.Applied, len(ids))
	err := chunks(ids, pgChunk, func(ids []uuid.UUID) error {
		rows, err := p.pool.Query(ctx, `SELECT id, version, deleted, epoch, target_key, coalesce(target_id, '00000000-0000-0000-0000-000000000000') FROM `+tableApplied+`
			WHERE pair = $1 AND id = ANY($2::uuid[])`, pair, strs(ids))
		if err != nil {
			return fmt.Errorf("state: versions of %s: %w", pair, err)
		}
		defer rows.Close()
		for rows.Next() {
			var id uuid.UUID
			var a replication.Applied
			if err := rows.Scan(&id, &a.Version, &a.Deleted, &a.Epoch, &a.Key, &a.Target); err != nil {
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
func (p *Postgres) Stale(ctx context.Context, pair string, epoch int64, after uuid.UUID, limit int) ([]replication.AppliedRecord, error) {
	rows, err := p.pool.Query(ctx, `SELECT id, version, deleted, epoch, target_key, coalesce(target_id, '00000000-0000-0000-0000-000000000000') FROM `+tableApplied+`
		WHERE pair = $1 AND NOT deleted AND epoch < $2 AND id > $3 ORDER BY id LIMIT $4`, pair, epoch, after.String(), limit)
	if err != nil {
		return nil, fmt.Errorf("state: stale records of %s: %w", pair, err)
	}
	defer rows.Close()
	var out []replication.AppliedRecord
	for rows.Next() {
		var r replication.AppliedRecord
		if err := rows.Scan(&r.ID, &r.Version, &r.Deleted, &r.Epoch, &r.Key, &r.Target); err != nil {
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
func (p *Postgres) Owners(ctx context.Context, pair string, targets []uuid.UUID) (map[uuid.UUID]uuid.UUID, error) {
	out := make(map[uuid.UUID]uuid.UUID, len(targets))
	err := chunks(targets, pgChunk, func(ids []uuid.UUID) error {
		rows, err := p.pool.Query(ctx, `SELECT target_id, id FROM `+tableApplied+`
			WHERE pair = $1 AND target_id = ANY($2::uuid[]) AND NOT deleted`, pair, strs(ids))
		if err != nil {
			return fmt.Errorf("state: owners in %s: %w", pair, err)
		}
		defer rows.Close()
		for rows.Next() {
			var target, id uuid.UUID
			if err := rows.Scan(&target, &id); err != nil {
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
