package status_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/eventual-pp/eventual/status"
)

// fakeSource is a Source whose snapshot the test sets.
type fakeSource struct {
	mu    sync.Mutex
	snap  status.Snapshot
	err   error
	calls int
}

// set makes s the snapshot the source returns from now on.
func (f *fakeSource) set(s status.Snapshot) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.snap, f.err = s, nil
}

// fail makes the source fail with err.
func (f *fakeSource) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// Source is the status.Source.
func (f *fakeSource) Source(ctx context.Context) (status.Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return f.snap, f.err
}

// sampleAll takes one sample of each snapshot, in order.
func sampleAll(t *testing.T, h *status.History, src *fakeSource, snaps []status.Snapshot) {
	t.Helper()
	for _, s := range snaps {
		src.set(s)
		if err := h.Sample(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// at returns t0 plus sec seconds.
func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

// unix returns t0 plus sec seconds, in Unix seconds.
func unix(sec int) float64 { return float64(at(sec).Unix()) }

// f returns a pointer to v.
func f(v float64) *float64 { return &v }

// vals turns numbers into series values; null (any negative number) is a
// missing value.
func vals(vs ...float64) []*float64 {
	out := make([]*float64, len(vs))
	for i, v := range vs {
		if v >= 0 {
			out[i] = f(v)
		}
	}
	return out
}

const null = -1

func instance(pending int64, hydrations ...status.Hydration) *status.InstanceSnapshot {
	return &status.InstanceSnapshot{Pending: pending, Hydrations: hydrations}
}

func syncOf(tables []status.SyncTable, breakers ...status.Breaker) *status.SyncSnapshot {
	return &status.SyncSnapshot{Tables: tables, Breakers: breakers}
}

func lagTable(name string, lag time.Duration, backlog int64) status.SyncTable {
	return status.SyncTable{Table: name, Lag: lag, Backlog: backlog}
}

func TestHistorySeries(t *testing.T) {
	for _, tc := range []struct {
		name  string
		snaps []status.Snapshot
		want  status.Data // only the series are compared
	}{
		{
			name: "Empty",
			want: status.Data{Times: []float64{}, Pending: []*float64{}, Lag: []status.Series{}, Backlog: []status.Series{}, Breakers: []status.Series{}},
		},
		{
			name: "Aligned",
			snaps: []status.Snapshot{
				{Time: at(0), Instance: instance(3)},
				{Time: at(5), Instance: instance(2)},
				{Time: at(10), Instance: instance(0)},
			},
			want: status.Data{
				Times:   []float64{unix(0), unix(5), unix(10)},
				Pending: vals(3, 2, 0),
				Lag:     []status.Series{}, Backlog: []status.Series{}, Breakers: []status.Series{},
			},
		},
		{
			name: "SyncSeries",
			snaps: []status.Snapshot{
				{Time: at(0), Sync: syncOf([]status.SyncTable{lagTable("account", 1500*time.Millisecond, 7), lagTable("contact", 0, 0)},
					status.Breaker{Endpoint: "A", State: "closed"}, status.Breaker{Endpoint: "B", State: "open"})},
				{Time: at(5), Sync: syncOf([]status.SyncTable{lagTable("account", 2*time.Second, 3), lagTable("contact", time.Second, 1)},
					status.Breaker{Endpoint: "A", State: "closed"}, status.Breaker{Endpoint: "B", State: "half-open"})},
			},
			want: status.Data{
				Times:    []float64{unix(0), unix(5)},
				Pending:  vals(null, null),
				Lag:      []status.Series{{Name: "account", Values: vals(1.5, 2)}, {Name: "contact", Values: vals(0, 1)}},
				Backlog:  []status.Series{{Name: "account", Values: vals(7, 3)}, {Name: "contact", Values: vals(0, 1)}},
				Breakers: []status.Series{{Name: "A", Values: vals(0, 0)}, {Name: "B", Values: vals(2, 1)}},
			},
		},
		{
			name: "LateSeriesStartWithNulls",
			snaps: []status.Snapshot{
				{Time: at(0), Sync: syncOf([]status.SyncTable{lagTable("account", time.Second, 1)})},
				{Time: at(5), Instance: instance(4), Sync: syncOf([]status.SyncTable{lagTable("account", time.Second, 1), lagTable("contact", 3*time.Second, 2)},
					status.Breaker{Endpoint: "B", State: "open"})},
				{Time: at(10), Instance: instance(5), Sync: syncOf([]status.SyncTable{lagTable("contact", 4*time.Second, 2)},
					status.Breaker{Endpoint: "B", State: "closed"})},
			},
			want: status.Data{
				Times:    []float64{unix(0), unix(5), unix(10)},
				Pending:  vals(null, 4, 5),
				Lag:      []status.Series{{Name: "account", Values: vals(1, 1, null)}, {Name: "contact", Values: vals(null, 3, 4)}},
				Backlog:  []status.Series{{Name: "account", Values: vals(1, 1, null)}, {Name: "contact", Values: vals(null, 2, 2)}},
				Breakers: []status.Series{{Name: "B", Values: vals(null, 2, 0)}},
			},
		},
		{
			name: "UnknownBreakerStateIsNull",
			snaps: []status.Snapshot{
				{Time: at(0), Sync: syncOf(nil, status.Breaker{Endpoint: "A", State: "melting"})},
			},
			want: status.Data{
				Times: []float64{unix(0)}, Pending: vals(null),
				Lag: []status.Series{}, Backlog: []status.Series{},
				Breakers: []status.Series{{Name: "A", Values: vals(null)}},
			},
		},
		{
			name: "ClockBackKeepsTimesAscending",
			snaps: []status.Snapshot{
				{Time: at(10), Instance: instance(1)},
				{Time: at(5), Instance: instance(2)},
			},
			want: status.Data{
				Times:   []float64{unix(10), unix(10) + 0.001},
				Pending: vals(1, 2),
				Lag:     []status.Series{}, Backlog: []status.Series{}, Breakers: []status.Series{},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &fakeSource{}
			h := status.NewHistory(src.Source, 5*time.Second, time.Hour)
			sampleAll(t, h, src, tc.snaps)
			d := h.Data()
			got := status.Data{Times: d.Times, Pending: d.Pending, Lag: d.Lag, Backlog: d.Backlog, Breakers: d.Breakers}
			if !reflect.DeepEqual(got, tc.want) {
				gj, _ := json.Marshal(got)
				wj, _ := json.Marshal(tc.want)
				t.Errorf("series:\n got %s\nwant %s", gj, wj)
			}
			for _, s := range slicesOf(d) {
				if len(s.Values) != len(d.Times) {
					t.Errorf("series %q has %d values for %d times", s.Name, len(s.Values), len(d.Times))
				}
			}
			if n := len(tc.snaps); n > 0 && !reflect.DeepEqual(d.Snapshot, tc.snaps[n-1]) {
				t.Errorf("Snapshot = %+v, want the last one, %+v", d.Snapshot, tc.snaps[n-1])
			}
		})
	}
}

func slicesOf(d status.Data) []status.Series {
	return append(append(append([]status.Series{}, d.Lag...), d.Backlog...), d.Breakers...)
}

func TestHistoryWindow(t *testing.T) {
	for _, tc := range []struct {
		name      string
		every     time.Duration
		step      int // seconds between samples
		samples   int
		wantFirst int // seconds of the oldest sample kept
		wantLen   int
	}{
		// A one-minute window keeps the samples of the last minute, both
		// ends included.
		{name: "DropsOlderThanWindow", every: 10 * time.Second, step: 10, samples: 16, wantFirst: 90, wantLen: 7},
		// Sampling faster than every fills the ring buffer, which bounds
		// memory at window/every+2 samples.
		{name: "RingBoundsMemory", every: 10 * time.Second, step: 1, samples: 30, wantFirst: 22, wantLen: 8},
		{name: "UnderWindowKeepsAll", every: 10 * time.Second, step: 10, samples: 3, wantFirst: 0, wantLen: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &fakeSource{}
			h := status.NewHistory(src.Source, tc.every, time.Minute)
			for i := range tc.samples {
				src.set(status.Snapshot{Time: at(i * tc.step), Instance: instance(int64(i))})
				if err := h.Sample(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			d := h.Data()
			if got := len(d.Times); got != tc.wantLen {
				t.Fatalf("len(Times) = %d, want %d", got, tc.wantLen)
			}
			if got, want := d.Times[0], unix(tc.wantFirst); got != want {
				t.Errorf("Times[0] = %v, want %v", got, want)
			}
			if got, want := d.Times[len(d.Times)-1], unix((tc.samples-1)*tc.step); got != want {
				t.Errorf("last time = %v, want %v", got, want)
			}
			if got, want := *d.Pending[0], float64(tc.wantFirst/tc.step); got != want {
				t.Errorf("Pending[0] = %v, want %v (aligned with Times)", got, want)
			}
		})
	}
}

func TestHistoryHydrate(t *testing.T) {
	hyd := func(id string, since, hydrated int) status.Hydration {
		return status.Hydration{Table: "account", ID: id, PlaceholderSince: at(since), HydratedAt: at(hydrated)}
	}
	paris := time.FixedZone("Paris", 3600)
	for _, tc := range []struct {
		name  string
		snaps []status.Snapshot
		want  []float64
	}{
		{
			name: "CountedOnceAcrossSnapshots",
			snaps: []status.Snapshot{
				{Time: at(10), Instance: instance(0, hyd("1", 0, 4))},
				{Time: at(15), Instance: instance(0, hyd("2", 5, 15), hyd("1", 0, 4))},
				{Time: at(20), Instance: instance(0, hyd("2", 5, 15), hyd("1", 0, 4))},
			},
			want: []float64{4, 10},
		},
		{
			name: "SameInstantOtherZoneIsTheSame",
			snaps: []status.Snapshot{
				{Time: at(10), Instance: instance(0, hyd("1", 0, 4))},
				{Time: at(15), Instance: instance(0, status.Hydration{Table: "account", ID: "1", PlaceholderSince: at(0), HydratedAt: at(4).In(paris)})},
			},
			want: []float64{4},
		},
		{
			name: "HydratedAgainCountsAgain",
			snaps: []status.Snapshot{
				{Time: at(10), Instance: instance(0, hyd("1", 0, 4))},
				{Time: at(20), Instance: instance(0, hyd("1", 12, 20), hyd("1", 0, 4))},
			},
			want: []float64{4, 8},
		},
		{
			name: "NoPlaceholderTimeSkipped",
			snaps: []status.Snapshot{
				{Time: at(10), Instance: instance(0, status.Hydration{Table: "account", ID: "1", HydratedAt: at(4)})},
			},
			want: []float64{},
		},
		{
			name: "DroppedAfterWindow",
			snaps: []status.Snapshot{
				{Time: at(10), Instance: instance(0, hyd("1", 0, 4))},
				{Time: at(50), Instance: instance(0, hyd("2", 40, 50), hyd("1", 0, 4))},
				// 4 is now more than a minute ago: dropped, and not counted
				// again although the source still lists it.
				{Time: at(70), Instance: instance(0, hyd("2", 40, 50), hyd("1", 0, 4))},
			},
			want: []float64{10},
		},
		{
			name: "OlderThanWindowIgnored",
			snaps: []status.Snapshot{
				{Time: at(300), Instance: instance(0, hyd("1", 0, 4))},
			},
			want: []float64{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &fakeSource{}
			h := status.NewHistory(src.Source, 5*time.Second, time.Minute)
			sampleAll(t, h, src, tc.snaps)
			if got := h.Data().Hydrate; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Hydrate = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestHistoryRun(t *testing.T) {
	for _, tc := range []struct {
		name        string
		every, wait time.Duration
		want        int
	}{
		{name: "SamplesNowThenEveryTick", every: 5 * time.Second, wait: 12 * time.Second, want: 3},
		{name: "DefaultEvery", every: 0, wait: 21 * time.Second, want: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				src := &fakeSource{}
				src.set(status.Snapshot{Instance: instance(1)}) // no time: the History stamps it
				h := status.NewHistory(src.Source, tc.every, 0)
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan struct{})
				go func() {
					h.Run(ctx)
					close(done)
				}()
				start := time.Now()
				time.Sleep(tc.wait)
				synctest.Wait()
				d := h.Data()
				if got := len(d.Times); got != tc.want {
					t.Errorf("after %v: %d samples, want %d", tc.wait, got, tc.want)
				}
				every := cmp.Or(tc.every, status.DefaultEvery)
				if len(d.Times) > 1 {
					if got, want := d.Times[1]-d.Times[0], every.Seconds(); got != want {
						t.Errorf("samples %vs apart, want %vs", got, want)
					}
				}
				if got, want := d.Snapshot.Time, start.Add(time.Duration(tc.want-1)*every); !got.Equal(want) {
					t.Errorf("latest snapshot time %v, want %v", got, want)
				}
				cancel()
				<-done
			})
		})
	}
}

// A failing source leaves the latest snapshot and the series as they were,
// the error in Err and Data, and Run keeps sampling.
func TestHistorySampleError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{}
		src.set(status.Snapshot{Title: "ok", Instance: instance(1)})
		h := status.NewHistory(src.Source, time.Second, time.Minute)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go h.Run(ctx)
		synctest.Wait()

		boom := errors.New("database is locked")
		src.fail(boom)
		time.Sleep(time.Second)
		synctest.Wait()
		if err := h.Err(); !errors.Is(err, boom) {
			t.Fatalf("Err() = %v, want %v", err, boom)
		}
		d := h.Data()
		if got, want := d.Error, "sample status: database is locked"; got != want {
			t.Errorf("Data().Error = %q, want %q", got, want)
		}
		if got, want := len(d.Times), 1; got != want {
			t.Errorf("%d samples, want %d", got, want)
		}
		if got := h.Latest().Title; got != "ok" {
			t.Errorf("Latest().Title = %q, want the last good snapshot's", got)
		}

		src.set(status.Snapshot{Title: "back", Instance: instance(2)})
		time.Sleep(time.Second)
		synctest.Wait()
		if err := h.Err(); err != nil {
			t.Errorf("Err() after recovery = %v, want nil", err)
		}
		if got := h.Latest().Title; got != "back" {
			t.Errorf("Latest().Title = %q, want %q", got, "back")
		}
	})
}

// Data is a copy: changing it does not change the history.
func TestHistoryDataIsACopy(t *testing.T) {
	src := &fakeSource{}
	h := status.NewHistory(src.Source, time.Second, time.Minute)
	sampleAll(t, h, src, []status.Snapshot{{Time: at(0), Instance: instance(1), Sync: syncOf([]status.SyncTable{lagTable("a", time.Second, 1)})}})
	d := h.Data()
	*d.Pending[0] = 99
	*d.Lag[0].Values[0] = 99
	d = h.Data()
	if *d.Pending[0] != 1 || *d.Lag[0].Values[0] != 1 {
		t.Errorf("Data() after changing an earlier result: pending %v, lag %v; want 1, 1", *d.Pending[0], *d.Lag[0].Values[0])
	}
}

func TestSyncTableJSON(t *testing.T) {
	in := status.SyncTable{Table: "account", Phase: "incremental", Lag: 2500 * time.Millisecond, Backlog: 3, Applied: 10, DeadLetters: 1, LastError: "boom"}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"table":"account","phase":"incremental","backlog":3,"applied":10,"deadLetters":1,"lastError":"boom","lag":2.5}`; got != want {
		t.Errorf("Marshal = %s\nwant %s", got, want)
	}
	var out status.SyncTable
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Errorf("round trip = %+v, want %+v", out, in)
	}
}

// A slow source is sampled less often: after a sample that took d, Run
// waits MaxShare × d (here 50 ms × 100 = 5 s) rather than its 1 s
// interval, so that sampling big tables costs about 1% of the time.
func TestHistoryRunBacksOffASlowSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var at []time.Time
		slow := func(ctx context.Context) (status.Snapshot, error) {
			time.Sleep(50 * time.Millisecond)
			mu.Lock()
			at = append(at, time.Now())
			mu.Unlock()
			return status.Snapshot{Title: "slow", Instance: instance(1)}, nil
		}
		h := status.NewHistory(slow, time.Second, time.Hour)
		ctx, cancel := context.WithCancel(t.Context())
		go h.Run(ctx)
		time.Sleep(20 * time.Second)
		cancel()
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if len(at) < 3 || len(at) > 5 {
			t.Fatalf("%d samples in 20 s, want 4 (one every 5.05 s)", len(at))
		}
		for i := 1; i < len(at); i++ {
			if gap := at[i].Sub(at[i-1]); gap != 5*time.Second+50*time.Millisecond {
				t.Errorf("sample %d came %v after the one before, want 5.05s", i, gap)
			}
		}
	})
}
