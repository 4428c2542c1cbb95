package instance_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/instance"
	"github.com/eventual-pp/eventual/internal/testrun"
	"github.com/eventual-pp/eventual/internal/teststore"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/google/uuid"
)

// This file tests the synchronous event pipeline the instance runs around
// messages: stage order, rank, rollback, target changes, images, depth and
// the loop guard, filtering attributes, shared variables, correlation ids
// and concurrent writes. The job queue of asynchronous steps is tested in
// jobs_test.go.

// storeKind opens empty stores of one kind.
type storeKind = teststore.Kind

// stores lists the stores the pipeline tests run against.
var stores = teststore.All()

// env is an instance over a fresh store with the built-in schema.
type env struct {
	in      *instance.Instance
	store   eventual.Store
	schema  *eventual.Schema
	account *eventual.Table
	contact *eventual.Table
	jobs    *eventual.Table
}

// forEachStore runs fn once per store kind; fn opens as many fresh
// instances as it needs with open.
func forEachStore(t *testing.T, fn func(t *testing.T, open func(tb testing.TB) *env)) {
	t.Helper()
	for _, st := range stores {
		t.Run(st.Name, func(t *testing.T) {
			fn(t, func(tb testing.TB) *env { return mustOpenEnv(tb, st) })
		})
	}
}

// forEachStoreCase runs fn for each case on every store, in a subtest
// named name(tc), with a fresh env and a test context.
func forEachStoreCase[C any](t *testing.T, cases []C, name func(C) string, fn func(t *testing.T, e *env, ctx context.Context, tc C)) {
	t.Helper()
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		for _, tc := range cases {
			t.Run(name(tc), func(t *testing.T) { fn(t, open(t), testContext(t), tc) })
		}
	})
}

// openStore opens a fresh store of kind st for the built-in schema,
// closed (a failure reported) when tb ends.
func openStore(tb testing.TB, st storeKind) (eventual.Store, *eventual.Schema) {
	tb.Helper()
	schema := metadata.Builtin()
	db := st.Open(tb, schema)
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	return db, schema
}

// mustOpenEnv opens an instance over a fresh store, closed when tb ends.
func mustOpenEnv(tb testing.TB, st storeKind) *env {
	tb.Helper()
	db, schema := openStore(tb, st)
	return newEnv(db, schema)
}

func newEnv(db eventual.Store, schema *eventual.Schema) *env {
	return &env{
		in: instance.New(db, schema), store: db, schema: schema,
		account: schema.Table("account"), contact: schema.Table("contact"), jobs: schema.Table("asyncoperation"),
	}
}

// testContext returns a context that ends with the test or after a bound,
// so that no test can hang.
func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(tb.Context(), 60*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// register registers a step, failing the test on error.
func (e *env) register(tb testing.TB, s eventual.Step) {
	tb.Helper()
	if err := e.in.Pipeline.Register(s); err != nil {
		tb.Fatalf("register step %q: %v", s.Name, err)
	}
}

// syncStep returns a synchronous step.
func syncStep(name, message, table string, stage eventual.Stage, fn eventual.PluginFunc) eventual.Step {
	return eventual.Step{Name: name, Message: message, Table: table, Stage: stage, Mode: eventual.Synchronous, Plugin: fn}
}

// mustCreate creates a record (through the pipeline, if steps are
// registered) and returns its id.
func (e *env) mustCreate(tb testing.TB, t *eventual.Table, values eventual.Values) uuid.UUID {
	tb.Helper()
	id, err := e.in.Create(testContext(tb), &eventual.Entity{Table: t, Values: values})
	if err != nil {
		tb.Fatalf("create %s: %v", t.LogicalName, err)
	}
	return id
}

// accountID returns a new account id; when exists, an account with
// values is first created under it (through the pipeline, if steps are
// registered).
func (e *env) accountID(tb testing.TB, exists bool, values eventual.Values) uuid.UUID {
	tb.Helper()
	id := uuid.New()
	if exists {
		if _, err := e.in.Create(testContext(tb), &eventual.Entity{Table: e.account, ID: id, Values: values}); err != nil {
			tb.Fatal(err)
		}
	}
	return id
}

// get reads a record straight from the store, bypassing the pipeline; nil
// if there is none.
func (e *env) get(tb testing.TB, t *eventual.Table, id uuid.UUID) *eventual.Record {
	tb.Helper()
	var rec *eventual.Record
	err := e.store.View(testContext(tb), func(tx eventual.ReadTx) error {
		var err error
		rec, err = tx.Get(context.Background(), t, id, nil)
		return err
	})
	if errors.Is(err, eventual.ErrNotFound) {
		return nil
	}
	if err != nil {
		tb.Fatalf("get %s(%s): %v", t.LogicalName, id, err)
	}
	return rec
}

// count returns the number of records of a table.
func (e *env) count(tb testing.TB, t *eventual.Table) int64 {
	tb.Helper()
	n, err := e.in.Count(testContext(tb), t, nil)
	if err != nil {
		tb.Fatalf("count %s: %v", t.LogicalName, err)
	}
	return n
}

// observation is what a step saw of its execution context. Steps may run
// on a store's writer goroutine, so they record and the test asserts.
type observation struct {
	ec          *eventual.ExecutionContext
	message     string
	table       string
	stage       eventual.Stage
	mode        eventual.Mode
	id          uuid.UUID
	depth       int
	inTx        bool
	correlation uuid.UUID
	parent      *eventual.ExecutionContext
	parentStage eventual.Stage
	output      map[string]any
	shared      map[string]any
	pre, post   map[string]*eventual.Record
	target      *eventual.Entity
	// found and name are what Service.Retrieve returned for the primary
	// record, when the step probed it.
	found bool
	name  any
	err   error
}

func observe(ec *eventual.ExecutionContext) observation {
	o := observation{
		ec: ec, message: ec.MessageName, table: ec.PrimaryEntityName, stage: ec.Stage, mode: ec.Mode, id: ec.PrimaryEntityID,
		depth: ec.Depth, inTx: ec.IsInTransaction, correlation: ec.CorrelationID, parent: ec.ParentContext,
		output: maps.Clone(ec.OutputParameters), shared: maps.Clone(ec.SharedVariables),
		pre: maps.Clone(ec.PreEntityImages), post: maps.Clone(ec.PostEntityImages),
	}
	if ec.ParentContext != nil {
		o.parentStage = ec.ParentContext.Stage
	}
	if t := ec.Target(); t != nil {
		o.target = &eventual.Entity{Table: t.Table, ID: t.ID, Values: t.Values.Clone()}
	}
	return o
}

// recorder collects observations from steps.
type recorder struct {
	mu  sync.Mutex
	obs []observation
}

func (r *recorder) add(o observation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.obs = append(r.obs, o)
}

func (r *recorder) all() []observation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.obs)
}

// labels returns "Message/Stage" for each observation, in order.
func (r *recorder) labels() []string {
	var out []string
	for _, o := range r.all() {
		out = append(out, o.message+"/"+o.stage.String())
	}
	return out
}

