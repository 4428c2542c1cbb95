package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/instance"
	"github.com/eventual-pp/eventual/status"
)

// This file gives the status page (package status) its snapshots: an
// instance's tables, pending placeholders and recent hydrations, read
// from its store; the sync's tables and breakers, from its state and its
// clients.

// Status page limits: the placeholders and hydrations a snapshot lists,
// and how often the page's history samples.
const (
	statusPlaceholders = 100
	statusHydrations   = 50
	statusEvery        = 2 * time.Second
)

// instanceStatus returns the status page's source for an instance.
func instanceStatus(in *instance.Instance, title string) status.Source {
	return func(ctx context.Context) (status.Snapshot, error) {
		snap := status.Snapshot{Time: in.Time(), Title: title, Instance: &status.InstanceSnapshot{}}
		is := snap.Instance
		var placeholders []status.Placeholder
		var hydrated []status.Hydration
		err := in.Store.View(ctx, func(tx eventual.ReadTx) error {
			is.Tables, is.Pending, placeholders, hydrated = nil, 0, []status.Placeholder{}, []status.Hydration{}
			for _, t := range in.Schema.Tables() {
				if t.LogicalName == "asyncoperation" || t.Column(eventual.ColumnHydrationState) == nil {
					continue
				}
				rows, err := tx.Count(ctx, t, nil, 0)
				if err != nil {
					return fmt.Errorf("count %s: %w", t.LogicalName, err)
				}
				pending, err := tx.Count(ctx, t, placeholderFilter(t), 0)
				if err != nil {
					return fmt.Errorf("count the placeholders of %s: %w", t.LogicalName, err)
				}
				is.Tables = append(is.Tables, status.TableCount{Table: t.LogicalName, Rows: rows, Placeholders: pending})
				is.Pending += pending
				if pending > 0 {
					on := t.Column(eventual.ColumnPlaceholderOn)
					recs, err := tx.Query(ctx, &eventual.Query{Table: t, Filter: placeholderFilter(t),
						OrderBy: []eventual.Order{{Column: on}}, Limit: statusPlaceholders})
					if err != nil {
						return fmt.Errorf("read the placeholders of %s: %w", t.LogicalName, err)
					}
					for _, r := range recs {
						placeholders = append(placeholders, placeholderOf(r))
					}
				}
				hon := t.Column(eventual.ColumnHydratedOn)
				recs, err := tx.Query(ctx, &eventual.Query{Table: t,
					Filter: eventual.Compare{Op: eventual.OpEq, Left: eventual.Field{Column: t.Column(eventual.ColumnHydrationState)},
						Right: eventual.Literal{Value: eventual.HydrationHydrated}},
					OrderBy: []eventual.Order{{Column: hon, Desc: true}}, Limit: statusHydrations})
				if err != nil {
					return fmt.Errorf("read the hydrations of %s: %w", t.LogicalName, err)
				}
				for _, r := range recs {
					p := placeholderOf(r)
					at, _ := r.Values[eventual.ColumnHydratedOn].(time.Time)
					hydrated = append(hydrated, status.Hydration{Table: p.Table, ID: p.ID, Key: p.Key, PlaceholderSince: p.Since, HydratedAt: at})
				}
			}
			tok, err := tx.ChangeToken(ctx)
			if err == nil {
				fmt.Sscan(tok, &is.HeadVersion)
			}
			return nil
		})
		if err != nil {
			return snap, err
		}
		sort.SliceStable(placeholders, func(i, j int) bool { return placeholders[i].Since.Before(placeholders[j].Since) })
		is.Placeholders = placeholders[:min(len(placeholders), statusPlaceholders)]
		sort.SliceStable(hydrated, func(i, j int) bool { return hydrated[i].HydratedAt.After(hydrated[j].HydratedAt) })
		is.Hydrations = hydrated[:min(len(hydrated), statusHydrations)]
		return snap, nil
	}
}

// placeholderOf is the status page's view of a (pending or hydrated)
// placeholder record: its first alternate key whose values it holds.
func placeholderOf(r *eventual.Record) status.Placeholder {
	t := r.Table
	p := status.Placeholder{Table: t.LogicalName, ID: r.ID.String()}
	p.Since, _ = r.Values[eventual.ColumnPlaceholderOn].(time.Time)
	if c, ok := r.Values[eventual.ColumnPlaceholderCorrelation]; ok && c != nil {
		p.CorrelationID = fmt.Sprint(c)
	}
	if t.PrimaryNameAttribute != "" {
		if n, ok := r.Values[t.PrimaryNameAttribute].(string); ok {
			p.Name = n
		}
	}
keys:
	for _, k := range t.Keys {
		var parts []string
		for _, c := range k.Columns {
			v, ok := r.Values[c.LogicalName]
			if !ok || v == nil {
				continue keys
			}
			parts = append(parts, c.LogicalName+"="+fmt.Sprint(v))
		}
		p.Key = strings.Join(parts, ", ")
		break
	}
	return p
}

// syncStatus returns the status page's source for the sync: its tables
// from the state (once open) and each endpoint's breaker.
func syncStatus(obs *syncObservers, title string) status.Source {
	return func(ctx context.Context) (status.Snapshot, error) {
		snap := status.Snapshot{Time: time.Now(), Title: title, Sync: &status.SyncSnapshot{}}
		g := obs.gauges
		g.mu.Lock()
		st := g.st
		g.mu.Unlock()
		for _, name := range []string{"source", "target"} {
			state := "closed"
			if c := obs.client(name); c != nil {
				state = c.State().String()
			}
			snap.Sync.Breakers = append(snap.Sync.Breakers, status.Breaker{Endpoint: name, State: state})
		}
		if st == nil {
			for _, t := range g.tables {
				snap.Sync.Tables = append(snap.Sync.Tables, status.SyncTable{Table: t, Phase: "waiting for the endpoints", Backlog: -1})
			}
			return snap, nil
		}
		statuses, err := st.Statuses(ctx)
		if err != nil {
			return snap, err
		}
		dead, err := st.DeadLetters(ctx, "")
		if err != nil {
			return snap, err
		}
		deadBy := map[string]int{}
		for _, d := range dead {
			deadBy[d.Pair]++
		}
		for _, name := range g.tables {
			s := statuses[name]
			cur, err := st.Cursor(ctx, name)
			if err != nil {
				return snap, err
			}
			lag, _ := syncLag(s, snap.Time)
			snap.Sync.Tables = append(snap.Sync.Tables, status.SyncTable{Table: name, Phase: string(cur.Phase), LastCycle: s.LastCycle,
				Lag: lag, Backlog: s.Backlog, Applied: s.Applied, DeadLetters: deadBy[name], LastError: s.LastError})
		}
		return snap, nil
	}
}
