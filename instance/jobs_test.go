package instance_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/instance"
	"github.com/eventual-pp/eventual/internal/testpg"
	"github.com/eventual-pp/eventual/metadata"
	"github.com/eventual-pp/eventual/postgres"
	"github.com/google/uuid"
)

// This file tests the job queue of asynchronous steps: jobs are
// asyncoperation records queued in the operation's transaction and run
// after the commit, retried with growing pauses up to MaxJobAttempts
// times. Tests drive the runner with RunJobs and a fake clock (the
// instance's Now), so retries need no real waiting.

// fakeClock is a settable clock for Instance.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// openClocked opens an env whose instance reads the time from a new fake
// clock, and returns it with the clock and a test context.
func openClocked(t *testing.T, open func(testing.TB) *env) (*env, *fakeClock, context.Context) {
	t.Helper()
	e := open(t)
	clk := newFakeClock()
	e.in.Now = clk.Now
	return e, clk, testContext(t)
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// asyncStep returns an asynchronous PostOperation step.
func asyncStep(name, message, table string, fn eventual.PluginFunc) eventual.Step {
	return eventual.Step{Name: name, Message: message, Table: table, Stage: eventual.PostOperation, Mode: eventual.Asynchronous, Plugin: fn}
}

// jobsOf returns the jobs of a step, oldest first, read through the
// instance as a client would (RetrieveMultiple on asyncoperation).
func (e *env) jobsOf(tb testing.TB, step string) []*eventual.Record {
	tb.Helper()
	return e.queryJobs(tb, eventual.Compare{Op: eventual.OpEq, Left: eventual.Field{Column: e.jobs.Column("eventual_stepname")}, Right: eventual.Literal{Value: step}})
}

func (e *env) queryJobs(tb testing.TB, filter eventual.Expr) []*eventual.Record {
	tb.Helper()
	page, err := e.in.RetrieveMultiple(testContext(tb), &eventual.Query{Table: e.jobs, Filter: filter,
		OrderBy: []eventual.Order{{Column: e.jobs.Column("createdon")}}}, nil, false)
	if err != nil {
		tb.Fatalf("query jobs: %v", err)
	}
	return page.Records
}

// onlyJob returns the one job of a step.
func (e *env) onlyJob(tb testing.TB, step string) *eventual.Record {
	tb.Helper()
	jobs := e.jobsOf(tb, step)
	if len(jobs) != 1 {
		tb.Fatalf("%d jobs of step %s, want 1", len(jobs), step)
	}
	return jobs[0]
}

func statusIs(rec *eventual.Record, status int64) eventual.Expr {
	return eventual.Compare{Op: eventual.OpEq, Left: eventual.Field{Column: rec.Table.Column("statuscode")}, Right: eventual.Literal{Value: status}}
}

func TestJobsRunAfterCommit(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		e, clk, ctx := openClocked(t, open)
		var rec recorder
		e.register(t, asyncStep("audit", eventual.MessageCreate, "account", rec.plugin(true)))
		// A synchronous step in the same request: the asynchronous one
		// must not have run by then.
		var syncSawAsync atomic.Bool
		// Synchronous steps' shared variables reach the asynchronous one.
		e.register(t, syncStep("sync", eventual.MessageCreate, "account", eventual.PostOperation, func(ctx context.Context, ec *eventual.ExecutionContext) error {
			syncSawAsync.Store(len(rec.all()) > 0)
			ec.SharedVariables["post"] = "sync PostOperation"
			return nil
		}))
		e.register(t, syncStep("sync-pv", eventual.MessageCreate, "account", eventual.PreValidation, func(ctx context.Context, ec *eventual.ExecutionContext) error {
			ec.SharedVariables["pv"] = "PreValidation"
			return nil
		}))
		corr := uuid.New()
		id, err := e.in.Create(eventual.WithCorrelationID(ctx, corr), &eventual.Entity{Table: e.account, Values: eventual.Values{"name": "audited"}})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(rec.all()); n != 0 || syncSawAsync.Load() {
			t.Fatalf("the asynchronous step ran in the request (%d times)", n)
		}
		job := e.onlyJob(t, "audit")
		for col, want := range map[string]any{
			"statuscode": instance.JobWaiting, "statecode": instance.JobReady, "messagename": "Create", "primaryentitytype": "account",
			"retrycount": int64(0), "depth": int64(1), "correlationid": corr, "operationtype": int64(1),
		} {
			if got := job.Values[col]; got != want {
				t.Errorf("queued job %s = %v (%T), want %v (%T)", col, got, got, want, want)
			}
		}
		if name, _ := job.Values["name"].(string); !strings.Contains(name, "audit") {
			t.Errorf("job name %q does not name the step", name)
		}

		o := runOneJob(t, ctx, e, &rec)
		if o.mode != eventual.Asynchronous || o.stage != eventual.PostOperation || o.message != eventual.MessageCreate || o.table != "account" {
			t.Errorf("step ran as %v %v %s %s, want asynchronous PostOperation Create account", o.mode, o.stage, o.message, o.table)
		}
		if o.id != id || o.output["id"] != id || o.correlation != corr || o.depth != 1 || o.inTx || o.parent != nil {
			t.Errorf("context: id %s output id %v correlation %s depth %d inTx %v parent %v; want %s, %s, %s, 1, false, none",
				o.id, o.output["id"], o.correlation, o.depth, o.inTx, o.parent != nil, id, id, corr)
		}
		if o.target == nil || o.target.Values["name"] != "audited" {
			t.Errorf("Target = %+v, want the created values", o.target)
		}
		if want := map[string]any{"pv": "PreValidation", "post": "sync PostOperation"}; !maps.Equal(o.shared, want) {
			t.Errorf("SharedVariables = %v, want %v", o.shared, want)
		}
		if o.err != nil || !o.found || o.name != "audited" {
			t.Errorf("the step read the record: found %v name %v err %v; want the committed record", o.found, o.name, o.err)
		}
		job = e.onlyJob(t, "audit")
		if job.Values["statuscode"] != instance.JobSucceeded || job.Values["statecode"] != instance.JobCompleted {
			t.Errorf("job status %v state %v, want succeeded (%d) completed (%d)", job.Values["statuscode"], job.Values["statecode"], instance.JobSucceeded, instance.JobCompleted)
		}
		if job.Values["startedon"] == nil || job.Values["completedon"] == nil {
			t.Errorf("job startedon %v completedon %v, want both set", job.Values["startedon"], job.Values["completedon"])
		}
		// Done is done.
		clk.Set(clk.Now().Add(time.Hour))
		if n := e.in.RunJobs(ctx); n != 0 || len(rec.all()) != 1 {
			t.Errorf("a second RunJobs ran %d jobs (step runs %d), want 0", n, len(rec.all()))
		}
	})
}