// plugin returns a plugin that records what it sees; with probe it also
// reads the primary record through ec.Service.
func (r *recorder) plugin(probe bool) eventual.PluginFunc {
	return func(ctx context.Context, ec *eventual.ExecutionContext) error {
		o := observe(ec)
		if probe && ec.PrimaryEntityID != uuid.Nil {
			t := ec.Target()
			var tbl *eventual.Table
			if t != nil {
				tbl = t.Table
			} else if ref, ok := ec.InputParameters["Target"].(eventual.EntityReference); ok {
				tbl = ref.Table
			}
			rec, err := ec.Service.Retrieve(ctx, eventual.Ref(tbl, ec.PrimaryEntityID), nil)
			switch {
			case err == nil:
				o.found, o.name = true, rec.Values["name"]
			case eventual.ErrorKind(err) != eventual.KindNotFound:
				o.err = err
			}
		}
		r.add(o)
		return nil
	}
}

var stages = []eventual.Stage{eventual.PreValidation, eventual.PreOperation, eventual.PostOperation}

func TestPipelineStageOrder(t *testing.T) {
	type want struct {
		found  bool // the step sees the primary record
		name   any  // and its name
		inTx   bool
		output string // the OutputParameters key set, "" for none
	}
	type pipelineStageOrderCase struct {
		message string
		seed    bool // create the record before registering steps
		probe   bool
		run     func(ctx context.Context, e *env, id uuid.UUID) error
		want    [3]want // PreValidation, PreOperation, PostOperation
	}
	cases := []pipelineStageOrderCase{
		{
			message: eventual.MessageCreate, probe: true,
			run: func(ctx context.Context, e *env, id uuid.UUID) error {
				_, err := e.in.Create(ctx, &eventual.Entity{Table: e.account, ID: id, Values: eventual.Values{"name": "new"}})
				return err
			},
			want: [3]want{{}, {inTx: true}, {found: true, name: "new", inTx: true, output: "id"}},
		},
		{
			message: eventual.MessageUpdate, seed: true, probe: true,
			run: func(ctx context.Context, e *env, id uuid.UUID) error {
				_, err := e.in.Update(ctx, eventual.Ref(e.account, id), eventual.Values{"name": "new"}, eventual.Condition{})
				return err
			},
			want: [3]want{{found: true, name: "old"}, {found: true, name: "old", inTx: true}, {found: true, name: "new", inTx: true}},
		},
		{
			message: eventual.MessageDelete, seed: true, probe: true,
			run: func(ctx context.Context, e *env, id uuid.UUID) error {
				return e.in.Delete(ctx, eventual.Ref(e.account, id), eventual.Condition{})
			},
			want: [3]want{{found: true, name: "old"}, {found: true, name: "old", inTx: true}, {inTx: true}},
		},
		{
			// Reads run outside any transaction; steps must not probe
			// through Service, which would run Retrieve again.
			message: eventual.MessageRetrieve, seed: true,
			run: func(ctx context.Context, e *env, id uuid.UUID) error {
				_, err := e.in.Retrieve(ctx, eventual.Ref(e.account, id), nil, nil, "")
				return err
			},
			want: [3]want{{}, {}, {output: "BusinessEntity"}},
		},
		{
			message: eventual.MessageRetrieveMultiple, seed: true,
			run: func(ctx context.Context, e *env, id uuid.UUID) error {
				_, err := e.in.RetrieveMultiple(ctx, &eventual.Query{Table: e.account}, nil, false)
				return err
			},
			want: [3]want{{}, {}, {output: "BusinessEntityCollection"}},
		},
	}
	forEachStoreCase(t, cases, func(tc pipelineStageOrderCase) string { return tc.message }, func(t *testing.T, e *env, ctx context.Context, tc pipelineStageOrderCase) {
		id := e.accountID(t, tc.seed, eventual.Values{"name": "old"})
		var rec recorder
		// Registered out of stage order: stages, not registration,
		// decide the order.
		for _, st := range []eventual.Stage{eventual.PostOperation, eventual.PreOperation, eventual.PreValidation} {
			e.register(t, syncStep("rec-"+st.String(), tc.message, "account", st, rec.plugin(tc.probe)))
		}
		if err := tc.run(ctx, e, id); err != nil {
			t.Fatalf("%s: %v", tc.message, err)
		}
		obs := rec.all()
		if got, want := rec.labels(), []string{tc.message + "/PreValidation", tc.message + "/PreOperation", tc.message + "/PostOperation"}; !slices.Equal(got, want) {
			t.Fatalf("steps ran as %v, want %v", got, want)
		}
		for i, o := range obs {
			w := tc.want[i]
			if o.err != nil {
				t.Errorf("%s: probe: %v", o.stage, o.err)
			}
			if o.stage != stages[i] || o.mode != eventual.Synchronous || o.table != "account" || o.depth != 1 || o.parent != nil {
				t.Errorf("%s: stage %v mode %v table %q depth %d parent %v, want %v synchronous account depth 1 no parent",
					stages[i], o.stage, o.mode, o.table, o.depth, o.parent != nil, stages[i])
			}
			if tc.message != eventual.MessageRetrieveMultiple && o.id != id {
				t.Errorf("%s: PrimaryEntityID = %s, want %s", o.stage, o.id, id)
			}
			if tc.probe && (o.found != w.found || o.name != w.name) {
				t.Errorf("%s: step sees record found=%v name=%v, want found=%v name=%v", o.stage, o.found, o.name, w.found, w.name)
			}
			if o.inTx != w.inTx {
				t.Errorf("%s: IsInTransaction = %v, want %v", o.stage, o.inTx, w.inTx)
			}
			var keys []string
			for k := range o.output {
				keys = append(keys, k)
			}
			if w.output == "" && len(keys) > 0 {
				t.Errorf("%s: OutputParameters = %v before the main operation, want none", o.stage, keys)
			}
			if w.output != "" && o.output[w.output] == nil {
				t.Errorf("%s: OutputParameters has %v, want %q", o.stage, keys, w.output)
			}
		}
		post := obs[2].output
		switch tc.message {
		case eventual.MessageCreate:
			if got := post["id"]; got != id {
				t.Errorf("OutputParameters[id] = %v, want %s", got, id)
			}
		case eventual.MessageRetrieve:
			if r, ok := post["BusinessEntity"].(*eventual.Record); !ok || r.ID != id {
				t.Errorf("OutputParameters[BusinessEntity] = %#v, want the record %s", post["BusinessEntity"], id)
			}
		case eventual.MessageRetrieveMultiple:
			if rs, ok := post["BusinessEntityCollection"].([]*eventual.Record); !ok || len(rs) != 1 || rs[0].ID != id {
				t.Errorf("OutputParameters[BusinessEntityCollection] = %#v, want the one record %s", post["BusinessEntityCollection"], id)
			}
		}
		// One execution context runs through the stages.
		if obs[0].ec != obs[1].ec || obs[1].ec != obs[2].ec || obs[0].ec.OperationID == uuid.Nil {
			t.Errorf("stages did not share one execution context with an operation id")
		}
	})
}

