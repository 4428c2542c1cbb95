package status

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Defaults of NewHistory.
const (
	// DefaultEvery is how often Run samples when NewHistory is given 0.
	DefaultEvery = 5 * time.Second
	// DefaultWindow is how much history is kept when NewHistory is given 0.
	DefaultWindow = time.Hour
	// MaxHydrations bounds the time-to-hydrate values a History keeps.
	MaxHydrations = 10000
)

// breakerStates maps a breaker's state to the number its series records.
var breakerStates = map[string]float64{"closed": 0, "half-open": 1, "open": 2}

// History samples a Source and keeps the samples of the last window in
// memory, for the page's plots, along with the latest snapshot. Memory is
// bounded: the samples live in a ring buffer of window/every+2 entries (so
// sampling more often than every keeps less than the window), and at most
// MaxHydrations time-to-hydrate values are kept. A History is safe for
// concurrent use.
type History struct {
	src    Source
	every  time.Duration
	window time.Duration

	mu      sync.Mutex
	latest  Snapshot
	err     error     // the last sample's error
	ring    []sample  // the samples, a ring buffer of fixed length
	start   int       // the index in ring of the oldest sample
	n       int       // the number of samples in ring
	hydrate []hydrate // time-to-hydrate values, in the order first seen
	seen    map[hydrationKey]bool
}

// sample is what History records of one snapshot.
type sample struct {
	at       time.Time
	pending  *float64 // nil on a snapshot without an instance
	lag      []point
	backlog  []point
	breakers []point
}

// point is the value of one named series in a sample; value is nil when
// unknown (a breaker in a state breakerStates lacks).
type point struct {
	name  string
	value *float64
}

// hydrate is one time-to-hydrate value.
type hydrate struct {
	key     hydrationKey
	seconds float64
}

// hydrationKey identifies a hydration, to count it once however many
// snapshots list it.
type hydrationKey struct {
	table, id  string
	hydratedAt int64 // Unix nanoseconds: time.Time values with different locations compare unequal
}

// NewHistory returns a History that samples src every every (DefaultEvery
// if 0) and keeps window (DefaultWindow if 0) of samples.
func NewHistory(src Source, every, window time.Duration) *History {
	if every <= 0 {
		every = DefaultEvery
	}
	if window <= 0 {
		window = DefaultWindow
	}
	return &History{
		src:    src,
		every:  every,
		window: window,
		ring:   make([]sample, int(window/every)+2),
		seen:   map[hydrationKey]bool{},
	}
}

// MaxShare bounds the time Run spends sampling: after a sample that took
// d, the next waits at least MaxShare × d (a source that counts the rows
// of big tables then samples less often than its interval, so that the
// page costs the server at most about 1% of its time).
const MaxShare = 100

// Run samples the source now and then every h's interval (or less often,
// see MaxShare) until ctx ends. A failed sample is kept, for the page to
// show (see Err), and sampling goes on.
func (h *History) Run(ctx context.Context) {
	t := time.NewTimer(h.every)
	defer t.Stop()
	for {
		start := time.Now()
		_ = h.Sample(ctx) // kept in h.err for the page
		t.Reset(max(h.every, MaxShare*time.Since(start)))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sample takes one sample now: it calls the source, keeps the snapshot as
// the latest, appends its values to the series, collects the hydrations
// not seen before and drops what is older than the window, as measured
// from the snapshot's time.
func (h *History) Sample(ctx context.Context) error {
	snap, err := h.src(ctx)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.err = fmt.Errorf("sample status: %w", err)
		return h.err
	}
	h.err = nil
	if snap.Time.IsZero() {
		snap.Time = time.Now()
	}
	h.latest = snap

	s := sample{at: snap.Time}
	if h.n > 0 {
		// uPlot needs ascending x values: a clock that went back must not
		// fold the plot over itself.
		if last := h.ring[(h.start+h.n-1)%len(h.ring)].at; !s.at.After(last) {
			s.at = last.Add(time.Millisecond)
		}
	}
	if in := snap.Instance; in != nil {
		s.pending = float(float64(in.Pending))
		for _, hy := range in.Hydrations {
			h.collect(hy, s.at)
		}
	}
	if sy := snap.Sync; sy != nil {
		for _, t := range sy.Tables {
			s.lag = append(s.lag, point{t.Table, float(t.Lag.Seconds())})
			s.backlog = append(s.backlog, point{t.Table, float(float64(t.Backlog))})
		}
		for _, b := range sy.Breakers {
			p := point{name: b.Endpoint}
			if v, ok := breakerStates[b.State]; ok {
				p.value = float(v)
			}
			s.breakers = append(s.breakers, p)
		}
	}
	h.push(s)
	h.trim(s.at.Add(-h.window))
	return nil
}

// collect adds the time-to-hydrate of hy if it is new and in the window.
func (h *History) collect(hy Hydration, now time.Time) {
	k := hydrationKey{hy.Table, hy.ID, hy.HydratedAt.UnixNano()}
	if h.seen[k] || hy.PlaceholderSince.IsZero() || hy.HydratedAt.Before(now.Add(-h.window)) {
		return
	}
	h.seen[k] = true
	h.hydrate = append(h.hydrate, hydrate{k, max(hy.HydratedAt.Sub(hy.PlaceholderSince).Seconds(), 0)})
	if len(h.hydrate) > MaxHydrations {
		delete(h.seen, h.hydrate[0].key)
		h.hydrate = slices.Delete(h.hydrate, 0, 1)
	}
}

// push appends s to the ring, overwriting the oldest sample when full.
func (h *History) push(s sample) {
	if h.n == len(h.ring) {
		h.ring[h.start] = s
		h.start = (h.start + 1) % len(h.ring)
		return
	}
	h.ring[(h.start+h.n)%len(h.ring)] = s
	h.n++
}

// trim drops the samples and hydrations older than cutoff.
func (h *History) trim(cutoff time.Time) {
	for h.n > 0 && h.ring[h.start].at.Before(cutoff) {
		h.ring[h.start] = sample{}
		h.start = (h.start + 1) % len(h.ring)
		h.n--
	}
	c := cutoff.UnixNano()
	h.hydrate = slices.DeleteFunc(h.hydrate, func(v hydrate) bool {
		if v.key.hydratedAt < c {
			delete(h.seen, v.key)
			return true
		}
		return false
	})
}

// Latest returns the latest snapshot, the zero Snapshot before the first
// successful sample.
func (h *History) Latest() Snapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.latest
}

