package replication

import (
	"bytes"
	"context"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"
)

// memState is an in-memory State for the engine's tests, until they run on
// replication/state's stores. It keeps the contract's atomicity with one
// lock.
type memState struct {
	mu       sync.Mutex
	cursors  map[string]Cursor
	applied  map[string]map[uuid.UUID]Applied
	dead     map[string]map[uuid.UUID]DeadLetter
	leases   map[string]lease
	statuses map[string]Status
	commits  int
}

type lease struct {
	owner   string
	expires time.Time
}

func newMemState() *memState {
	return &memState{cursors: map[string]Cursor{}, applied: map[string]map[uuid.UUID]Applied{},
		dead: map[string]map[uuid.UUID]DeadLetter{}, leases: map[string]lease{}, statuses: map[string]Status{}}
}

func (m *memState) Cursor(_ context.Context, pair string) (Cursor, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cursors[pair], nil
}

func (m *memState) Commit(_ context.Context, pair string, c Commit) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.leases[pair]; c.Lease != "" && ok && l.owner != c.Lease && time.Now().Before(l.expires) {
		return ErrLeaseLost
	}
	if !c.KeepCursor {
		m.cursors[pair] = c.Cursor
	}
	if m.applied[pair] == nil {
		m.applied[pair] = map[uuid.UUID]Applied{}
	}
	for _, a := range c.Applied {
		m.applied[pair][a.ID] = a.Applied
	}
	for _, id := range c.Resolved {
		delete(m.dead[pair], id)
	}
	m.commits++
	return nil
}

func (m *memState) Versions(_ context.Context, pair string, ids []uuid.UUID) (map[uuid.UUID]Applied, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[uuid.UUID]Applied{}
	for _, id := range ids {
		if a, ok := m.applied[pair][id]; ok {
			out[id] = a
		}
	}
	return out, nil
}

func (m *memState) Owners(_ context.Context, pair string, targets []uuid.UUID) (map[uuid.UUID]uuid.UUID, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	want := map[uuid.UUID]bool{}
	for _, t := range targets {
		want[t] = true
	}
	out := map[uuid.UUID]uuid.UUID{}
	for id, a := range m.applied[pair] {
		if a.Target != uuid.Nil && !a.Deleted && want[a.Target] {
			out[a.Target] = id
		}
	}
	return out, nil
}

func (m *memState) Stale(_ context.Context, pair string, epoch int64, after uuid.UUID, limit int) ([]AppliedRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []AppliedRecord
	for id, a := range m.applied[pair] {
		if !a.Deleted && a.Epoch < epoch && bytes.Compare(id[:], after[:]) > 0 {
			out = append(out, AppliedRecord{ID: id, Applied: a})
		}
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].ID[:], out[j].ID[:]) < 0 })
	return out[:min(limit, len(out))], nil
}

func (m *memState) AddDeadLetter(_ context.Context, d DeadLetter) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dead[d.Pair] == nil {
		m.dead[d.Pair] = map[uuid.UUID]DeadLetter{}
	}
	if old, ok := m.dead[d.Pair][d.ID]; ok {
		d.First, d.Attempts = old.First, old.Attempts+1
	}
	m.dead[d.Pair][d.ID] = d
	return nil
}

func (m *memState) DeadLetters(_ context.Context, pair string) ([]DeadLetter, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []DeadLetter
	for p, ds := range m.dead {
		if pair != "" && p != pair {
			continue
		}
		for _, d := range ds {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].First.Before(out[j].First) })
	return out, nil
}

func (m *memState) DropDeadLetter(_ context.Context, pair string, id uuid.UUID) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.dead[pair], id)
	return nil
}

func (m *memState) AcquireLease(_ context.Context, pair, owner string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.leases[pair]; ok && l.owner != owner && time.Now().Before(l.expires) {
		return false, nil
	}
	m.leases[pair] = lease{owner, time.Now().Add(ttl)}
	return true, nil
}

func (m *memState) ReleaseLease(_ context.Context, pair, owner string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.leases[pair].owner == owner {
		delete(m.leases, pair)
	}
	return nil
}

func (m *memState) SetStatus(_ context.Context, pair string, s Status) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.statuses[pair] = s
	return nil
}

func (m *memState) Statuses(context.Context) (map[string]Status, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]Status{}
	for k, v := range m.statuses {
		out[k] = v
	}
	return out, nil
}

func (m *memState) Close() error { return nil }
