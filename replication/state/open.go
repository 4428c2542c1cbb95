package state

import (
	"context"
	"strings"
	"time"

	"github.com/eventual-pp/eventual/replication"
	"github.com/google/uuid"
)

// Open opens the state that target names: a postgres:// or postgresql://
// URL opens PostgreSQL (OpenPostgres), anything else is the path of a
// SQLite file (OpenSQLite), created if missing.
func Open(ctx context.Context, target string) (replication.State, error) {
	if IsPostgres(target) {
		return OpenPostgres(ctx, target)
	}
	return OpenSQLite(ctx, target)
}

// IsPostgres reports whether target is a PostgreSQL URL.
func IsPostgres(target string) bool {
	return strings.HasPrefix(target, "postgres://") || strings.HasPrefix(target, "postgresql://")
}

// Table names, shared by both stores.
const (
	tablePairs   = "eventual_sync_pairs"
	tableApplied = "eventual_sync_applied"
	tableDead    = "eventual_sync_dead_letters"
	tableLeases  = "eventual_sync_leases"
)

// dedupe returns the applied records with one record per id, the last one
// given winning, in the order of their first appearance: one statement
// may not update a row twice.
func dedupe(recs []replication.AppliedRecord) []replication.AppliedRecord {
	if len(recs) < 2 {
		return recs
	}
	at := make(map[uuid.UUID]int, len(recs))
	out := make([]replication.AppliedRecord, 0, len(recs))
	for _, r := range recs {
		if i, ok := at[r.ID]; ok {
			out[i] = r
			continue
		}
		at[r.ID] = len(out)
		out = append(out, r)
	}
	return out
}

// chunks calls fn with successive slices of ids of at most n elements.
func chunks(ids []uuid.UUID, n int, fn func([]uuid.UUID) error) error {
	for len(ids) > 0 {
		k := min(n, len(ids))
		if err := fn(ids[:k]); err != nil {
			return err
		}
		ids = ids[k:]
	}
	return nil
}

// deadLetterTimes fills a dead letter's missing times from now.
func deadLetterTimes(d *replication.DeadLetter, now time.Time) {
	if d.Last.IsZero() {
		d.Last = now
	}
	if d.First.IsZero() {
		d.First = d.Last
	}
	d.First, d.Last = d.First.UTC(), d.Last.UTC()
	if d.Attempts <= 0 {
		d.Attempts = 1
	}
}