func TestJobsStartRunsAfterCommit(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		e := open(t)
		ctx, cancel := context.WithCancel(testContext(t))
		defer cancel()
		ran := make(chan uuid.UUID, 1)
		e.register(t, asyncStep("notify", eventual.MessageCreate, "account", func(ctx context.Context, ec *eventual.ExecutionContext) error {
			ran <- ec.PrimaryEntityID
			return nil
		}))
		if err := e.in.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer e.in.Stop()
		id := e.mustCreate(t, e.account, eventual.Values{"name": "woken"})
		select {
		case got := <-ran:
			if got != id {
				t.Errorf("step ran for %s, want %s", got, id)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the runner did not run the job within 10s")
		}
		// The outcome is recorded right after the step returns.
		deadline := time.Now().Add(10 * time.Second)
		for {
			job := e.onlyJob(t, "notify")
			if job.Values["statuscode"] == instance.JobSucceeded {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("job status %v after 10s, want succeeded", job.Values["statuscode"])
			}
			time.Sleep(5 * time.Millisecond)
		}
		select {
		case <-ran:
			t.Error("the step ran twice")
		default:
		}
	})
}

func TestJobsRetries(t *testing.T) {
	cases := []struct {
		name       string
		failures   int // attempts that fail before one succeeds; -1 fails always
		err        error
		unregister bool // the step is gone when the job runs
		attempts   int
		status     int64
		message    string
	}{
		{name: "always fails", failures: -1, err: &eventual.PluginError{Message: "always fails"},
			attempts: instance.MaxJobAttempts, status: instance.JobFailed, message: "always fails"},
		{name: "plain error", failures: -1, err: errors.New("disk on fire"),
			attempts: instance.MaxJobAttempts, status: instance.JobFailed, message: "disk on fire"},
		{name: "fails twice then succeeds", failures: 2, err: &eventual.PluginError{Message: "not yet"},
			attempts: 3, status: instance.JobSucceeded},
		{name: "last attempt succeeds", failures: instance.MaxJobAttempts - 1, err: &eventual.PluginError{Message: "not yet"},
			attempts: instance.MaxJobAttempts, status: instance.JobSucceeded},
		{name: "step unregistered", unregister: true,
			attempts: 0, status: instance.JobFailed, message: `the step "flaky" is no longer registered`},
	}
	if instance.MaxJobAttempts != 4 {
		t.Errorf("MaxJobAttempts = %d, want Dataverse's 4", instance.MaxJobAttempts)
	}
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e, clk, ctx := openClocked(t, open)
				var attempts atomic.Int32
				e.register(t, asyncStep("flaky", eventual.MessageCreate, "account", func(ctx context.Context, ec *eventual.ExecutionContext) error {
					n := int(attempts.Add(1))
					if tc.failures < 0 || n <= tc.failures {
						return tc.err
					}
					return nil
				}))
				e.mustCreate(t, e.account, eventual.Values{"name": "flaky"})
				if tc.unregister {
					e.in.Pipeline.Unregister("flaky")
				}
				var pauses []time.Duration
				var job *eventual.Record
				runs := 0
				for ; runs < 2*instance.MaxJobAttempts; runs++ {
					if n := e.in.RunJobs(ctx); n != 1 {
						t.Fatalf("run %d: RunJobs ran %d jobs, want 1", runs+1, n)
					}
					job = e.onlyJob(t, "flaky")
					if job.Values["statecode"] == instance.JobCompleted {
						break
					}
					// Waiting for a retry, with the error and a pause.
					retries, _ := job.Values["retrycount"].(int64)
					if job.Values["statuscode"] != instance.JobWaiting || retries != int64(runs+1) {
						t.Fatalf("run %d: job status %v retrycount %v, want waiting (%d) and %d", runs+1, job.Values["statuscode"], job.Values["retrycount"], instance.JobWaiting, runs+1)
					}
					if msg, _ := job.Values["message"].(string); !strings.Contains(msg, errorText(tc.err, tc.unregister)) {
						t.Errorf("run %d: job message %q, want the step's error", runs+1, msg)
					}
					until, ok := job.Values["postponeuntil"].(time.Time)
					if !ok || !until.After(clk.Now()) {
						t.Fatalf("run %d: postponeuntil %v, want after now %v", runs+1, job.Values["postponeuntil"], clk.Now())
					}
					pauses = append(pauses, until.Sub(clk.Now()))
					// Not before the pause ends...
					if n := e.in.RunJobs(ctx); n != 0 {
						t.Fatalf("run %d: RunJobs ran %d postponed jobs, want 0", runs+1, n)
					}
					clk.Set(until.Add(-time.Second))
					if n := e.in.RunJobs(ctx); n != 0 {
						t.Fatalf("run %d: RunJobs ran a job a second before its pause ended", runs+1)
					}
					// ...and as soon as it does.
					clk.Set(until)
				}
				if got := int(attempts.Load()); got != tc.attempts {
					t.Errorf("the step ran %d times, want %d", got, tc.attempts)
				}
				wantRuns := tc.attempts
				if tc.unregister {
					wantRuns = instance.MaxJobAttempts
				}
				if runs+1 != wantRuns {
					t.Errorf("the job ran %d times, want %d", runs+1, wantRuns)
				}
				for i := 1; i < len(pauses); i++ {
					if pauses[i] <= pauses[i-1] {
						t.Errorf("retry pauses %v do not grow", pauses)
						break
					}
				}
				if job.Values["statuscode"] != tc.status || job.Values["statecode"] != instance.JobCompleted || job.Values["completedon"] == nil {
					t.Errorf("job ended with status %v state %v completedon %v, want status %d completed", job.Values["statuscode"], job.Values["statecode"], job.Values["completedon"], tc.status)
				}
				if tc.status == instance.JobFailed {
					if job.Values["message"] != tc.message || job.Values["friendlymessage"] != tc.message {
						t.Errorf("failed job message %q friendlymessage %q, want %q", job.Values["message"], job.Values["friendlymessage"], tc.message)
					}
					if job.Values["retrycount"] != int64(instance.MaxJobAttempts) {
						t.Errorf("failed job retrycount %v, want %d", job.Values["retrycount"], instance.MaxJobAttempts)
					}
					// Failed jobs are listed as a client lists them:
					// asyncoperations?$filter=statuscode eq 31.
					failed := e.queryJobs(t, statusIs(job, instance.JobFailed))
					if len(failed) != 1 || failed[0].ID != job.ID {
						t.Errorf("RetrieveMultiple of failed jobs = %d records, want this job", len(failed))
					}
				}
				// A completed job never runs again.
				clk.Set(clk.Now().Add(24 * time.Hour))
				if n := e.in.RunJobs(ctx); n != 0 {
					t.Errorf("RunJobs ran %d completed jobs", n)
				}
			})
		}
	})
}