func TestPipelineUpsertRunsInnerMessage(t *testing.T) {
	type pipelineUpsertRunsInnerMessageCase struct {
		name    string
		exists  bool
		inner   string
		created bool
	}
	cases := []pipelineUpsertRunsInnerMessageCase{
		{"Create", false, eventual.MessageCreate, true},
		{"Update", true, eventual.MessageUpdate, false},
	}
	forEachStoreCase(t, cases, func(tc pipelineUpsertRunsInnerMessageCase) string { return tc.name }, func(t *testing.T, e *env, ctx context.Context, tc pipelineUpsertRunsInnerMessageCase) {
		id := e.accountID(t, tc.exists, eventual.Values{"name": "old"})
		var rec recorder
		for _, msg := range []string{eventual.MessageUpsert, eventual.MessageCreate, eventual.MessageUpdate} {
			for _, st := range stages {
				e.register(t, syncStep(msg+"-"+st.String(), msg, "account", st, rec.plugin(false)))
			}
		}
		created, gotID, err := e.in.Upsert(ctx, eventual.Ref(e.account, id), &eventual.Entity{Table: e.account, ID: id, Values: eventual.Values{"name": "upserted"}}, eventual.Condition{})
		if err != nil {
			t.Fatalf("upsert: %v", err)
		}
		if created != tc.created || gotID != id {
			t.Errorf("upsert = (%v, %s), want (%v, %s)", created, gotID, tc.created, id)
		}
		want := []string{"Upsert/PreValidation", "Upsert/PreOperation",
			tc.inner + "/PreValidation", tc.inner + "/PreOperation", tc.inner + "/PostOperation", "Upsert/PostOperation"}
		if got := rec.labels(); !slices.Equal(got, want) {
			t.Fatalf("steps ran as %v, want %v", got, want)
		}
		obs := rec.all()
		outer := obs[0].ec
		for _, o := range obs[2:5] {
			if o.parent != outer || o.parent.MessageName != eventual.MessageUpsert {
				t.Errorf("%s/%s: ParentContext is not the Upsert's context", o.message, o.stage)
			}
			// The platform runs the inner message: same depth, same
			// correlation, inside the Upsert's transaction.
			if o.depth != 1 || o.correlation != obs[0].correlation || !o.inTx || o.id != id {
				t.Errorf("%s/%s: depth %d correlation-shared %v inTx %v id %s, want depth 1, shared, in transaction, %s",
					o.message, o.stage, o.depth, o.correlation == obs[0].correlation, o.inTx, o.id, id)
			}
		}
		if got := obs[5].output["RecordCreated"]; got != tc.created {
			t.Errorf("Upsert PostOperation RecordCreated = %v, want %v", got, tc.created)
		}
		if tc.created {
			if got := obs[4].output["id"]; got != id {
				t.Errorf("inner Create PostOperation id = %v, want %s", got, id)
			}
		}
		if r := e.get(t, e.account, id); r == nil || r.Values["name"] != "upserted" {
			t.Errorf("stored record = %v, want name upserted", r)
		}
	})
}

func TestPipelineRank(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		e := open(t)
		var mu sync.Mutex
		var order []string
		mark := func(name string) eventual.PluginFunc {
			return func(ctx context.Context, ec *eventual.ExecutionContext) error {
				mu.Lock()
				defer mu.Unlock()
				order = append(order, name)
				return nil
			}
		}
		for _, s := range []struct {
			name, table string
			rank        int
		}{
			{"a", "account", 5}, {"b", "account", 1}, {"c", "", 3}, {"d", "account", 1}, {"e", "", 5}, {"f", "account", -2}, {"g", "account", 3},
		} {
			st := syncStep(s.name, eventual.MessageCreate, s.table, eventual.PreOperation, mark(s.name))
			st.Rank = s.rank
			e.register(t, st)
		}
		e.mustCreate(t, e.account, eventual.Values{"name": "ranked"})
		if want := []string{"f", "b", "d", "c", "g", "a", "e"}; !slices.Equal(order, want) {
			t.Errorf("steps ran in order %v, want %v (rank, then registration order)", order, want)
		}
	})
}

// failure is what a failing step returns, and the message the caller must
// then see.
type failure struct {
	name    string
	err     error
	message string
}

func TestPipelineRollback(t *testing.T) {
	failures := []failure{
		{"PluginError", &eventual.PluginError{Message: "nope"}, "nope"},
		{"wrapped PluginError", fmt.Errorf("checking: %w", &eventual.PluginError{Message: "nope"}), "nope"},
		{"plain error", errors.New("boom"), `The step "fail" failed: An unexpected error occurred.`},
	}
	messages := []string{eventual.MessageCreate, eventual.MessageUpdate, eventual.MessageDelete, eventual.MessageUpsert}
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		for _, stage := range []eventual.Stage{eventual.PreValidation, eventual.PreOperation, eventual.PostOperation} {
			for _, msg := range messages {
				for _, f := range failures {
					if f.name != "PluginError" && (msg != eventual.MessageCreate || stage != eventual.PostOperation) {
						continue // error mapping needs one combination only
					}
					t.Run(fmt.Sprintf("%s/%s/%s", stage, msg, f.name), func(t *testing.T) {
						testRollback(t, open(t), stage, msg, f)
					})
				}
			}
		}
	})
}

