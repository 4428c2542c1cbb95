package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eventual-pp/eventual/replication"
	"github.com/google/uuid"
)

// harness is one store under the contract suite.
type harness struct {
	// open opens the store under test; each call opens the same one
	// again (the same file or schema).
	open func(t *testing.T) replication.State
	// ttl is a lease time to live that expire makes run out.
	ttl    time.Duration
	expire func(t *testing.T)
	// expireAll makes every lease of the store expire now, whatever its
	// ttl.
	expireAll func(t *testing.T, s replication.State)
}

// runSuite runs the State contract on the stores mk makes, a fresh one
// for each test.
func runSuite(t *testing.T, mk func(t *testing.T) *harness) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"CursorRoundTrip", testCursorRoundTrip},
		{"CommitAtomic", testCommitAtomic},
		{"VersionsMany", testVersionsMany},
		{"DeadLetters", testDeadLetters},
		{"Leases", testLeases},
		{"Statuses", testStatuses},
		{"Reopen", testReopen},
		{"Stale", testStale},
		{"KeepCursor", testKeepCursor},
		{"Owners", testOwners},
		{"LeaseRace", testLeaseRace},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, mk(t)) })
	}
}

// openT opens h's store and closes it when the test ends.
func openT(t *testing.T, h *harness) replication.State {
	t.Helper()
	s := h.open(t)
	t.Cleanup(func() { s.Close() })
	return s
}

// stamp is a time that both stores keep exactly (PostgreSQL keeps
// microseconds), in a zone other than UTC.
var stamp = time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.FixedZone("X", 3600))

func sampleCursor(n int64) replication.Cursor {
	return replication.Cursor{
		Phase:       replication.PhaseDelta,
		Since:       fmt.Sprintf("since-%d", n),
		Until:       fmt.Sprintf("until-%d", n),
		After:       uuid.New(),
		Deleted:     n%2 == 1,
		Epoch:       n,
		ReadStarted: stamp.Add(time.Duration(n) * time.Second),
	}
}