func errorText(err error, unregistered bool) string {
	if unregistered {
		return "no longer registered"
	}
	return err.Error()
}

// runOneJob runs the queued jobs, which must be one, and returns what the
// recorder saw of it: the step must have run once.
func runOneJob(tb testing.TB, ctx context.Context, e *env, rec *recorder) observation {
	tb.Helper()
	if n := e.in.RunJobs(ctx); n != 1 {
		tb.Fatalf("RunJobs ran %d jobs, want 1", n)
	}
	obs := rec.all()
	if len(obs) != 1 {
		tb.Fatalf("the step ran %d times, want 1", len(obs))
	}
	return obs[0]
}

// failNope is a step that fails with the plugin error "nope".
func failNope(context.Context, *eventual.ExecutionContext) error {
	return &eventual.PluginError{Message: "nope"}
}

// upsertNewAccount upserts an account "u" under a new id: an Upsert that
// creates.
func upsertNewAccount(ctx context.Context, e *env) error {
	id := uuid.New()
	_, _, err := e.in.Upsert(ctx, eventual.Ref(e.account, id), &eventual.Entity{Table: e.account, ID: id, Values: eventual.Values{"name": "u"}}, eventual.Condition{})
	return err
}

// createAccount creates an account "c".
func createAccount(ctx context.Context, e *env) error {
	_, err := e.in.Create(ctx, &eventual.Entity{Table: e.account, Values: eventual.Values{"name": "c"}})
	return err
}