func testRollback(t *testing.T, e *env, stage eventual.Stage, msg string, f failure) {
	ctx := testContext(t)
	id := e.accountID(t, msg != eventual.MessageCreate, eventual.Values{"name": "old"})
	before := e.get(t, e.account, id)
	var ran, later atomic.Int32
	var sawMain atomic.Bool
	var sideErr atomic.Value
	// In the transaction, the failing step first writes through Service:
	// that write must roll back with the rest.
	e.register(t, syncStep("fail", msg, "account", stage, func(ctx context.Context, ec *eventual.ExecutionContext) error {
		ran.Add(1)
		if ec.IsInTransaction {
			if _, err := ec.Service.Create(ctx, &eventual.Entity{Table: e.contact, Values: eventual.Values{"lastname": "side effect"}}); err != nil {
				sideErr.Store(err)
			}
			if stage == eventual.PostOperation {
				// PostOperation sees the main operation's result, which
				// the failure must then undo.
				r, err := ec.Service.Retrieve(ctx, eventual.Ref(e.account, id), nil)
				if msg == eventual.MessageDelete {
					sawMain.Store(eventual.ErrorKind(err) == eventual.KindNotFound)
				} else {
					sawMain.Store(err == nil && r.Values["name"] == "new")
				}
			}
		}
		return f.err
	}))
	for _, st := range stages {
		if st > stage {
			e.register(t, syncStep("after-"+st.String(), msg, "account", st, func(context.Context, *eventual.ExecutionContext) error {
				later.Add(1)
				return nil
			}))
		}
	}
	var err error
	switch msg {
	case eventual.MessageCreate:
		_, err = e.in.Create(ctx, &eventual.Entity{Table: e.account, ID: id, Values: eventual.Values{"name": "new"}})
	case eventual.MessageUpdate:
		_, err = e.in.Update(ctx, eventual.Ref(e.account, id), eventual.Values{"name": "new"}, eventual.Condition{})
	case eventual.MessageDelete:
		err = e.in.Delete(ctx, eventual.Ref(e.account, id), eventual.Condition{})
	case eventual.MessageUpsert:
		_, _, err = e.in.Upsert(ctx, eventual.Ref(e.account, id), &eventual.Entity{Table: e.account, ID: id, Values: eventual.Values{"name": "new"}}, eventual.Condition{})
	}
	if err == nil {
		t.Fatalf("%s succeeded, want the step's error", msg)
	}
	if v := sideErr.Load(); v != nil {
		t.Fatalf("step's Service.Create failed: %v", v)
	}
	var ae *eventual.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *eventual.Error", err, err)
	}
	if ae.Code != eventual.CodePluginFailed || ae.Kind != eventual.KindInvalid || ae.Message != f.message {
		t.Errorf("error = {kind %v, code %s, message %q}, want {KindInvalid, %s, %q}", ae.Kind, ae.Code, ae.Message, eventual.CodePluginFailed, f.message)
	}
	if got := eventual.ErrorCode(err); got != "0x80040265" {
		t.Errorf("ErrorCode = %s, want 0x80040265", got)
	}
	var stepPE, pe *eventual.PluginError
	if errors.As(f.err, &stepPE) && (!errors.As(err, &pe) || pe != stepPE) {
		t.Errorf("errors.As(err, *PluginError) = %v, want the step's PluginError", pe)
	}
	if !errors.Is(err, f.err) {
		t.Errorf("the step's error is not in the chain of %v", err)
	}
	if ran.Load() != 1 || later.Load() != 0 {
		t.Errorf("failing step ran %d times, later stages %d times; want 1 and 0", ran.Load(), later.Load())
	}
	if stage == eventual.PostOperation && !sawMain.Load() {
		t.Errorf("the PostOperation step did not see the main operation's result")
	}
	// Nothing the operation wrote persists.
	if n := e.count(t, e.contact); n != 0 {
		t.Errorf("%d contacts written by the failing step persist, want 0", n)
	}
	after := e.get(t, e.account, id)
	switch {
	case before == nil && after != nil:
		t.Errorf("the account was created despite the failure: %v", after.Values)
	case before != nil && after == nil:
		t.Errorf("the account was deleted despite the failure")
	case before != nil && (after.Version != before.Version || after.Values["name"] != "old"):
		t.Errorf("the account changed despite the failure: version %d→%d, name %v", before.Version, after.Version, after.Values["name"])
	}
	if n := e.count(t, e.jobs); n != 0 {
		t.Errorf("%d jobs queued, want 0", n)
	}
}

// A top-level operation's PreValidation runs before the transaction, so
// what its steps write through Service commits on its own (as the Service
// contract in instance/pipeline.go says), even when the operation then
// fails. This is what lets the placeholder pattern create a referenced
// record at PreValidation.
func TestPipelinePreValidationServiceWritesOutsideTransaction(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		e := open(t)
		e.register(t, syncStep("side", eventual.MessageCreate, "account", eventual.PreValidation, func(ctx context.Context, ec *eventual.ExecutionContext) error {
			if ec.IsInTransaction {
				return errors.New("top-level PreValidation ran in a transaction")
			}
			_, err := ec.Service.Create(ctx, &eventual.Entity{Table: e.contact, Values: eventual.Values{"lastname": "committed"}})
			return err
		}))
		e.register(t, syncStep("fail", eventual.MessageCreate, "account", eventual.PreOperation, failNope))
		_, err := e.in.Create(testContext(t), &eventual.Entity{Table: e.account, Values: eventual.Values{"name": "x"}})
		if eventual.ErrorCode(err) != eventual.CodePluginFailed {
			t.Fatalf("create: %v, want the plug-in error", err)
		}
		if n := e.count(t, e.account); n != 0 {
			t.Errorf("%d accounts, want 0", n)
		}
		if n := e.count(t, e.contact); n != 1 {
			t.Errorf("%d contacts, want the 1 written at PreValidation", n)
		}
	})
}

func TestPipelineStepChangesTarget(t *testing.T) {
	type pipelineStepChangesTargetCase struct {
		message string
		stage   eventual.Stage
	}
	cases := []pipelineStepChangesTargetCase{
		{eventual.MessageCreate, eventual.PreValidation},
		{eventual.MessageCreate, eventual.PreOperation},
		{eventual.MessageUpdate, eventual.PreValidation},
		{eventual.MessageUpdate, eventual.PreOperation},
		{eventual.MessageUpsert, eventual.PreValidation},
		{eventual.MessageUpsert, eventual.PreOperation},
	}
	forEachStoreCase(t, cases, func(tc pipelineStepChangesTargetCase) string { return tc.message + "/" + tc.stage.String() }, func(t *testing.T, e *env, ctx context.Context, tc pipelineStepChangesTargetCase) {
		id := e.accountID(t, tc.message != eventual.MessageCreate, eventual.Values{"name": "old", "telephone1": "old"})
		e.register(t, syncStep("change", tc.message, "account", tc.stage, func(ctx context.Context, ec *eventual.ExecutionContext) error {
			tg := ec.Target()
			if tg == nil {
				return errors.New("no target")
			}
			tg.Values["name"] = strings.ToUpper(tg.Values["name"].(string))
			tg.Values["telephone1"] = "set by step"
			delete(tg.Values, "description")
			return nil
		}))
		vals := eventual.Values{"name": "sent", "description": "dropped by step"}
		var err error
		switch tc.message {
		case eventual.MessageCreate:
			_, err = e.in.Create(ctx, &eventual.Entity{Table: e.account, ID: id, Values: vals})
		case eventual.MessageUpdate:
			_, err = e.in.Update(ctx, eventual.Ref(e.account, id), vals, eventual.Condition{})
		case eventual.MessageUpsert:
			_, _, err = e.in.Upsert(ctx, eventual.Ref(e.account, id), &eventual.Entity{Table: e.account, ID: id, Values: vals}, eventual.Condition{})
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.message, err)
		}
		r := e.get(t, e.account, id)
		if r == nil {
			t.Fatal("record not stored")
		}
		if r.Values["name"] != "SENT" || r.Values["telephone1"] != "set by step" || r.Values["description"] != nil {
			t.Errorf("stored name %v telephone1 %v description %v, want SENT, set by step, null", r.Values["name"], r.Values["telephone1"], r.Values["description"])
		}
	})
}