func mustCursor(t *testing.T, s replication.State, pair string) replication.Cursor {
	t.Helper()
	c, err := s.Cursor(context.Background(), pair)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sameCursor(t *testing.T, got, want replication.Cursor) {
	t.Helper()
	if !got.ReadStarted.Equal(want.ReadStarted) || got.ReadStarted.Location() != time.UTC && !got.ReadStarted.IsZero() {
		t.Errorf("ReadStarted = %v, want %v in UTC", got.ReadStarted, want.ReadStarted)
	}
	got.ReadStarted, want.ReadStarted = time.Time{}, time.Time{}
	if got != want {
		t.Errorf("cursor = %+v, want %+v", got, want)
	}
}

func testCursorRoundTrip(t *testing.T, h *harness) {
	ctx := context.Background()
	s := openT(t, h)
	if c := mustCursor(t, s, "a"); c != (replication.Cursor{}) {
		t.Fatalf("cursor of a new pair = %+v, want zero", c)
	}
	for n := int64(1); n <= 2; n++ {
		want := sampleCursor(n)
		if err := s.Commit(ctx, "a", replication.Commit{Cursor: want}); err != nil {
			t.Fatal(err)
		}
		sameCursor(t, mustCursor(t, s, "a"), want)
	}
	// The zero cursor round-trips too (a pair reset to the initial read).
	if err := s.Commit(ctx, "b", replication.Commit{Cursor: replication.Cursor{Phase: replication.PhaseInitial}}); err != nil {
		t.Fatal(err)
	}
	sameCursor(t, mustCursor(t, s, "b"), replication.Cursor{Phase: replication.PhaseInitial})
	if c := mustCursor(t, s, "a"); c.Epoch != 2 {
		t.Errorf("pair a changed by a commit of b: %+v", c)
	}
}

func testCommitAtomic(t *testing.T, h *harness) {
	ctx := context.Background()
	s := openT(t, h)
	ids := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	for _, id := range ids {
		if err := s.AddDeadLetter(ctx, replication.DeadLetter{Pair: "p", ID: id, Version: 1, Status: 400}); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := s.AcquireLease(ctx, "p", "me", time.Hour); err != nil || !ok {
		t.Fatalf("AcquireLease = %v, %v", ok, err)
	}
	first := replication.Commit{
		Cursor: sampleCursor(1),
		Applied: []replication.AppliedRecord{
			{ID: ids[0], Applied: replication.Applied{Version: 10, Epoch: 1}},
			{ID: ids[1], Applied: replication.Applied{Version: 11, Deleted: true, Epoch: 1}},
		},
		Resolved: ids[:2],
		Lease:    "me",
	}
	if err := s.Commit(ctx, "p", first); err != nil {
		t.Fatal(err)
	}
	sameCursor(t, mustCursor(t, s, "p"), first.Cursor)
	wantVersions(t, s, "p", ids, map[uuid.UUID]replication.Applied{
		ids[0]: {Version: 10, Epoch: 1}, ids[1]: {Version: 11, Deleted: true, Epoch: 1}})
	wantDeadIDs(t, s, "p", ids[2:])

	// Another owner takes the pair: a commit under the old lease writes
	// nothing.
	h.expireAll(t, s)
	if ok, err := s.AcquireLease(ctx, "p", "other", time.Hour); err != nil || !ok {
		t.Fatalf("AcquireLease(other) = %v, %v", ok, err)
	}
	lost := replication.Commit{
		Cursor:   sampleCursor(2),
		Applied:  []replication.AppliedRecord{{ID: ids[0], Applied: replication.Applied{Version: 99, Epoch: 2}}, {ID: ids[2], Applied: replication.Applied{Version: 98}}},
		Resolved: ids[2:],
		Lease:    "me",
	}
	if err := s.Commit(ctx, "p", lost); !errors.Is(err, replication.ErrLeaseLost) {
		t.Fatalf("Commit under a lost lease = %v, want ErrLeaseLost", err)
	}
	sameCursor(t, mustCursor(t, s, "p"), first.Cursor)
	wantVersions(t, s, "p", ids, map[uuid.UUID]replication.Applied{
		ids[0]: {Version: 10, Epoch: 1}, ids[1]: {Version: 11, Deleted: true, Epoch: 1}})
	wantDeadIDs(t, s, "p", ids[2:])

	// Nobody holding an unexpired lease, any owner's commit lands: the
	// other's lease expired, and pair q has none.
	h.expireAll(t, s)
	if err := s.Commit(ctx, "p", replication.Commit{Cursor: sampleCursor(3), Lease: "me"}); err != nil {
		t.Fatalf("Commit after the other's lease expired: %v", err)
	}
	if err := s.Commit(ctx, "q", replication.Commit{Cursor: sampleCursor(3), Lease: "me"}); err != nil {
		t.Fatalf("Commit under a lease nobody holds: %v", err)
	}
	if err := s.Commit(ctx, "p", replication.Commit{Cursor: sampleCursor(4)}); err != nil {
		t.Fatalf("Commit without a lease: %v", err)
	}
}

func wantVersions(t *testing.T, s replication.State, pair string, ids []uuid.UUID, want map[uuid.UUID]replication.Applied) {
	t.Helper()
	got, err := s.Versions(context.Background(), pair, ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("Versions returned %d ids, want %d", len(got), len(want))
	}
	for id, w := range want {
		if g := got[id]; g.Version != w.Version || g.Deleted != w.Deleted || g.Epoch != w.Epoch || !bytes.Equal(g.Key, w.Key) {
			t.Errorf("Versions[%s] = %+v, want %+v", id, got[id], w)
		}
	}
}

func wantDeadIDs(t *testing.T, s replication.State, pair string, want []uuid.UUID) {
	t.Helper()
	ds, err := s.DeadLetters(context.Background(), pair)
	if err != nil {
		t.Fatal(err)
	}
	var got []uuid.UUID
	for _, d := range ds {
		got = append(got, d.ID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("dead letters of %q = %v, want %v", pair, got, want)
	}
}

func testVersionsMany(t *testing.T, h *harness) {
	ctx := context.Background()
	s := openT(t, h)
	const n = 2500
	var recs []replication.AppliedRecord
	var ids []uuid.UUID
	want := map[uuid.UUID]replication.Applied{}
	for i := range n {
		id := uuid.New()
		a := replication.Applied{Version: int64(i + 1), Deleted: i%7 == 0, Epoch: int64(i % 3)}
		if i%5 == 0 {
			a.Key = fmt.Appendf(nil, `{"accountnumber":"K%d"}`, i)
		}
		recs = append(recs, replication.AppliedRecord{ID: id, Applied: a})
		ids = append(ids, id)
		want[id] = a
	}
	// The same id twice in one commit: the last one wins.
	recs = append(recs, replication.AppliedRecord{ID: ids[0], Applied: replication.Applied{Version: 5000, Epoch: 9}})
	want[ids[0]] = replication.Applied{Version: 5000, Epoch: 9}
	if err := s.Commit(ctx, "p", replication.Commit{Cursor: sampleCursor(1), Applied: recs}); err != nil {
		t.Fatal(err)
	}
	// Another pair's records with the same ids do not show.
	if err := s.Commit(ctx, "other", replication.Commit{Applied: recs[:10]}); err != nil {
		t.Fatal(err)
	}
	ask := append(slices.Clone(ids), uuid.New(), uuid.New())
	wantVersions(t, s, "p", ask, want)
	wantVersions(t, s, "nobody", ids, nil)
	wantVersions(t, s, "p", nil, nil)
	// A later commit updates.
	if err := s.Commit(ctx, "p", replication.Commit{Applied: []replication.AppliedRecord{{ID: ids[1], Applied: replication.Applied{Version: 7, Deleted: true, Epoch: 2}}}}); err != nil {
		t.Fatal(err)
	}
	wantVersions(t, s, "p", ids[1:2], map[uuid.UUID]replication.Applied{ids[1]: {Version: 7, Deleted: true, Epoch: 2}})
}

func testDeadLetters(t *testing.T, h *harness) {
	ctx := context.Background()
	s := openT(t, h)
	a, b, c := uuid.New(), uuid.New(), uuid.New()
	add := func(d replication.DeadLetter) {
		t.Helper()
		if err := s.AddDeadLetter(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	add(replication.DeadLetter{Pair: "p", ID: b, Version: 2, Payload: []byte(`{"b":1}`), Status: 400, Code: "0x1", Message: "bad",
		First: stamp.Add(2 * time.Second), Last: stamp.Add(2 * time.Second)})
	add(replication.DeadLetter{Pair: "p", ID: a, Version: 1, Payload: []byte(`{"a":1}`), Status: 412, Code: "0x2", Message: "old",
		First: stamp.Add(time.Second), Last: stamp.Add(time.Second)})
	add(replication.DeadLetter{Pair: "q", ID: c, Version: 3, First: stamp.Add(3 * time.Second), Last: stamp.Add(3 * time.Second)})
	wantDeadIDs(t, s, "p", []uuid.UUID{a, b})
	wantDeadIDs(t, s, "", []uuid.UUID{a, b, c})
	wantDeadIDs(t, s, "none", nil)

	// Replacing keeps the first time, counts the attempt, takes the rest.
	later := stamp.Add(time.Hour)
	add(replication.DeadLetter{Pair: "p", ID: a, Version: 5, Payload: []byte(`{"a":2}`), Status: 422, Code: "0x3", Message: "new",
		First: later, Last: later})
	ds, err := s.DeadLetters(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	got := ds[0]
	want := replication.DeadLetter{Pair: "p", ID: a, Version: 5, Payload: []byte(`{"a":2}`), Status: 422, Code: "0x3", Message: "new", Attempts: 2}
	if !got.First.Equal(stamp.Add(time.Second)) || !got.Last.Equal(later) || got.First.Location() != time.UTC {
		t.Errorf("times = %v, %v; want %v, %v in UTC", got.First, got.Last, stamp.Add(time.Second), later)
	}
	if string(got.Payload) != string(want.Payload) {
		t.Errorf("payload = %s, want %s", got.Payload, want.Payload)
	}
	got.First, got.Last, got.Payload, want.Payload = time.Time{}, time.Time{}, nil, nil
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("replaced dead letter = %+v, want %+v", got, want)
	}
	if ds[1].Attempts != 1 {
		t.Errorf("attempts of a new dead letter = %d, want 1", ds[1].Attempts)
	}

	if err := s.DropDeadLetter(ctx, "p", b); err != nil {
		t.Fatal(err)
	}
	if err := s.DropDeadLetter(ctx, "p", b); err != nil {
		t.Fatalf("dropping a missing dead letter: %v", err)
	}
	if err := s.DropDeadLetter(ctx, "p", c); err != nil { // c is q's
		t.Fatal(err)
	}
	wantDeadIDs(t, s, "", []uuid.UUID{a, c})

	// Without times, the store's clock fills them in.
	add(replication.DeadLetter{Pair: "r", ID: b})
	ds, err = s.DeadLetters(ctx, "r")
	if err != nil || len(ds) != 1 || ds[0].First.IsZero() || !ds[0].First.Equal(ds[0].Last) {
		t.Fatalf("dead letter without times = %+v, %v", ds, err)
	}
}

func testLeases(t *testing.T, h *harness) {
	ctx := context.Background()
	s := openT(t, h)
	acquire := func(pair, owner string, want bool) {
		t.Helper()
		ok, err := s.AcquireLease(ctx, pair, owner, h.ttl)
		if err != nil || ok != want {
			t.Fatalf("AcquireLease(%s, %s) = %v, %v; want %v", pair, owner, ok, err, want)
		}
	}
	commit := func(owner string, want error) {
		t.Helper()
		if err := s.Commit(ctx, "p", replication.Commit{Cursor: replication.Cursor{Since: owner}, Lease: owner}); !errors.Is(err, want) {
			t.Fatalf("Commit under %s = %v, want %v", owner, err, want)
		}
	}
	acquire("p", "a", true)
	acquire("p", "b", false)
	acquire("q", "b", true) // leases are per pair
	acquire("p", "a", true) // renewal
	commit("a", nil)
	commit("b", replication.ErrLeaseLost)

	h.expire(t)
	commit("a", nil) // expired, but nobody took it
	commit("c", nil) // expired: nobody holds it
	acquire("p", "b", true)
	acquire("p", "a", false)
	commit("a", replication.ErrLeaseLost)
	commit("b", nil)
	if c := mustCursor(t, s, "p"); c.Since != "b" {
		t.Errorf("cursor after the handover = %q, want b's", c.Since)
	}

	if err := s.ReleaseLease(ctx, "p", "a"); err != nil { // not a's: no effect
		t.Fatal(err)
	}
	acquire("p", "a", false)
	if err := s.ReleaseLease(ctx, "p", "b"); err != nil {
		t.Fatal(err)
	}
	commit("c", nil) // released: nobody holds it
	acquire("p", "a", true)
	commit("c", replication.ErrLeaseLost)
	if _, err := s.AcquireLease(ctx, "p", "", h.ttl); err == nil {
		t.Error("AcquireLease with no owner succeeded")
	}
}

func testStatuses(t *testing.T, h *harness) {
	ctx := context.Background()
	s := openT(t, h)
	if m, err := s.Statuses(ctx); err != nil || len(m) != 0 {
		t.Fatalf("Statuses of a new state = %v, %v", m, err)
	}
	want := map[string]replication.Status{
		"a": {LastCycle: stamp, LastError: "boom", Lag: 1500 * time.Millisecond, Oldest: stamp.Add(-time.Minute), Backlog: 3, Applied: 42, Placeholder: 2, Breaker: "open"},
		"b": {Applied: 1},
	}
	if err := s.Commit(ctx, "a", replication.Commit{Cursor: sampleCursor(5)}); err != nil {
		t.Fatal(err)
	}
	for pair, st := range want {
		if err := s.SetStatus(ctx, pair, st); err != nil {
			t.Fatal(err)
		}
	}
	// A pair with only a cursor has no status.
	if err := s.Commit(ctx, "c", replication.Commit{Cursor: sampleCursor(1)}); err != nil {
		t.Fatal(err)
	}
	wantStatuses(t, s, want)
	// Status and cursor are saved apart.
	sameCursor(t, mustCursor(t, s, "a"), func() replication.Cursor { c := sampleCursor(5); c.After = mustCursor(t, s, "a").After; return c }())
	if err := s.Commit(ctx, "a", replication.Commit{Cursor: sampleCursor(6)}); err != nil {
		t.Fatal(err)
	}
	wantStatuses(t, s, want)
	if c := mustCursor(t, s, "b"); c != (replication.Cursor{}) {
		t.Errorf("cursor of a pair with only a status = %+v, want zero", c)
	}
}

func wantStatuses(t *testing.T, s replication.State, want map[string]replication.Status) {
	t.Helper()
	got, err := s.Statuses(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("Statuses = %v, want %v", got, want)
	}
	for pair, w := range want {
		g := got[pair]
		if !g.LastCycle.Equal(w.LastCycle) || !g.LastCycle.IsZero() && g.LastCycle.Location() != time.UTC {
			t.Errorf("status %s: LastCycle = %v, want %v in UTC", pair, g.LastCycle, w.LastCycle)
		}
		if !g.Oldest.Equal(w.Oldest) {
			t.Errorf("status %s: Oldest = %v, want %v", pair, g.Oldest, w.Oldest)
		}
		g.LastCycle, w.LastCycle, g.Oldest, w.Oldest = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if g != w {
			t.Errorf("status %s = %+v, want %+v", pair, g, w)
		}
	}
}

func testReopen(t *testing.T, h *harness) {
	ctx := context.Background()
	s := h.open(t)
	id := uuid.New()
	cur := sampleCursor(3)
	steps := []error{
		s.AddDeadLetter(ctx, replication.DeadLetter{Pair: "p", ID: id, Payload: []byte("x"), First: stamp, Last: stamp}),
		s.Commit(ctx, "p", replication.Commit{Cursor: cur, Applied: []replication.AppliedRecord{{ID: id, Applied: replication.Applied{Version: 4, Epoch: 3}}}}),
		s.SetStatus(ctx, "p", replication.Status{Applied: 9, LastCycle: stamp}),
	}
	if ok, err := s.AcquireLease(ctx, "p", "me", time.Hour); err != nil || !ok {
		t.Fatalf("AcquireLease = %v, %v", ok, err)
	}
	if err := errors.Join(steps...); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, h)
	sameCursor(t, mustCursor(t, s, "p"), cur)
	wantVersions(t, s, "p", []uuid.UUID{id}, map[uuid.UUID]replication.Applied{id: {Version: 4, Epoch: 3}})
	wantDeadIDs(t, s, "p", []uuid.UUID{id})
	wantStatuses(t, s, map[string]replication.Status{"p": {Applied: 9, LastCycle: stamp}})
	if ok, err := s.AcquireLease(ctx, "p", "other", time.Hour); err != nil || ok {
		t.Errorf("the lease did not survive the reopen: AcquireLease(other) = %v, %v", ok, err)
	}
}

// testLeaseRace has owners race for a pair, each committing under its
// own name: only the holder's commits land, the others' all fail with
// ErrLeaseLost; after the lease expires, the race starts again.
func testLeaseRace(t *testing.T, h *harness) {
	ctx := context.Background()
	s := openT(t, h)
	const owners, rounds = 6, 8
	var previous string
	for phase := range 2 {
		var mu sync.Mutex
		landed := map[string]int{}
		var wg sync.WaitGroup
		for o := range owners {
			owner := fmt.Sprintf("owner-%d-%d", phase, o)
			wg.Go(func() {
				for k := range rounds {
					if _, err := s.AcquireLease(ctx, "p", owner, time.Hour); err != nil {
						t.Error(err)
						return
					}
					err := s.Commit(ctx, "p", replication.Commit{Cursor: replication.Cursor{Since: fmt.Sprintf("%s/%d", owner, k)}, Lease: owner})
					if err != nil && !errors.Is(err, replication.ErrLeaseLost) {
						t.Error(err)
					}
					if err == nil {
						mu.Lock()
						landed[owner]++
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		if len(landed) != 1 {
			t.Fatalf("phase %d: commits landed for %v, want exactly one owner", phase, landed)
		}
		var holder string
		for owner, n := range landed {
			holder = owner
			if n != rounds {
				t.Errorf("phase %d: %d of %s's commits landed, want %d", phase, n, owner, rounds)
			}
		}
		// An owner's commits are in order, so the cursor is the holder's
		// last.
		if c, want := mustCursor(t, s, "p"), fmt.Sprintf("%s/%d", holder, rounds-1); c.Since != want {
			t.Errorf("phase %d: cursor %q, want %q", phase, c.Since, want)
		}
		if previous != "" {
			if err := s.Commit(ctx, "p", replication.Commit{Lease: previous}); !errors.Is(err, replication.ErrLeaseLost) {
				t.Errorf("the previous holder's commit after the handover = %v, want ErrLeaseLost", err)
			}
		}
		previous = holder
		h.expireAll(t, s)
	}
}

// testStale: Stale pages, in id order, through the records not deleted of
// an older epoch, keys included.
func testStale(t *testing.T, h *harness) {
	ctx := context.Background()
	s := openT(t, h)
	var recs []replication.AppliedRecord
	var want []uuid.UUID
	for i := range 30 {
		r := replication.AppliedRecord{ID: uuid.New(), Applied: replication.Applied{Version: int64(i), Epoch: int64(1 + i%2), Deleted: i%3 == 0,
			Key: fmt.Appendf(nil, `{"k":%d}`, i)}}
		recs = append(recs, r)
		if r.Epoch == 1 && !r.Deleted {
			want = append(want, r.ID)
		}
	}
	if err := s.Commit(ctx, "p", replication.Commit{Applied: recs}); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, "q", replication.Commit{Applied: recs}); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(want, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	var got []uuid.UUID
	after := uuid.Nil
	for {
		page, err := s.Stale(ctx, "p", 2, after, 4)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page {
			if r.Deleted || r.Epoch >= 2 || !bytes.HasPrefix(r.Key, []byte(`{"k":`)) {
				t.Errorf("Stale returned %+v", r)
			}
			got = append(got, r.ID)
		}
		if len(page) < 4 {
			break
		}
		after = page[len(page)-1].ID
	}
	if !slices.Equal(got, want) {
		t.Errorf("Stale = %v, want %v", got, want)
	}
	if page, err := s.Stale(ctx, "p", 1, uuid.Nil, 100); err != nil || len(page) != 0 {
		t.Errorf("Stale of epoch 1 = %v, %v; want none", page, err)
	}
}

// testKeepCursor: a commit with KeepCursor records applied records and
// leaves the cursor alone.
func testKeepCursor(t *testing.T, h *harness) {
	ctx := context.Background()
	s := openT(t, h)
	want := sampleCursor(3)
	if err := s.Commit(ctx, "p", replication.Commit{Cursor: want}); err != nil {
		t.Fatal(err)
	}
	id := uuid.New()
	if err := s.Commit(ctx, "p", replication.Commit{KeepCursor: true, Cursor: sampleCursor(9),
		Applied: []replication.AppliedRecord{{ID: id, Applied: replication.Applied{Epoch: 3, Key: []byte(`[{"k":1}]`)}}}}); err != nil {
		t.Fatal(err)
	}
	sameCursor(t, mustCursor(t, s, "p"), want)
	wantVersions(t, s, "p", []uuid.UUID{id}, map[uuid.UUID]replication.Applied{id: {Epoch: 3, Key: []byte(`[{"k":1}]`)}})
}

// testOwners: the target id a record is written to reads back with it,
// and Owners finds the record by it, in its own pair only, while the
// record is not deleted; a record without a target is nobody's owner.
func testOwners(t *testing.T, h *harness) {
	ctx := context.Background()
	s := openT(t, h)
	var recs []replication.AppliedRecord
	var ids, targets []uuid.UUID
	for i := range 250 { // more than a statement's chunk
		r := replication.AppliedRecord{ID: uuid.New(), Applied: replication.Applied{Version: int64(i), Epoch: 1, Key: []byte(`[{"k":1}]`), Target: uuid.New()}}
		recs = append(recs, r)
		ids, targets = append(ids, r.ID), append(targets, r.Target)
	}
	keyless := replication.AppliedRecord{ID: uuid.New(), Applied: replication.Applied{Version: 1, Epoch: 1}}
	recs = append(recs, keyless)
	if err := s.Commit(ctx, "p", replication.Commit{Applied: recs}); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, "q", replication.Commit{Applied: recs[:1]}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Versions(ctx, "p", []uuid.UUID{ids[0], keyless.ID})
	if err != nil {
		t.Fatal(err)
	}
	if got[ids[0]].Target != targets[0] || got[keyless.ID].Target != uuid.Nil {
		t.Errorf("Versions: targets %v and %v, want %v and none", got[ids[0]].Target, got[keyless.ID].Target, targets[0])
	}
	owners, err := s.Owners(ctx, "p", append(slices.Clone(targets), uuid.New(), uuid.Nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(owners) != len(targets) {
		t.Errorf("Owners found %d, want %d", len(owners), len(targets))
	}
	for i, tg := range targets {
		if owners[tg] != ids[i] {
			t.Fatalf("Owners[%v] = %v, want %v", tg, owners[tg], ids[i])
		}
	}
	gone := recs[0]
	gone.Deleted = true
	if err := s.Commit(ctx, "p", replication.Commit{Applied: []replication.AppliedRecord{gone}}); err != nil {
		t.Fatal(err)
	}
	if owners, err := s.Owners(ctx, "p", targets[:2]); err != nil || len(owners) != 1 || owners[targets[1]] != ids[1] {
		t.Errorf("Owners after a deletion = %v, %v; want only %v", owners, err, ids[1])
	}
	if owners, err := s.Owners(ctx, "q", targets[1:3]); err != nil || len(owners) != 0 {
		t.Errorf("Owners in another pair = %v, %v; want none", owners, err)
	}
}