func TestJobsRolledBackOperationQueuesNoJob(t *testing.T) {
	cases := []struct {
		name string
		// setup registers the steps; the async step is "job".
		setup func(t *testing.T, e *env, job eventual.PluginFunc)
		run   func(ctx context.Context, e *env) error
		jobs  int
	}{
		{
			name: "control: Upsert queues its inner Create's job",
			setup: func(t *testing.T, e *env, job eventual.PluginFunc) {
				e.register(t, asyncStep("job", eventual.MessageCreate, "account", job))
			},
			run:  upsertNewAccount,
			jobs: 1,
		},
		{
			name: "Upsert PostOperation fails after the inner Create queued its job",
			setup: func(t *testing.T, e *env, job eventual.PluginFunc) {
				e.register(t, asyncStep("job", eventual.MessageCreate, "account", job))
				e.register(t, syncStep("fail", eventual.MessageUpsert, "account", eventual.PostOperation, failNope))
			},
			run: upsertNewAccount,
		},
		{
			name: "PreOperation fails",
			setup: func(t *testing.T, e *env, job eventual.PluginFunc) {
				e.register(t, asyncStep("job", eventual.MessageCreate, "account", job))
				e.register(t, syncStep("fail", eventual.MessageCreate, "account", eventual.PreOperation, failNope))
			},
			run: createAccount,
		},
		{
			name: "a nested operation's job, then the caller fails",
			setup: func(t *testing.T, e *env, job eventual.PluginFunc) {
				e.register(t, asyncStep("job", eventual.MessageCreate, "contact", job))
				e.register(t, syncStep("nest-then-fail", eventual.MessageCreate, "account", eventual.PostOperation, func(ctx context.Context, ec *eventual.ExecutionContext) error {
					if _, err := ec.Service.Create(ctx, &eventual.Entity{Table: e.contact, Values: eventual.Values{"lastname": "nested"}}); err != nil {
						return err
					}
					return &eventual.PluginError{Message: "nope"}
				}))
			},
			run: createAccount,
		},
		{
			name: "a failing batch in a session",
			setup: func(t *testing.T, e *env, job eventual.PluginFunc) {
				e.register(t, asyncStep("job", eventual.MessageCreate, "account", job))
			},
			run: func(ctx context.Context, e *env) error {
				return e.in.Atomic(ctx, func(s eventual.RecordService) error {
					if _, err := s.Create(ctx, &eventual.Entity{Table: e.account, Values: eventual.Values{"name": "in batch"}}); err != nil {
						return err
					}
					return errors.New("the batch fails")
				})
			},
		},
	}
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e := open(t)
				ctx := testContext(t)
				var ran atomic.Int32
				tc.setup(t, e, func(context.Context, *eventual.ExecutionContext) error {
					ran.Add(1)
					return nil
				})
				err := tc.run(ctx, e)
				if (err == nil) != (tc.jobs > 0) {
					t.Fatalf("operation error %v, want failure: %v", err, tc.jobs == 0)
				}
				if got := len(e.jobsOf(t, "job")); got != tc.jobs {
					t.Errorf("%d jobs queued, want %d", got, tc.jobs)
				}
				if n := e.in.RunJobs(ctx); n != tc.jobs || int(ran.Load()) != tc.jobs {
					t.Errorf("RunJobs ran %d jobs, the step %d times; want %d", n, ran.Load(), tc.jobs)
				}
			})
		}
	})
}