func TestPipelineImages(t *testing.T) {
	imgs := []eventual.Image{
		{Alias: "pre", Kind: eventual.PreImage},
		{Alias: "preName", Kind: eventual.PreImage, Columns: []string{"name"}},
		{Alias: "post", Kind: eventual.PostImage},
		{Alias: "postName", Kind: eventual.PostImage, Columns: []string{"name", "numberofemployees"}},
	}
	type pipelineImagesCase struct {
		message string
		images  []eventual.Image
		run     func(ctx context.Context, e *env, id uuid.UUID) error
		// want maps aliases to the values the image must hold exactly;
		// aliases not listed must be absent.
		wantPre, wantPost map[string]eventual.Values
	}
	cases := []pipelineImagesCase{
		{
			message: eventual.MessageUpdate, images: imgs,
			run: func(ctx context.Context, e *env, id uuid.UUID) error {
				_, err := e.in.Update(ctx, eventual.Ref(e.account, id), eventual.Values{"name": "after", "numberofemployees": int64(7)}, eventual.Condition{})
				return err
			},
			wantPre: map[string]eventual.Values{
				"pre":     {"name": "before", "telephone1": "555-0100", "numberofemployees": nil},
				"preName": {"name": "before"},
			},
			wantPost: map[string]eventual.Values{
				"post":     {"name": "after", "telephone1": "555-0100", "numberofemployees": int64(7)},
				"postName": {"name": "after", "numberofemployees": int64(7)},
			},
		},
		{
			message: eventual.MessageDelete, images: imgs[:2],
			run: func(ctx context.Context, e *env, id uuid.UUID) error {
				return e.in.Delete(ctx, eventual.Ref(e.account, id), eventual.Condition{})
			},
			wantPre: map[string]eventual.Values{
				"pre":     {"name": "before", "telephone1": "555-0100", "numberofemployees": nil},
				"preName": {"name": "before"},
			},
		},
		{
			message: eventual.MessageCreate, images: imgs[2:],
			run: func(ctx context.Context, e *env, id uuid.UUID) error {
				_, err := e.in.Create(ctx, &eventual.Entity{Table: e.account, ID: id, Values: eventual.Values{"name": "after", "telephone1": "555-0100", "numberofemployees": int64(7)}})
				return err
			},
			wantPost: map[string]eventual.Values{
				"post":     {"name": "after", "telephone1": "555-0100", "numberofemployees": int64(7)},
				"postName": {"name": "after", "numberofemployees": int64(7)},
			},
		},
	}
	forEachStoreCase(t, cases, func(tc pipelineImagesCase) string { return tc.message }, func(t *testing.T, e *env, ctx context.Context, tc pipelineImagesCase) {
		id := uuid.New()
		var seeded *eventual.Record
		if tc.message != eventual.MessageCreate {
			e.mustCreate(t, e.account, eventual.Values{"accountid": id, "name": "before", "telephone1": "555-0100"})
			seeded = e.get(t, e.account, id)
		}
		var rec recorder
		st := syncStep("images", tc.message, "account", eventual.PostOperation, rec.plugin(false))
		st.Images = tc.images
		e.register(t, st)
		if err := tc.run(ctx, e, id); err != nil {
			t.Fatal(err)
		}
		obs := rec.all()
		if len(obs) != 1 {
			t.Fatalf("step ran %d times, want 1", len(obs))
		}
		checkImages(t, tc.images, "pre-image", obs[0].pre, tc.wantPre, id)
		checkImages(t, tc.images, "post-image", obs[0].post, tc.wantPost, id)
		if seeded != nil && obs[0].pre["pre"] != nil && obs[0].pre["pre"].Version != seeded.Version {
			t.Errorf("pre-image version %d, want the version before the operation %d", obs[0].pre["pre"].Version, seeded.Version)
		}
		if tc.message == eventual.MessageUpdate {
			if p := obs[0].post["post"]; p != nil && p.Version == seeded.Version {
				t.Errorf("post-image has the version before the update")
			}
		}
	})
}

// checkImages compares images with the values they must hold: every listed
// column with its value; an image registered with Columns holds exactly
// those, one without holds every column (createdon among them).
func checkImages(t *testing.T, specs []eventual.Image, kind string, got map[string]*eventual.Record, want map[string]eventual.Values, id uuid.UUID) {
	t.Helper()
	for alias := range got {
		if _, ok := want[alias]; !ok {
			t.Errorf("%s %q present, want none", kind, alias)
		}
	}
	for alias, vals := range want {
		img := got[alias]
		if img == nil {
			t.Errorf("%s %q missing", kind, alias)
			continue
		}
		if img.ID != id || img.Table == nil || img.Table.LogicalName != "account" {
			t.Errorf("%s %q is of %v(%s), want account(%s)", kind, alias, img.Table, img.ID, id)
		}
		for c, v := range vals {
			if img.Values[c] != v {
				t.Errorf("%s %q: %s = %v, want %v", kind, alias, c, img.Values[c], v)
			}
		}
		i := slices.IndexFunc(specs, func(s eventual.Image) bool { return s.Alias == alias })
		if i >= 0 && specs[i].Columns != nil {
			if got, want := slices.Sorted(maps.Keys(img.Values)), slices.Sorted(slices.Values(specs[i].Columns)); !slices.Equal(got, want) {
				t.Errorf("%s %q has columns %v, want only %v", kind, alias, got, want)
			}
		} else if _, ok := img.Values["createdon"]; !ok {
			t.Errorf("%s %q without columns lacks createdon: %v", kind, alias, slices.Sorted(maps.Keys(img.Values)))
		}
	}
}

// failIf fails the test when a fixed bug's symptom shows again.
func failIf(t *testing.T, symptom bool, format string, args ...any) {
	t.Helper()
	if symptom {
		t.Fatalf("regression: "+format, args...)
	}
}

