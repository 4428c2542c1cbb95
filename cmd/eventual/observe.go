package main

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/instance"
	"github.com/eventual-pp/eventual/metrics"
	"github.com/eventual-pp/eventual/replication"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// This file connects what serve and sync do to their metrics and logs:
// the registry (one per process, never the global one), the gauges read
// from the database or the sync's state at scrape time, and the
// observers of the instance.

// newRegistry returns a registry with the Go runtime's and the process's
// collectors.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// instanceGauges reads an instance's gauges from its store
// (metrics.ServeSource).
type instanceGauges struct{ in *instance.Instance }

// placeholderFilter selects a table's pending placeholders.
func placeholderFilter(t *eventual.Table) eventual.Expr {
	return eventual.Compare{Op: eventual.OpEq, Left: eventual.Field{Column: t.Column(eventual.ColumnHydrationState)},
		Right: eventual.Literal{Value: eventual.HydrationPlaceholder}}
}

// Placeholders counts each table's pending placeholders and finds the
// oldest, in one snapshot.
func (g *instanceGauges) Placeholders(ctx context.Context) ([]metrics.TablePlaceholders, error) {
	var out []metrics.TablePlaceholders
	err := g.in.Store.View(ctx, func(tx eventual.ReadTx) error {
		out = out[:0]
		for _, t := range g.in.Schema.Tables() {
			if t.LogicalName == "asyncoperation" || t.Column(eventual.ColumnHydrationState) == nil {
				continue
			}
			n, err := tx.Count(ctx, t, placeholderFilter(t), 0)
			if err != nil {
				return err
			}
			h, err := tx.Count(ctx, t, eventual.Compare{Op: eventual.OpEq, Left: eventual.Field{Column: t.Column(eventual.ColumnHydrationState)},
				Right: eventual.Literal{Value: eventual.HydrationHydrated}}, 0)
			if err != nil {
				return err
			}
			if n == 0 && h == 0 {
				continue
			}
			p := metrics.TablePlaceholders{Table: t.LogicalName, Pending: n, Hydrated: h}
			if n == 0 {
				out = append(out, p)
				continue
			}
			on := t.Column(eventual.ColumnPlaceholderOn)
			recs, err := tx.Query(ctx, &eventual.Query{Table: t, Columns: []*eventual.Column{on}, Filter: placeholderFilter(t),
				OrderBy: []eventual.Order{{Column: on}}, Limit: 1})
			if err != nil {
				return err
			}
			if len(recs) == 1 {
				p.Oldest, _ = recs[0].Values[on.LogicalName].(time.Time)
			}
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

// QueuedJobs counts the async jobs ready to run.
func (g *instanceGauges) QueuedJobs(ctx context.Context) (int64, error) {
	jobs := g.in.Schema.Table("asyncoperation")
	if jobs == nil {
		return 0, nil
	}
	return g.in.Count(ctx, jobs, eventual.Compare{Op: eventual.OpEq, Left: eventual.Field{Column: jobs.Column("statecode")},
		Right: eventual.Literal{Value: instance.JobReady}})
}

// HeadVersion is the store's change token, when it is a number (SQLite's
// is the highest version; PostgreSQL's is a transaction snapshot).
func (g *instanceGauges) HeadVersion(ctx context.Context) (int64, bool, error) {
	var tok string
	err := g.in.Store.View(ctx, func(tx eventual.ReadTx) error {
		var err error
		tok, err = tx.ChangeToken(ctx)
		return err
	})
	if err != nil {
		return 0, false, err
	}
	v, perr := strconv.ParseInt(tok, 10, 64)
	return v, perr == nil, nil
}

// observers tells several instance.Observers the same events.
type observers []instance.Observer

func (os observers) PlaceholderCreated(table string, id uuid.UUID, at time.Time) {
	for _, o := range os {
		o.PlaceholderCreated(table, id, at)
	}
}

func (os observers) PlaceholderHydrated(table string, id uuid.UUID, since, at time.Time) {
	for _, o := range os {
		o.PlaceholderHydrated(table, id, since, at)
	}
}

func (os observers) JobDone(outcome string) {
	for _, o := range os {
		o.JobDone(outcome)
	}
}

// logObserver logs placeholders made (debug) and hydrated (info), and
// async jobs that failed for good (warn).
type logObserver struct{ log *slog.Logger }

func (o logObserver) PlaceholderCreated(table string, id uuid.UUID, at time.Time) {
	o.log.Debug("placeholder created", "table", table, "id", id)
}

func (o logObserver) PlaceholderHydrated(table string, id uuid.UUID, since, at time.Time) {
	args := []any{"table", table, "id", id}
	if !since.IsZero() {
		args = append(args, "after", at.Sub(since).String())
	}
	o.log.Info("placeholder hydrated", args...)
}

func (o logObserver) JobDone(outcome string) {
	if outcome == instance.JobFailedOutcome {
		o.log.Warn("async job failed for good")
	}
}

// syncGauges reads the sync's gauges from its state (metrics.SyncSource).
// Until the state is open (the sync may wait for a peer first), it
// reports no table.
type syncGauges struct {
	tables []string
	now    func() time.Time

	mu sync.Mutex
	st replication.State
}

// setState gives the gauges the state, once open.
func (g *syncGauges) setState(st replication.State) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.st = st
}

// Tables returns each replicated table's figures from the state.
func (g *syncGauges) Tables(ctx context.Context) ([]metrics.SyncTable, error) {
	g.mu.Lock()
	st := g.st
	g.mu.Unlock()
	if st == nil {
		return nil, nil
	}
	statuses, err := st.Statuses(ctx)
	if err != nil {
		return nil, err
	}
	dead, err := st.DeadLetters(ctx, "")
	if err != nil {
		return nil, err
	}
	deadBy := map[string]int{}
	for _, d := range dead {
		deadBy[d.Pair]++
	}
	now := g.now()
	out := make([]metrics.SyncTable, 0, len(g.tables))
	for _, name := range g.tables {
		s, ok := statuses[name]
		t := metrics.SyncTable{Table: name, Backlog: -1, DeadLetters: deadBy[name]}
		if ok {
			t.Backlog, t.Applied = s.Backlog, s.Applied
			t.Lag, t.LagKnown = syncLag(s, now)
		}
		out = append(out, t)
	}
	return out, nil
}

// syncLag is the age of the oldest change not applied, when a cycle read
// one it could not apply; else its bound, the time since the last cycle
// that reached the end of the feed began (statusLag prints the same).
func syncLag(s replication.Status, now time.Time) (time.Duration, bool) {
	switch {
	case !s.Oldest.IsZero():
		return now.Sub(s.Oldest), true
	case !s.LastCycle.IsZero():
		return now.Sub(s.LastCycle) + s.Lag, true
	}
	return 0, false
}