func TestJobsImagesAndFilteringAttributes(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		e := open(t)
		ctx := testContext(t)
		id := e.mustCreate(t, e.account, eventual.Values{"name": "before", "revenue": mustDecimal(t, "12.50")})
		var rec recorder
		st := asyncStep("images", eventual.MessageUpdate, "account", rec.plugin(false))
		st.FilteringAttributes = []string{"telephone1"}
		st.Images = []eventual.Image{
			{Alias: "pre", Kind: eventual.PreImage, Columns: []string{"name", "telephone1", "revenue"}},
			{Alias: "post", Kind: eventual.PostImage},
		}
		e.register(t, st)
		if _, err := e.in.Update(ctx, eventual.Ref(e.account, id), eventual.Values{"name": "not filtered"}, eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		if n := len(e.jobsOf(t, "images")); n != 0 {
			t.Fatalf("an update outside the filtering attributes queued %d jobs", n)
		}
		if _, err := e.in.Update(ctx, eventual.Ref(e.account, id), eventual.Values{"name": "after", "telephone1": "555-0100"}, eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		o := runOneJob(t, ctx, e, &rec)
		if o.message != eventual.MessageUpdate || o.id != id {
			t.Errorf("job context %s %s, want Update %s", o.message, o.id, id)
		}
		if o.target == nil || o.target.Values["telephone1"] != "555-0100" || o.target.Values["name"] != "after" {
			t.Errorf("Target = %+v, want the update's values", o.target)
		}
		pre, post := o.pre["pre"], o.post["post"]
		if pre == nil || post == nil {
			t.Fatalf("job images pre %v post %v, want both", pre, post)
		}
		if pre.ID != id || pre.Values["name"] != "not filtered" || pre.Values["telephone1"] != nil || !decimalIs(pre.Values["revenue"], "12.50") || len(pre.Values) != 3 {
			t.Errorf("pre-image = %v, want name 'not filtered', no telephone1, revenue 12.50 only", pre.Values)
		}
		if post.ID != id || post.Values["name"] != "after" || post.Values["telephone1"] != "555-0100" || !decimalIs(post.Values["revenue"], "12.50") {
			t.Errorf("post-image = %v, want the record after the update", post.Values)
		}
		if _, ok := post.Values["createdon"].(time.Time); !ok {
			t.Errorf("post-image createdon = %#v, want a time", post.Values["createdon"])
		}
	})
}