// Dataverse gives pre-images to PreOperation steps (the usual place to
// compare old and new values before the write) and to Upsert steps.
func TestPipelinePreImageBeforeMainOperation(t *testing.T) {
	cases := []struct {
		name    string
		message string
		stage   eventual.Stage
		run     func(ctx context.Context, e *env, id uuid.UUID) error
	}{
		{"Update/PreOperation", eventual.MessageUpdate, eventual.PreOperation, func(ctx context.Context, e *env, id uuid.UUID) error {
			_, err := e.in.Update(ctx, eventual.Ref(e.account, id), eventual.Values{"name": "after"}, eventual.Condition{})
			return err
		}},
		{"Delete/PreOperation", eventual.MessageDelete, eventual.PreOperation, func(ctx context.Context, e *env, id uuid.UUID) error {
			return e.in.Delete(ctx, eventual.Ref(e.account, id), eventual.Condition{})
		}},
		{"Upsert/PostOperation", eventual.MessageUpsert, eventual.PostOperation, func(ctx context.Context, e *env, id uuid.UUID) error {
			_, _, err := e.in.Upsert(ctx, eventual.Ref(e.account, id), &eventual.Entity{Table: e.account, ID: id, Values: eventual.Values{"name": "after"}}, eventual.Condition{})
			return err
		}},
	}
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e := open(t)
				id := e.mustCreate(t, e.account, eventual.Values{"name": "before"})
				var rec recorder
				st := syncStep("images", tc.message, "account", tc.stage, rec.plugin(false))
				st.Images = []eventual.Image{{Alias: "pre", Kind: eventual.PreImage}}
				e.register(t, st)
				if err := tc.run(testContext(t), e, id); err != nil {
					t.Fatal(err)
				}
				obs := rec.all()
				if len(obs) != 1 {
					t.Fatalf("step ran %d times, want 1", len(obs))
				}
				pre := obs[0].pre["pre"]
				failIf(t, pre == nil, "instance/pipeline.go: %s step registered with a pre-image gets none: execution.pre is set only by the main operation (updateMessage/delete), after PreOperation, and never for Upsert", tc.name)
				if pre.ID != id || pre.Values["name"] != "before" {
					t.Errorf("pre-image = %s %v, want %s with name before", pre.ID, pre.Values, id)
				}
			})
		}
	})
}

// Each step gets the images it registered, not those of the step before.
func TestPipelineImagesArePerStep(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		e := open(t)
		id := e.mustCreate(t, e.account, eventual.Values{"name": "before"})
		var rec recorder
		with := syncStep("with-images", eventual.MessageUpdate, "account", eventual.PostOperation, rec.plugin(false))
		with.Images = []eventual.Image{{Alias: "pre", Kind: eventual.PreImage}, {Alias: "post", Kind: eventual.PostImage}}
		with.Rank = 1
		without := syncStep("without-images", eventual.MessageUpdate, "account", eventual.PostOperation, rec.plugin(false))
		without.Rank = 2
		e.register(t, with)
		e.register(t, without)
		if _, err := e.in.Update(testContext(t), eventual.Ref(e.account, id), eventual.Values{"name": "after"}, eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		obs := rec.all()
		if len(obs) != 2 || obs[0].pre["pre"] == nil || obs[0].post["post"] == nil {
			t.Fatalf("the step with images did not get them: %+v", obs)
		}
		stale := len(obs[1].pre) > 0 || len(obs[1].post) > 0
		failIf(t, stale, "instance/pipeline.go runStage: a step without images sees the images of the previous step (PreEntityImages/PostEntityImages are only reset for steps that have images); got pre %v post %v",
			slices.Collect(maps.Keys(obs[1].pre)), slices.Collect(maps.Keys(obs[1].post)))
	})
}

// Dataverse's Update Target carries the record's id.
func TestPipelineUpdateTargetHasID(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		e := open(t)
		id := e.mustCreate(t, e.account, eventual.Values{"name": "before"})
		var rec recorder
		for _, st := range stages {
			e.register(t, syncStep("target-"+st.String(), eventual.MessageUpdate, "account", st, rec.plugin(false)))
		}
		if _, err := e.in.Update(testContext(t), eventual.Ref(e.account, id), eventual.Values{"name": "after"}, eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		for _, o := range rec.all() {
			if o.id != id {
				t.Errorf("%s: PrimaryEntityID = %s, want %s", o.stage, o.id, id)
			}
			if o.target == nil {
				t.Fatalf("%s: no Target", o.stage)
			}
			failIf(t, o.target.ID == uuid.Nil, "instance/instance.go Update/updateMessage: the Update Target entity has ID uuid.Nil (built as &Entity{Table, Values}); Dataverse's Target.Id is the record's id")
			if o.target.ID != id {
				t.Errorf("%s: Target.ID = %s, want %s", o.stage, o.target.ID, id)
			}
		}
	})
}

func TestPipelineDepth(t *testing.T) {
	for _, caller := range []eventual.Stage{eventual.PreValidation, eventual.PreOperation, eventual.PostOperation} {
		t.Run(caller.String(), func(t *testing.T) {
			forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
				e := open(t)
				var outer, inner recorder
				e.register(t, syncStep("outer", eventual.MessageCreate, "account", caller, func(ctx context.Context, ec *eventual.ExecutionContext) error {
					outer.add(observe(ec))
					_, err := ec.Service.Create(ctx, &eventual.Entity{Table: e.contact, Values: eventual.Values{"lastname": "nested"}})
					return err
				}))
				for _, st := range stages {
					e.register(t, syncStep("inner-"+st.String(), eventual.MessageCreate, "contact", st, inner.plugin(false)))
				}
				e.mustCreate(t, e.account, eventual.Values{"name": "outer"})
				o := outer.all()
				in := inner.all()
				if len(o) != 1 || len(in) != 3 {
					t.Fatalf("outer ran %d times, inner %d; want 1 and 3", len(o), len(in))
				}
				for _, n := range in {
					if n.depth != 2 {
						t.Errorf("nested %s: Depth = %d, want 2", n.stage, n.depth)
					}
					if n.parent != o[0].ec || n.parentStage != caller || n.parent.PrimaryEntityName != "account" {
						t.Errorf("nested %s: ParentContext is not the calling step's context at %s", n.stage, caller)
					}
					if n.correlation != o[0].correlation {
						t.Errorf("nested %s: CorrelationID %s, want the parent's %s", n.stage, n.correlation, o[0].correlation)
					}
					// A nested operation joins its caller's transaction;
					// one started outside a transaction gets its own,
					// with PreValidation outside.
					wantTx := caller != eventual.PreValidation || n.stage != eventual.PreValidation
					if n.inTx != wantTx {
						t.Errorf("nested %s: IsInTransaction = %v, want %v", n.stage, n.inTx, wantTx)
					}
				}
				if e.count(t, e.contact) != 1 || e.count(t, e.account) != 1 {
					t.Errorf("want 1 account and 1 contact")
				}
			})
		})
	}
}

