package replication

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/client"
	"github.com/eventual-pp/eventual/instance"
	"github.com/eventual-pp/eventual/internal/teststore"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/eventual-pp/eventual/placeholder"
	"github.com/eventual-pp/eventual/webapi"
	"github.com/google/uuid"
)

// env is two instances on loopback, A (placeholders off) and B
// (placeholders on), and a syncer from A to B through Web API clients.
type env struct {
	t      *testing.T
	ctx    context.Context
	schema *eventual.Schema
	a, b   *instance.Instance
	down   atomic.Bool  // B answers 503 to everything
	sentB  atomic.Int64 // requests B saw
	state  State
	sync   *Syncer
}

// newEnv starts A and B over a store kind and a syncer of the tables.
func newEnv(t *testing.T, kind teststore.Kind, tables ...string) *env {
	t.Helper()
	var ts []Table
	for _, name := range tables {
		ts = append(ts, Table{Name: name})
	}
	return newEnvWith(t, kind, Options{Tables: ts, Adopt: true})
}

// newEnvWith is newEnv with the syncer's options: Tables, Adopt and the
// other settings a test gives over the harness's ends, state and logger.
func newEnvWith(t *testing.T, kind teststore.Kind, opts Options) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), schema: metadata.Builtin(), state: newMemState()}
	e.a = instance.New(kind.Open(t, e.schema), e.schema)
	e.b = instance.New(kind.Open(t, e.schema), e.schema)
	e.withPlaceholders()
	src := e.records(e.a, nil)
	dst := e.records(e.b, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e.sentB.Add(1)
			if e.down.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	opts.Source, opts.Target, opts.SourceSchema, opts.TargetSchema, opts.State = src, dst, e.schema, e.schema, e.state
	if opts.Batch == 0 {
		opts.Batch = 3
	}
	opts.Logger = slog.New(slog.DiscardHandler)
	if os.Getenv("SYNC_TEST_LOG") != "" {
		opts.Logger = slog.Default()
	}
	var err error
	e.sync, err = New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// records serves an instance's Web API on loopback and returns a client
// for it, without retries (the tests count requests).
func (e *env) records(in *instance.Instance, wrap func(http.Handler) http.Handler) *client.Records {
	srv := webapi.NewServer(in, e.schema, in.Store.Meta())
	srv.Logger = slog.New(slog.DiscardHandler)
	h := srv.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	ts := httptest.NewServer(h)
	e.t.Cleanup(ts.Close)
	c, err := client.New(ts.URL, client.Options{MaxAttempts: 1, Logger: slog.New(slog.DiscardHandler),
		Breaker: client.BreakerOptions{Failures: 3, OpenFor: 20 * time.Millisecond}})
	if err != nil {
		e.t.Fatal(err)
	}
	return client.NewRecords(c, e.schema)
}

// withPlaceholders registers B's placeholder steps for every built-in
// lookup, as `eventual serve` does with placeholders on.
func (e *env) withPlaceholders() {
	var names []string
	for _, t := range metadata.BuiltinTables() {
		names = append(names, t.LogicalName)
	}
	steps, err := placeholder.Steps(e.schema, placeholder.Defaults(e.schema, names...))
	if err != nil {
		e.t.Fatal(err)
	}
	for _, st := range steps {
		if err := e.b.Pipeline.Register(st); err != nil {
			e.t.Fatal(err)
		}
	}
}

// catchUp runs the syncer until nothing is left, failing the test on an
// error.
func (e *env) catchUp() {
	e.t.Helper()
	if err := e.sync.CatchUp(e.ctx); err != nil {
		e.t.Fatalf("catch up: %v", err)
	}
}

// create creates a record on an instance.
func (e *env) create(in *instance.Instance, table string, vals eventual.Values) uuid.UUID {
	e.t.Helper()
	id, err := in.Create(e.ctx, &eventual.Entity{Table: e.schema.Table(table), Values: vals})
	if err != nil {
		e.t.Fatalf("create %s: %v", table, err)
	}
	return id
}

// rows reads every record of a table, by id.
func (e *env) rows(in *instance.Instance, table string) map[uuid.UUID]*eventual.Record {
	e.t.Helper()
	out := map[uuid.UUID]*eventual.Record{}
	q := &eventual.Query{Table: e.schema.Table(table), Limit: 5000}
	page, err := in.RetrieveMultiple(e.ctx, q, nil, false)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, rec := range page.Records {
		out[rec.ID] = rec
	}
	return out
}

// converged checks that B holds every record of A with A's values of
// every copied column, and nothing A does not have but placeholders whose
// source row does not exist.
func (e *env) converged(tables ...string) {
	e.t.Helper()
	for _, name := range tables {
		p, err := e.sync.opts.plan(Table{Name: name})
		if err != nil {
			e.t.Fatal(err)
		}
		as, bs := e.rows(e.a, name), e.rows(e.b, name)
		for id, ar := range as {
			br, ok := bs[id]
			if !ok {
				e.t.Errorf("%s %v (%v) is missing on B", name, id, ar.Values[p.src.PrimaryNameAttribute])
				continue
			}
			if st := br.Values[eventual.ColumnHydrationState]; st == eventual.HydrationPlaceholder {
				e.t.Errorf("%s %v is still a placeholder on B", name, id)
			}
			for _, c := range p.copy {
				if !sameValue(ar.Values[c], br.Values[c]) {
					e.t.Errorf("%s %v: %s is %v on A, %v on B", name, id, c, ar.Values[c], br.Values[c])
				}
			}
		}
		for id, br := range bs {
			if _, ok := as[id]; !ok && br.Values[eventual.ColumnHydrationState] != eventual.HydrationPlaceholder {
				e.t.Errorf("%s %v (%v) is on B, not on A", name, id, br.Values[p.dst.PrimaryNameAttribute])
			}
		}
	}
}

// sameValue compares column values; references by table and id.
func sameValue(a, b any) bool {
	ra, okA := a.(eventual.EntityReference)
	rb, okB := b.(eventual.EntityReference)
	if okA || okB {
		return okA && okB && ra.ID == rb.ID && ra.Table.LogicalName == rb.Table.LogicalName
	}
	ta, okA := a.(time.Time)
	tb, okB := b.(time.Time)
	if okA || okB {
		return okA && okB && ta.Equal(tb)
	}
	return reflect.DeepEqual(a, b)
}