func mustDecimal(tb testing.TB, s string) eventual.Decimal {
	tb.Helper()
	d, err := eventual.ParseDecimal(s, 2)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

func decimalIs(v any, s string) bool {
	d, ok := v.(eventual.Decimal)
	return ok && d.String() == s
}

// The runner's own bookkeeping (claiming a job, recording its outcome)
// updates asyncoperation records. Steps registered on Update of every
// table must not run for it: an asynchronous one would queue a job for
// each claim and outcome, and the queue would feed itself for ever.
func TestJobsRunnerBookkeepingRunsNoSteps(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		e, clk, ctx := openClocked(t, open)
		id := e.mustCreate(t, e.account, eventual.Values{"name": "x"})
		var asyncRuns, syncOnJobs atomic.Int32
		e.register(t, asyncStep("every-update", eventual.MessageUpdate, "", func(context.Context, *eventual.ExecutionContext) error {
			asyncRuns.Add(1)
			return nil
		}))
		e.register(t, syncStep("every-update-sync", eventual.MessageUpdate, "", eventual.PreOperation, func(ctx context.Context, ec *eventual.ExecutionContext) error {
			if ec.PrimaryEntityName == "asyncoperation" {
				syncOnJobs.Add(1)
			}
			return nil
		}))
		if _, err := e.in.Update(ctx, eventual.Ref(e.account, id), eventual.Values{"name": "y"}, eventual.Condition{}); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			e.in.RunJobs(ctx)
			clk.Set(clk.Now().Add(time.Minute))
		}
		all := e.queryJobs(t, nil)
		failIf(t, len(all) > 1 || syncOnJobs.Load() > 0,
			"instance/jobs.go runJob: the claim and outcome writes go through Instance.Update and so through the pipeline: "+
				"Update steps for every table ran %d times on asyncoperation, and an asynchronous one queued %d jobs from 1 (it grows each RunJobs)",
			syncOnJobs.Load(), len(all))
		if asyncRuns.Load() != 1 || len(all) != 1 || all[0].Values["statuscode"] != instance.JobSucceeded {
			t.Errorf("step ran %d times, %d jobs; want 1 succeeded job", asyncRuns.Load(), len(all))
		}
	})
}