func TestPipelineLoopGuard(t *testing.T) {
	cases := []struct {
		name     string
		message  string
		stage    eventual.Stage
		maxDepth int
		want     int // how often the looping step runs
	}{
		{"Create/PostOperation", eventual.MessageCreate, eventual.PostOperation, 0, instance.DefaultMaxDepth},
		{"Create/PreOperation", eventual.MessageCreate, eventual.PreOperation, 0, instance.DefaultMaxDepth},
		{"Create/PreValidation", eventual.MessageCreate, eventual.PreValidation, 0, instance.DefaultMaxDepth},
		{"Create/MaxDepth3", eventual.MessageCreate, eventual.PostOperation, 3, 3},
		{"Update/PostOperation", eventual.MessageUpdate, eventual.PostOperation, 0, instance.DefaultMaxDepth},
	}
	if instance.DefaultMaxDepth != 8 {
		t.Errorf("DefaultMaxDepth = %d, want Dataverse's 8", instance.DefaultMaxDepth)
	}
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e := open(t)
				e.in.MaxDepth = tc.maxDepth
				ctx := testContext(t)
				var id uuid.UUID
				if tc.message == eventual.MessageUpdate {
					id = e.mustCreate(t, e.account, eventual.Values{"name": "looping"})
				}
				before := e.get(t, e.account, id)
				var runs atomic.Int32
				var maxSeen atomic.Int32
				e.register(t, syncStep("loop", tc.message, "account", tc.stage, func(ctx context.Context, ec *eventual.ExecutionContext) error {
					n := runs.Add(1)
					if int32(ec.Depth) > maxSeen.Load() {
						maxSeen.Store(int32(ec.Depth))
					}
					if tc.message == eventual.MessageUpdate {
						return ec.Service.Update(ctx, eventual.Ref(e.account, id), eventual.Values{"numberofemployees": int64(n)})
					}
					_, err := ec.Service.Create(ctx, &eventual.Entity{Table: e.account, Values: eventual.Values{"name": fmt.Sprint("level ", ec.Depth+1)}})
					return err
				}))
				var err error
				if tc.message == eventual.MessageUpdate {
					_, err = e.in.Update(ctx, eventual.Ref(e.account, id), eventual.Values{"name": "go"}, eventual.Condition{})
				} else {
					_, err = e.in.Create(ctx, &eventual.Entity{Table: e.account, Values: eventual.Values{"name": "level 1"}})
				}
				if err == nil {
					t.Fatal("the loop was not stopped")
				}
				if eventual.ErrorCode(err) != eventual.CodePluginFailed || !strings.Contains(eventual.ErrorMessage(err), "infinite loop") {
					t.Errorf("error = %s %q, want %s about an infinite loop", eventual.ErrorCode(err), eventual.ErrorMessage(err), eventual.CodePluginFailed)
				}
				if got := int(runs.Load()); got != tc.want || int(maxSeen.Load()) != tc.want {
					t.Errorf("looping step ran %d times up to depth %d, want %d times up to depth %d", got, maxSeen.Load(), tc.want, tc.want)
				}
				if tc.message == eventual.MessageUpdate {
					after := e.get(t, e.account, id)
					if after.Version != before.Version || after.Values["name"] != "looping" || after.Values["numberofemployees"] != nil {
						t.Errorf("the looping updates persisted: %v", after.Values)
					}
				} else if n := e.count(t, e.account); n != 0 {
					t.Errorf("%d accounts persist, want 0", n)
				}
			})
		}
	})
}

func TestPipelineFilteringAttributes(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		e := open(t)
		id := e.mustCreate(t, e.account, eventual.Values{"name": "filtered"})
		var filtered, unfiltered atomic.Int32
		st := syncStep("filtered", eventual.MessageUpdate, "account", eventual.PostOperation, func(context.Context, *eventual.ExecutionContext) error {
			filtered.Add(1)
			return nil
		})
		st.FilteringAttributes = []string{"telephone1", "emailaddress1"}
		e.register(t, st)
		e.register(t, syncStep("unfiltered", eventual.MessageUpdate, "account", eventual.PostOperation, func(context.Context, *eventual.ExecutionContext) error {
			unfiltered.Add(1)
			return nil
		}))
		cases := []struct {
			name   string
			values eventual.Values
			runs   bool
		}{
			{"other column", eventual.Values{"name": "x"}, false},
			{"first filtering column", eventual.Values{"telephone1": "1"}, true},
			{"second filtering column", eventual.Values{"emailaddress1": "a@example.com"}, true},
			{"filtering column set to null", eventual.Values{"telephone1": nil}, true},
			{"mixed", eventual.Values{"name": "y", "emailaddress1": "b@example.com"}, true},
			{"several others", eventual.Values{"name": "z", "description": "d"}, false},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				f0, u0 := filtered.Load(), unfiltered.Load()
				if _, err := e.in.Update(testContext(t), eventual.Ref(e.account, id), tc.values, eventual.Condition{}); err != nil {
					t.Fatal(err)
				}
				want := int32(0)
				if tc.runs {
					want = 1
				}
				if got := filtered.Load() - f0; got != want {
					t.Errorf("filtered step ran %d times, want runs=%v", got, tc.runs)
				}
				if got := unfiltered.Load() - u0; got != 1 {
					t.Errorf("unfiltered step ran %d times, want 1", got)
				}
			})
		}
		// Filtering attributes apply to Update only.
		bad := syncStep("bad", eventual.MessageCreate, "account", eventual.PostOperation, func(context.Context, *eventual.ExecutionContext) error { return nil })
		bad.FilteringAttributes = []string{"name"}
		if err := e.in.Pipeline.Register(bad); err == nil {
			t.Errorf("registering a Create step with filtering attributes succeeded")
		}
	})
}

func TestPipelineSharedVariables(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		e := open(t)
		var rec recorder
		e.register(t, syncStep("set", eventual.MessageCreate, "account", eventual.PreValidation, func(ctx context.Context, ec *eventual.ExecutionContext) error {
			rec.add(observe(ec)) // before setting: a fresh operation has none
			ec.SharedVariables["operation"] = ec.OperationID.String()
			ec.SharedVariables["name"] = ec.Target().Values["name"]
			return nil
		}))
		e.register(t, syncStep("add", eventual.MessageCreate, "account", eventual.PreOperation, func(ctx context.Context, ec *eventual.ExecutionContext) error {
			ec.SharedVariables["preop"] = int64(20)
			return nil
		}))
		e.register(t, syncStep("read", eventual.MessageCreate, "account", eventual.PostOperation, rec.plugin(false)))
		for _, name := range []string{"first", "second"} {
			e.mustCreate(t, e.account, eventual.Values{"name": name})
		}
		obs := rec.all()
		if len(obs) != 4 {
			t.Fatalf("%d observations, want 4", len(obs))
		}
		for i, name := range []string{"first", "second"} {
			pv, post := obs[2*i], obs[2*i+1]
			if len(pv.shared) != 0 {
				t.Errorf("%s: PreValidation starts with shared variables %v, want none", name, pv.shared)
			}
			want := map[string]any{"operation": post.ec.OperationID.String(), "name": name, "preop": int64(20)}
			if !maps.Equal(post.shared, want) {
				t.Errorf("%s: PostOperation sees %v, want %v", name, post.shared, want)
			}
		}
	})
}