// Err returns the error of the last sample, nil if it succeeded.
func (h *History) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

// Data is what the page's script plots: the latest snapshot and the series
// of the window, ready for JSON. Every series has one value per entry of
// Times, null (a nil pointer) where the sample had no value, as uPlot
// expects.
type Data struct {
	// Snapshot is the latest snapshot.
	Snapshot Snapshot `json:"snapshot"`
	// Error is the last sample's error, "" if it succeeded.
	Error string `json:"error,omitempty"`
	// Times are the samples' times, in Unix seconds (with milliseconds),
	// oldest first.
	Times []float64 `json:"times"`
	// Pending is the number of placeholders pending.
	Pending []*float64 `json:"pending"`
	// Lag is the sync's lag in seconds, one series per table.
	Lag []Series `json:"lag"`
	// Backlog is the sync's backlog, one series per table.
	Backlog []Series `json:"backlog"`
	// Breakers is the state of each endpoint's breaker as a number
	// (closed 0, half-open 1, open 2; null for any other state), one
	// series per endpoint.
	Breakers []Series `json:"breakers"`
	// Hydrate holds the time-to-hydrate of the hydrations of the window,
	// in seconds, in the order they were seen.
	Hydrate []float64 `json:"hydrate"`
}

// Series is one named line of a plot. A series that first appears in a
// later sample has nulls before it.
type Series struct {
	Name   string     `json:"name"`
	Values []*float64 `json:"values"`
}

// Data returns the latest snapshot and the series of the window.
func (h *History) Data() Data {
	h.mu.Lock()
	defer h.mu.Unlock()
	samples := make([]sample, h.n)
	for i := range samples {
		samples[i] = h.ring[(h.start+i)%len(h.ring)]
	}
	d := Data{
		Snapshot: h.latest,
		Times:    make([]float64, len(samples)),
		Pending:  make([]*float64, len(samples)),
		Lag:      series(samples, func(s sample) []point { return s.lag }),
		Backlog:  series(samples, func(s sample) []point { return s.backlog }),
		Breakers: series(samples, func(s sample) []point { return s.breakers }),
		Hydrate:  make([]float64, len(h.hydrate)),
	}
	if h.err != nil {
		d.Error = h.err.Error()
	}
	for i, s := range samples {
		d.Times[i] = float64(s.at.UnixMilli()) / 1000
		d.Pending[i] = clone(s.pending)
	}
	for i, v := range h.hydrate {
		d.Hydrate[i] = v.seconds
	}
	return d
}

// series returns the series pick finds in samples, in the order they first
// appear.
func series(samples []sample, pick func(sample) []point) []Series {
	out := []Series{}
	index := map[string]int{}
	for i, s := range samples {
		for _, p := range pick(s) {
			j, ok := index[p.name]
			if !ok {
				j = len(out)
				index[p.name] = j
				out = append(out, Series{Name: p.name, Values: make([]*float64, len(samples))})
			}
			out[j].Values[i] = clone(p.value)
		}
	}
	return out
}

func float(v float64) *float64 { return &v }

// clone returns a copy of *p, so Data's callers cannot change the history.
func clone(p *float64) *float64 {
	if p == nil {
		return nil
	}
	return float(*p)
}