// The asyncoperation message column holds 10,000 characters; a step's
// longer error must still end its attempt, not leave the job in progress.
func TestJobsLongErrorMessage(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		e, clk, ctx := openClocked(t, open)
		e.in.Logger = slog.New(slog.DiscardHandler)
		long := strings.Repeat("x", 20000)
		var attempts atomic.Int32
		e.register(t, asyncStep("long", eventual.MessageCreate, "account", func(context.Context, *eventual.ExecutionContext) error {
			attempts.Add(1)
			return &eventual.PluginError{Message: long}
		}))
		e.mustCreate(t, e.account, eventual.Values{"name": "x"})
		if n := e.in.RunJobs(ctx); n != 1 {
			t.Fatalf("RunJobs ran %d jobs, want 1", n)
		}
		job := e.onlyJob(t, "long")
		if job.Values["statuscode"] == instance.JobInProgress {
			// Show what follows: after each lease the job runs again,
			// and its attempts are never counted.
			for range 2 * instance.MaxJobAttempts {
				clk.Set(clk.Now().Add(instance.JobLease + time.Minute))
				e.in.RunJobs(ctx)
			}
			job = e.onlyJob(t, "long")
			failIf(t, true,
				"instance/jobs.go runJob: an error message over the message column's 10000 characters makes the outcome update fail validation; "+
					"the job stays in progress and is taken over after each JobLease: %d attempts so far, status %v, retrycount %v",
				attempts.Load(), job.Values["statuscode"], job.Values["retrycount"])
		}
		if job.Values["statuscode"] != instance.JobWaiting || job.Values["retrycount"] != int64(1) {
			t.Errorf("job status %v retrycount %v, want waiting and 1", job.Values["statuscode"], job.Values["retrycount"])
		}
	})
}

func TestJobsConcurrentRunnersRunEachJobOnce(t *testing.T) {
	type pair struct {
		name string
		open func(t *testing.T) (a, b *env)
	}
	pairs := []pair{{"sqlite one store two instances", func(t *testing.T) (*env, *env) {
		a := mustOpenEnv(t, stores[0])
		return a, newEnv(a.store, a.schema)
	}}}
	if testpg.DSN() != "" {
		pairs = append(pairs, pair{"postgres two servers", func(t *testing.T) (*env, *env) {
			dsn := testpg.Schema(t, "jobs")
			schema := metadata.Builtin()
			var envs [2]*env
			for i := range envs {
				db, err := postgres.Open(context.Background(), dsn, schema, postgres.Options{})
				if err != nil {
					t.Fatalf("open postgres: %v", err)
				}
				t.Cleanup(func() { db.Close() })
				envs[i] = newEnv(db, schema)
			}
			return envs[0], envs[1]
		}})
	}
	const jobs = 40
	for _, p := range pairs {
		t.Run(p.name, func(t *testing.T) {
			a, b := p.open(t)
			ctx := testContext(t)
			var mu sync.Mutex
			runs := map[uuid.UUID]int{}
			byRunner := map[string]int{}
			for _, x := range []struct {
				e    *env
				name string
			}{{a, "a"}, {b, "b"}} {
				x.e.register(t, asyncStep("once", eventual.MessageCreate, "account", func(ctx context.Context, ec *eventual.ExecutionContext) error {
					mu.Lock()
					defer mu.Unlock()
					runs[ec.PrimaryEntityID]++
					byRunner[x.name]++
					return nil
				}))
			}
			ids := make([]uuid.UUID, jobs)
			for i := range ids {
				ids[i] = a.mustCreate(t, a.account, eventual.Values{"name": fmt.Sprint("job ", i)})
			}
			done := func(e *env) bool {
				n, err := e.in.Count(ctx, e.jobs, statusIs(&eventual.Record{Table: e.jobs}, instance.JobSucceeded))
				return err == nil && n == jobs
			}
			var wg sync.WaitGroup
			for _, e := range []*env{a, b, a, b} {
				wg.Go(func() {
					for ctx.Err() == nil {
						if e.in.RunJobs(ctx) == 0 {
							if done(e) {
								return
							}
							time.Sleep(time.Millisecond)
						}
					}
				})
			}
			wg.Wait()
			if ctx.Err() != nil {
				t.Fatal("runners did not finish in time")
			}
			mu.Lock()
			defer mu.Unlock()
			for i, id := range ids {
				if runs[id] != 1 {
					t.Errorf("job %d ran %d times, want exactly once", i, runs[id])
				}
			}
			if len(runs) != jobs {
				t.Errorf("steps ran for %d records, want %d", len(runs), jobs)
			}
			t.Logf("runner a ran %d jobs, runner b %d", byRunner["a"], byRunner["b"])
		})
	}
}