func TestPipelineCorrelationID(t *testing.T) {
	given := uuid.New()
	cases := []struct {
		name string
		ctx  func(context.Context) context.Context
	}{
		{"given", func(ctx context.Context) context.Context { return eventual.WithCorrelationID(ctx, given) }},
		{"generated", func(ctx context.Context) context.Context { return ctx }},
	}
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e := open(t)
				var rec recorder
				// account Create → (PostOperation) contact Create →
				// (PreOperation) account Update: three levels.
				target := e.mustCreate(t, e.account, eventual.Values{"name": "target"})
				e.register(t, syncStep("account-create", eventual.MessageCreate, "account", eventual.PostOperation, func(ctx context.Context, ec *eventual.ExecutionContext) error {
					rec.add(observe(ec))
					_, err := ec.Service.Create(ctx, &eventual.Entity{Table: e.contact, Values: eventual.Values{"lastname": "nested"}})
					return err
				}))
				e.register(t, syncStep("contact-create", eventual.MessageCreate, "contact", eventual.PreOperation, func(ctx context.Context, ec *eventual.ExecutionContext) error {
					rec.add(observe(ec))
					return ec.Service.Update(ctx, eventual.Ref(e.account, target), eventual.Values{"telephone1": "touched"})
				}))
				e.register(t, syncStep("account-update", eventual.MessageUpdate, "account", eventual.PreValidation, rec.plugin(false)))
				for range 2 {
					if _, err := e.in.Create(tc.ctx(testContext(t)), &eventual.Entity{Table: e.account, Values: eventual.Values{"name": "top"}}); err != nil {
						t.Fatal(err)
					}
				}
				obs := rec.all()
				if len(obs) != 6 {
					t.Fatalf("%d observations, want 6", len(obs))
				}
				for run := range 2 {
					chain := obs[3*run : 3*run+3]
					top := chain[0].correlation
					if top == uuid.Nil || (tc.name == "given" && top != given) {
						t.Errorf("run %d: top-level CorrelationID = %s, want %s", run, top, map[bool]any{true: given, false: "a new one"}[tc.name == "given"])
					}
					for i, o := range chain {
						if o.correlation != top || o.depth != i+1 {
							t.Errorf("run %d level %d (%s %s): correlation %s depth %d, want %s and %d", run, i+1, o.message, o.table, o.correlation, o.depth, top, i+1)
						}
					}
				}
				if tc.name == "generated" && obs[0].correlation == obs[3].correlation {
					t.Errorf("two requests got the same generated CorrelationID %s", obs[0].correlation)
				}
			})
		}
	})
}

func TestPipelineConcurrentWrites(t *testing.T) {
	const workers, perWorker = 32, 4
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		e := open(t)
		ctx := testContext(t)
		var pre, post, updates atomic.Int32
		e.register(t, syncStep("stamp", eventual.MessageCreate, "account", eventual.PreOperation, func(ctx context.Context, ec *eventual.ExecutionContext) error {
			pre.Add(1)
			ec.Target().Values["telephone1"] = "stamped"
			ec.SharedVariables["name"] = ec.Target().Values["name"]
			return nil
		}))
		e.register(t, syncStep("child", eventual.MessageCreate, "account", eventual.PostOperation, func(ctx context.Context, ec *eventual.ExecutionContext) error {
			post.Add(1)
			id, ok := ec.OutputParameters["id"].(uuid.UUID)
			if !ok {
				return errors.New("no id")
			}
			_, err := ec.Service.Create(ctx, &eventual.Entity{Table: e.contact, Values: eventual.Values{
				"lastname": ec.SharedVariables["name"], "parentcustomerid": eventual.Ref(e.account, id)}})
			return err
		}))
		upd := syncStep("count-updates", eventual.MessageUpdate, "account", eventual.PreOperation, func(context.Context, *eventual.ExecutionContext) error {
			updates.Add(1)
			return nil
		})
		upd.FilteringAttributes = []string{"numberofemployees"}
		e.register(t, upd)

		// Registration changes while writes run: lookups must stay safe.
		stopChurn := testrun.Loop(func(i int) bool {
			name := fmt.Sprint("churn-", i)
			if err := e.in.Pipeline.Register(syncStep(name, eventual.MessageCreate, "new_order", eventual.PreOperation, func(context.Context, *eventual.ExecutionContext) error { return nil })); err != nil {
				t.Errorf("register: %v", err)
				return false
			}
			e.in.Pipeline.Unregister(name)
			time.Sleep(time.Millisecond)
			return true
		})

		var wg sync.WaitGroup
		errs := make(chan error, workers*perWorker*2)
		for w := range workers {
			wg.Go(func() {
				for i := range perWorker {
					name := fmt.Sprintf("w%02d-%d", w, i)
					id, err := e.in.Create(ctx, &eventual.Entity{Table: e.account, Values: eventual.Values{"name": name}})
					if err != nil {
						errs <- fmt.Errorf("create %s: %w", name, err)
						continue
					}
					if _, err := e.in.Update(ctx, eventual.Ref(e.account, id), eventual.Values{"numberofemployees": int64(i)}, eventual.Condition{}); err != nil {
						errs <- fmt.Errorf("update %s: %w", name, err)
					}
				}
			})
		}
		wg.Wait()
		stopChurn()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		const n = workers * perWorker
		if pre.Load() != n || post.Load() != n || updates.Load() != n {
			t.Errorf("steps ran pre %d post %d update %d times, want %d each", pre.Load(), post.Load(), updates.Load(), n)
		}
		page, err := e.in.RetrieveMultiple(ctx, &eventual.Query{Table: e.account}, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Records) != n {
			t.Fatalf("%d accounts, want %d", len(page.Records), n)
		}
		names := map[any]bool{}
		for _, r := range page.Records {
			names[r.Values["name"]] = true
			if r.Values["telephone1"] != "stamped" || r.Values["numberofemployees"] == nil {
				t.Errorf("account %v: telephone1 %v numberofemployees %v, want stamped and set", r.Values["name"], r.Values["telephone1"], r.Values["numberofemployees"])
			}
		}
		contacts, err := e.in.RetrieveMultiple(ctx, &eventual.Query{Table: e.contact}, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(contacts.Records) != n {
			t.Fatalf("%d contacts, want %d", len(contacts.Records), n)
		}
		for _, c := range contacts.Records {
			if !names[c.Values["lastname"]] {
				t.Errorf("contact %v does not name an account: shared variables crossed operations", c.Values["lastname"])
			}
		}
	})
}

// A panicking synchronous step fails the operation like an error and
// writes nothing, whatever its stage.
func TestPipelinePanickingStep(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		for _, stage := range stages {
			t.Run(stage.String(), func(t *testing.T) {
				e := open(t)
				e.register(t, syncStep("panics", eventual.MessageCreate, "account", stage, func(context.Context, *eventual.ExecutionContext) error {
					panic("plugin bug")
				}))
				var err error
				panicked := func() (p any) {
					defer func() { p = recover() }()
					_, err = e.in.Create(testContext(t), &eventual.Entity{Table: e.account, Values: eventual.Values{"name": "x"}})
					return nil
				}()
				failIf(t, panicked != nil,
					"instance/pipeline.go runStage: a panic in a synchronous step outside a transaction (top-level PreValidation, and every stage of Retrieve/RetrieveMultiple) propagates to the caller (%v), while inside a transaction the store turns it into an error", panicked)
				if err == nil {
					t.Error("create succeeded, want an error")
				}
				if n := e.count(t, e.account); n != 0 {
					t.Errorf("%d accounts, want 0", n)
				}
			})
		}
	})
}
