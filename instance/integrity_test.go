package instance_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/eventual-pp/eventual"
	"github.com/eventual-pp/eventual/instance"
	"github.com/google/uuid"
)

// This file tests integrity rules below the Web API, where every caller
// (the Web API, steps, embedding programs) meets them.

func TestUTF16Len(t *testing.T) {
	for _, c := range []struct {
		s    string
		want int
	}{
		{"", 0},
		{"abc", 3},
		{"é", 1},          // two UTF-8 bytes, one unit
		{"€", 1},          // three UTF-8 bytes, one unit
		{"\U0001F600", 2}, // four UTF-8 bytes, a surrogate pair
		{"a\U0001F600b", 4},
		{"\xff", 1}, // an invalid byte counts as U+FFFD
	} {
		if got := eventual.UTF16Len(c.s); got != c.want {
			t.Errorf("UTF16Len(%q) = %d, want %d", c.s, got, c.want)
		}
	}
}

func TestTruncateUTF16(t *testing.T) {
	e := "\U0001F600"
	for _, c := range []struct {
		s    string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abc", 3, "abc"},
		{"abc", 2, "ab"},
		{"abc", 0, ""},
		{e + e, 4, e + e},
		{e + e, 3, e}, // the second emoji would be cut in half
		{"a" + e, 2, "a"},
		{"a" + e, 1, "a"},
		{"é" + e + "x", 3, "é" + e},
	} {
		got := eventual.TruncateUTF16(c.s, c.n)
		if got != c.want || !utf8.ValidString(got) || eventual.UTF16Len(got) > c.n {
			t.Errorf("TruncateUTF16(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}

func TestValidText(t *testing.T) {
	for _, c := range []struct {
		s    string
		want error
	}{
		{"", nil},
		{"plain", nil},
		{"\U0001F600 ok", nil},
		{"a\x00b", eventual.ErrNUL},
		{"\x00", eventual.ErrNUL},
		{"caf\xe9", eventual.ErrInvalidUTF8},
	} {
		if got := eventual.ValidText(c.s); !errors.Is(got, c.want) || (c.want == nil) != (got == nil) {
			t.Errorf("ValidText(%q) = %v, want %v", c.s, got, c.want)
		}
	}
}

func TestStateModel(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		e := open(t)
		ctx := testContext(t)
		for _, c := range []struct {
			t      *eventual.Table
			status int64
			state  int64
		}{
			{e.account, 1, 0}, {e.account, 2, 1},
			{e.jobs, 0, 0}, {e.jobs, 10, 1}, {e.jobs, 22, 2}, {e.jobs, 32, 3},
		} {
			if got, ok := c.t.StatusState(c.status); !ok || got != c.state {
				t.Errorf("%s: StatusState(%d) = %d, %v; want %d", c.t.LogicalName, c.status, got, ok, c.state)
			}
		}
		// Through the instance API too, not only the Web API.
		_, err := e.in.Create(ctx, &eventual.Entity{Table: e.account, Values: eventual.Values{"name": "x", "statecode": int64(1), "statuscode": int64(1)}})
		if eventual.ErrorCode(err) != eventual.CodeInvalidStateCodeStatusCode || eventual.ErrorKind(err) != eventual.KindInvalid {
			t.Errorf("create with statecode 1 and statuscode 1: %v, want InvalidStateCodeStatusCode", err)
		}
		id := e.mustCreate(t, e.account, eventual.Values{"name": "y", "statecode": int64(1)})
		if rec := e.get(t, e.account, id); rec.Values["statuscode"] != int64(2) {
			t.Errorf("statecode 1 alone gave statuscode %v, want 2 (Inactive)", rec.Values["statuscode"])
		}
	})
}

// jobAt queues a job of a step for a new account and returns it.
func (e *env) jobAt(tb testing.TB, step string) *eventual.Record {
	tb.Helper()
	e.mustCreate(tb, e.account, eventual.Values{"name": step})
	jobs := e.jobsOf(tb, step)
	return jobs[len(jobs)-1]
}

// setJob updates a job as a client does, through Instance.Update.
func (e *env) setJob(tb testing.TB, job *eventual.Record, values eventual.Values) error {
	tb.Helper()
	_, err := e.in.Update(testContext(tb), job.Reference(), values, eventual.Condition{})
	return err
}

func TestJobsFromMessages(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		e := open(t)
		ctx := testContext(t)
		var runs atomic.Int32
		e.register(t, asyncStep("counted", eventual.MessageCreate, "account", func(context.Context, *eventual.ExecutionContext) error {
			runs.Add(1)
			return nil
		}))
		job := e.jobAt(t, "counted")
		if job.Values["statecode"] != instance.JobReady || job.Values["statuscode"] != instance.JobWaiting {
			t.Errorf("queued job state %v status %v, want Ready with Waiting For Resources", job.Values["statecode"], job.Values["statuscode"])
		}
		before := e.count(t, e.jobs)

		t.Run("CreateRefused", func(t *testing.T) {
			_, err := e.in.Create(ctx, &eventual.Entity{Table: e.jobs, Values: eventual.Values{"name": "mine"}})
			if eventual.ErrorKind(err) != eventual.KindNotSupported || eventual.ErrorCode(err) != eventual.CodeInvalidOperation {
				t.Errorf("Create asyncoperation: %v, want InvalidOperation (405)", err)
			}
			_, _, err = e.in.Upsert(ctx, eventual.Ref(e.jobs, uuid.New()), &eventual.Entity{Table: e.jobs, Values: eventual.Values{"name": "mine"}}, eventual.Condition{})
			if eventual.ErrorCode(err) != eventual.CodeInvalidOperation {
				t.Errorf("Upsert a new asyncoperation: %v, want InvalidOperation", err)
			}
			// A step's service is code too.
			e.register(t, syncStep("maker", eventual.MessageCreate, "contact", eventual.PreOperation, func(ctx context.Context, ec *eventual.ExecutionContext) error {
				_, err := ec.Service.Create(ctx, &eventual.Entity{Table: e.jobs, Values: eventual.Values{"name": "from a step"}})
				return err
			}))
			defer e.in.Pipeline.Unregister("maker")
			if _, err := e.in.Create(ctx, &eventual.Entity{Table: e.contact, Values: eventual.Values{"lastname": "x"}}); err == nil {
				t.Errorf("a step created a system job")
			}
			if n := e.count(t, e.jobs); n != before {
				t.Errorf("%d jobs, want %d", n, before)
			}
		})

		t.Run("Cancel", func(t *testing.T) {
			if err := e.setJob(t, job, eventual.Values{"statecode": instance.JobCompleted, "statuscode": instance.JobCanceled}); err != nil {
				t.Fatalf("cancel: %v", err)
			}
			if n := e.in.RunJobs(ctx); n != 0 || runs.Load() != 0 {
				t.Errorf("RunJobs ran %d jobs after the cancel (%d step runs)", n, runs.Load())
			}
		})
		e.in.Pipeline.Unregister("counted") // the next accounts queue their own steps only

		t.Run("PauseWhileRunning", func(t *testing.T) {
			started, release := make(chan struct{}), make(chan struct{})
			var paused atomic.Int32
			e.register(t, asyncStep("slow", eventual.MessageCreate, "account", func(context.Context, *eventual.ExecutionContext) error {
				if paused.Add(1) == 1 {
					close(started)
					<-release
				}
				return nil
			}))
			defer e.in.Pipeline.Unregister("slow")
			job := e.jobAt(t, "slow")
			done := make(chan int)
			go func() { done <- e.in.RunJobs(ctx) }()
			<-started
			running := e.get(t, e.jobs, job.ID)
			if running.Values["statecode"] != instance.JobLocked {
				t.Fatalf("running job state %v, want Locked", running.Values["statecode"])
			}
			// Pause: Locked to Suspended, whose default status is Waiting.
			err := e.setJob(t, running, eventual.Values{"statecode": instance.JobSuspended})
			close(release)
			<-done
			if err != nil {
				t.Fatalf("pause: %v", err)
			}
			got := e.get(t, e.jobs, job.ID)
			if got.Values["statecode"] != instance.JobSuspended || got.Values["statuscode"] != instance.JobPaused {
				t.Fatalf("paused job state %v status %v: the runner's outcome overwrote the pause", got.Values["statecode"], got.Values["statuscode"])
			}
			if n := e.in.RunJobs(ctx); n != 0 {
				t.Errorf("RunJobs ran %d paused jobs", n)
			}
			// Resume: Suspended to Ready, with Waiting For Resources.
			if err := e.setJob(t, got, eventual.Values{"statecode": instance.JobReady}); err != nil {
				t.Fatalf("resume: %v", err)
			}
			if n := e.in.RunJobs(ctx); n != 1 || paused.Load() != 2 {
				t.Errorf("RunJobs ran %d jobs after the resume (step ran %d times), want 1 (2)", n, paused.Load())
			}
			if got := e.get(t, e.jobs, job.ID); got.Values["statuscode"] != instance.JobSucceeded {
				t.Errorf("resumed job status %v, want succeeded", got.Values["statuscode"])
			}
		})

		t.Run("QueuedBeforeDataversePairs", func(t *testing.T) {
			// Jobs queued by earlier versions are Ready with Waiting (10);
			// the runner still runs them.
			e.register(t, asyncStep("old", eventual.MessageCreate, "account", func(context.Context, *eventual.ExecutionContext) error { return nil }))
			defer e.in.Pipeline.Unregister("old")
			job := e.jobAt(t, "old")
			err := e.store.Update(ctx, func(tx eventual.Tx) error {
				_, err := tx.Update(ctx, e.jobs, job.ID, eventual.Values{"statuscode": int64(10)})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if n := e.in.RunJobs(ctx); n != 1 {
				t.Errorf("RunJobs ran %d jobs, want the one queued as Ready/Waiting", n)
			}
		})
	})
}

// A step's error is the job's message: text the column can hold, however
// the step words it.
func TestJobsMessageText(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(testing.TB) *env) {
		for _, c := range []struct {
			name, err string
			check     func(msg string) bool
		}{
			{"NUL", "bad\x00thing", func(msg string) bool { return msg == "bad\uFFFDthing" }},
			{"InvalidUTF8", "caf\xe9", func(msg string) bool { return utf8.ValidString(msg) && strings.HasPrefix(msg, "caf") }},
			{"Emoji", strings.Repeat("\U0001F600", 10000), func(msg string) bool {
				return eventual.UTF16Len(msg) <= 10000 && utf8.ValidString(msg) && strings.HasSuffix(msg, "…")
			}},
		} {
			t.Run(c.name, func(t *testing.T) {
				e := open(t)
				ctx := testContext(t)
				e.register(t, asyncStep("fails", eventual.MessageCreate, "account", func(context.Context, *eventual.ExecutionContext) error {
					return &eventual.PluginError{Message: c.err}
				}))
				job := e.jobAt(t, "fails")
				if n := e.in.RunJobs(ctx); n != 1 {
					t.Fatalf("RunJobs ran %d jobs, want 1", n)
				}
				got := e.get(t, e.jobs, job.ID)
				msg, _ := got.Values["message"].(string)
				if got.Values["statuscode"] != instance.JobWaiting || got.Values["retrycount"] != int64(1) || !c.check(msg) {
					t.Errorf("job status %v retrycount %v message of %d units %.40q; want a recorded failed attempt", got.Values["statuscode"], got.Values["retrycount"], eventual.UTF16Len(msg), msg)
				}
			})
		}
	})
}