// An asynchronous step that starts the operation it runs after loops
// through the job queue; the depth carried by each job stops it.
func TestJobsAsyncLoopStopsAtMaxDepth(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		e, clk, ctx := openClocked(t, open)
		e.in.MaxDepth = 3
		var depths []int
		var mu sync.Mutex
		e.register(t, asyncStep("again", eventual.MessageCreate, "account", func(ctx context.Context, ec *eventual.ExecutionContext) error {
			mu.Lock()
			depths = append(depths, ec.Depth)
			mu.Unlock()
			_, err := ec.Service.Create(ctx, &eventual.Entity{Table: e.account, Values: eventual.Values{"name": fmt.Sprint("depth ", ec.Depth+1)}})
			return err
		}))
		e.mustCreate(t, e.account, eventual.Values{"name": "depth 1"})
		for range 20 {
			e.in.RunJobs(ctx)
			clk.Set(clk.Now().Add(time.Hour))
		}
		if n := e.count(t, e.account); n != 3 {
			t.Errorf("%d accounts, want 3 (depths 1 to MaxDepth)", n)
		}
		jobs := e.jobsOf(t, "again")
		if len(jobs) != 3 {
			t.Fatalf("%d jobs, want 3", len(jobs))
		}
		for i, j := range jobs {
			want := instance.JobSucceeded
			if i == 2 {
				want = instance.JobFailed
			}
			if j.Values["statuscode"] != want || j.Values["depth"] != int64(i+1) {
				t.Errorf("job %d: status %v depth %v, want %d and %d", i, j.Values["statuscode"], j.Values["depth"], want, i+1)
			}
		}
		if msg, _ := jobs[2].Values["message"].(string); !strings.Contains(msg, "infinite loop") {
			t.Errorf("last job's message %q, want the loop guard's", msg)
		}
		mu.Lock()
		defer mu.Unlock()
		// Depths 1 and 2 once each, then depth 3 for every attempt.
		if want := []int{1, 2, 3, 3, 3, 3}; !slices.Equal(depths, want) {
			t.Errorf("step ran at depths %v, want %v", depths, want)
		}
	})
}

// A panicking asynchronous step must fail its attempt, not take down the
// runner (and with Start, the process).
func TestJobsPanickingStep(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		e := open(t)
		e.in.Logger = slog.New(slog.DiscardHandler)
		ctx := testContext(t)
		e.register(t, asyncStep("panics", eventual.MessageCreate, "account", func(context.Context, *eventual.ExecutionContext) error {
			panic("plugin bug")
		}))
		e.mustCreate(t, e.account, eventual.Values{"name": "x"})
		panicked := func() (p any) {
			defer func() { p = recover() }()
			e.in.RunJobs(ctx)
			return nil
		}()
		job := e.onlyJob(t, "panics")
		failIf(t, panicked != nil,
			"instance/jobs.go runJob/execJob: a panic in an asynchronous step propagates out of RunJobs (%v), which kills the job runner Start runs and the process, and leaves the job in progress (status %v)",
			panicked, job.Values["statuscode"])
		if job.Values["statuscode"] != instance.JobWaiting || job.Values["retrycount"] != int64(1) {
			t.Errorf("job status %v retrycount %v, want a failed attempt waiting for retry", job.Values["statuscode"], job.Values["retrycount"])
		}
	})
}
